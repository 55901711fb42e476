#!/usr/bin/env node
/**
 * The `scouter-queue` command: look into a file queue.
 *
 *   scouter-queue ls <dir> [name]        list batch files (every queue under <dir> without a name)
 *   scouter-queue cat <dir> <name>       print every committed record as a JSON line, taking nothing
 *   scouter-queue dequeue <dir> <name>   take ready batches, print their records, delete them
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { FileQueue } from './filequeue'

const USAGE = `usage:
  scouter-queue ls <dir> [name]        list batch files (every queue under <dir> without a name)
  scouter-queue cat <dir> <name>       print every committed record as a JSON line, taking nothing
  scouter-queue dequeue <dir> <name>   take ready batches, print their records as JSON lines, delete them`

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
