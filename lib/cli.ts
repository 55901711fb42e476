#!/usr/bin/env node
/**
 * The `scouter-queue` command: write, read and look into file queues. See USAGE.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { FileQueue } from './filequeue'

const USAGE = `usage:
  scouter-queue ls <dir> [name]        list batch files (every queue under <dir> without a name)
  scouter-queue cat <dir> <name>       print every record still to deliver as a JSON line, taking nothing
  scouter-queue enqueue <dir> <name>   write the JSON lines of stdin into the queue
  scouter-queue dequeue <dir> <name>   take ready batches, print their records as JSON lines, delete them
  scouter-queue recover <dir> <name>   return batches of dead processes to ready, set aside corrupt ones`

function queuesUnder(dir: string): string[] {
  return readdirSync(dir).filter((name) => statSync(join(dir, name)).isDirectory())
}

async function main(args: string[]): Promise<number> {
  const [command, dir, name] = args
  if (command === 'ls' && dir) {
    for (const queue of name ? [name] : queuesUnder(dir)) {
      for (const batch of FileQueue.list({ dir, name: queue })) {
        const rows = FileQueue.read(batch).length
        console.log(`${queue}\t${batch.state}\t${new Date(batch.epoch * 1000).toISOString()}\t${rows} records\t${batch.bytes} bytes\t${batch.path}`)
      }
    }
    return 0
  }
  if (command === 'cat' && dir && name) {
    for (const batch of FileQueue.list({ dir, name })) for (const record of FileQueue.read(batch)) console.log(JSON.stringify(record))
    return 0
  }
  if (command === 'enqueue' && dir && name) {
    const writer = await FileQueue.enqueue({ dir, name })
    let line = 0
    for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      line++
      if (text.trim() === '') continue
      try {
        writer.add(JSON.parse(text))
      } catch (error) {
        console.error(`scouter-queue: line ${line} is not JSON: ${(error as Error).message}`)
        await writer.close()
        return 1
      }
    }
    const report = await writer.close()
    console.error(`${report.published} records written to ${join(dir, name)}`)
    return report.failed > 0 ? 1 : 0
  }
  if (command === 'recover' && dir && name) {
    const report = await FileQueue.recover({ dir, name })
    console.log(JSON.stringify(report))
    return 0
  }
  if (command === 'dequeue' && dir && name) {
    for await (const record of FileQueue.dequeue({ dir, name })) console.log(JSON.stringify(record))
    return 0
  }
  console.error(USAGE)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(`scouter-queue: ${error.code ?? ''} ${error.message}`)
    process.exitCode = 1
  },
)
