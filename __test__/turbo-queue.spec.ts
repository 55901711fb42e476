import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

import test from 'ava'

import { FileQueue } from '../lib'
import { tempDir } from './helpers'

// Turbo Queue itself, from PyPI, in a cached virtualenv.
const python = execFileSync(join(__dirname, '..', 'scripts', 'turbo-queue-python.sh'), { encoding: 'utf8' }).trim()
const interop = join(__dirname, 'children', 'turbo_queue_interop.py')

test('scouter-queue reads the batches Turbo Queue writes', async (t) => {
  const dir = tempDir(t)
  // In the test's folder: Turbo Queue writes a log file into its working directory.
  execFileSync(python, [interop, 'enqueue', dir, 'shared', '1050'], { stdio: 'ignore', cwd: dir })
  t.is(FileQueue.list({ dir, name: 'shared' }).filter((b) => b.state === 'ready').length, 11)
  const records: { n: number }[] = []
  for await (const record of FileQueue.dequeue({ dir, name: 'shared', recover: false })) records.push(record as { n: number })
  t.deepEqual(
    records.map((r) => r.n).sort((a, b) => a - b),
    Array.from({ length: 1050 }, (_, n) => n),
  )
})

test('Turbo Queue reads the batches scouter-queue writes', async (t) => {
  const dir = tempDir(t)
  const writer = await FileQueue.enqueue({ dir, name: 'shared', maxEventsPerFile: 100 })
  for (let n = 0; n < 1050; n++) writer.add({ n, text: 'é"\n' })
  await writer.close()
  const lines = execFileSync(python, [interop, 'dequeue', dir, 'shared'], { encoding: 'utf8', cwd: dir }).trim().split('\n')
  const records = lines.map((line) => JSON.parse(line) as { n: number; text: string })
  t.deepEqual(
    records.map((r) => r.n).sort((a, b) => a - b),
    Array.from({ length: 1050 }, (_, n) => n),
  )
  t.true(records.every((r) => r.text === 'é"\n'))
  t.deepEqual(FileQueue.list({ dir, name: 'shared' }), [], 'Turbo Queue deleted every batch it read')
})
