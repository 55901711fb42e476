import { readFileSync, existsSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { FileQueue } from '../lib'
import { Child, sleep, startNode, tempDir } from './helpers'

const WRITER = join(__dirname, 'children', 'writer.cjs')
const READER = join(__dirname, 'children', 'reader.cjs')

interface Record {
  w: number
  i: number
}

function handled(out: string): Record[] {
  return existsSync(out)
    ? readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : []
}

const key = (r: Record) => `${r.w}:${r.i}`

function count(records: Record[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of records) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1)
  return counts
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

function lastCommitted(child: Child): number {
  const last = [...child.lines].reverse().find((l) => l.startsWith('committed '))
  return last === undefined ? 0 : Number(last.split(' ')[1])
}

test('4 writers and 8 readers in separate processes deliver every record exactly once', async (t) => {
  const dir = tempDir(t)
  const PER_WRITER = 5000
  const outs = Array.from({ length: 8 }, (_, r) => join(dir, `reader-${r}.jsonl`))
  const readers = outs.map((out) => startNode(t, [READER, dir, 'q', out, '50', 'follow']))
  const writers = [0, 1, 2, 3].map((w) => startNode(t, [WRITER, dir, 'q', String(w), String(PER_WRITER)]))
  for (const writer of writers) t.is((await writer.exited).code, 0, writer.stderr())

  const all = () => outs.flatMap(handled)
  await until(() => all().length >= 4 * PER_WRITER, 60_000, 'every record to be read')
  readers.forEach((r) => r.process.kill('SIGTERM'))
  await Promise.all(readers.map((r) => r.exited))

  const counts = count(all())
  t.is(counts.size, 4 * PER_WRITER)
  t.deepEqual([...counts.values()].filter((n) => n > 1), [], 'no record twice')
  t.true(outs.filter((out) => handled(out).length > 0).length > 1, 'the batches were shared among readers')
  t.deepEqual(FileQueue.list({ dir, name: 'q' }), [], 'every batch deleted')
})

test('writers and readers killed with SIGKILL lose no committed record; duplicates stay within the checkpoint interval', async (t) => {
  const dir = tempDir(t)
  const CHECKPOINT = 20
  const writers = [0, 1].map((w) => startNode(t, [WRITER, dir, 'q', String(w), 'forever', '50']))
  const outs: string[] = []
  let readerKills = 0
  const startReader = () => {
    const out = join(dir, `reader-${outs.length}.jsonl`)
    outs.push(out)
    return startNode(t, [READER, dir, 'q', out, String(CHECKPOINT), 'follow'])
  }
  let readers = [startReader(), startReader(), startReader()]
  await Promise.all(writers.map((w) => w.waitFor(/^committed [1-9]\d{3,}/)))

  // Kill readers at random points, three rounds, replacing them each time.
  for (let round = 0; round < 3; round++) {
    await sleep(150 + Math.random() * 300)
    const victim = readers[Math.floor(Math.random() * readers.length)]
    victim.process.kill('SIGKILL')
    await victim.exited
    readerKills++
    readers = readers.filter((r) => r !== victim).concat(startReader())
  }
  await sleep(Math.random() * 200)
  const committed = []
  for (const writer of writers) {
    writer.process.kill('SIGKILL')
    await writer.exited
    committed.push(lastCommitted(writer))
  }
  for (const reader of readers) {
    reader.process.kill('SIGKILL')
    await reader.exited
    readerKills++
  }

  // Recovery, then one reader drains whatever is left.
  // What the dead left depends on where each was killed; the records below are what must hold.
  const recovery = await FileQueue.recover({ dir, name: 'q' })
  t.log(`recovery returned ${recovery.returned.length} batches, set aside ${recovery.setAside.length}`)
  const last = join(dir, 'reader-final.jsonl')
  outs.push(last)
  t.is((await startNode(t, [READER, dir, 'q', last, String(CHECKPOINT), 'drain']).exited).code, 0)

  const counts = count(outs.flatMap(handled))
  committed.forEach((n, w) => {
    const missing = Array.from({ length: n }, (_, i) => `${w}:${i}`).filter((k) => !counts.has(k))
    t.deepEqual(missing, [], `writer ${w}: its ${n} committed records all delivered`)
  })
  const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0)
  t.log(`committed ${committed.join(' + ')}, delivered ${counts.size} distinct, ${duplicates} duplicates after ${readerKills} reader kills`)
  t.true(duplicates <= readerKills * CHECKPOINT, `${duplicates} duplicates > ${readerKills} x ${CHECKPOINT}`)
})

test('recovery beside a live writer and a live reader steals nothing; after they die it takes their batches', async (t) => {
  const dir = tempDir(t)
  // Two batches for the reader to take one of, and a live writer holding a loading batch.
  const seed = startNode(t, [WRITER, dir, 'q', '9', '1000'])
  t.is((await seed.exited).code, 0)
  const writer = startNode(t, [WRITER, dir, 'q', '1', '120', '10', 'hold'])
  await writer.waitFor(/^holding/)
  const reader = startNode(t, [READER, dir, 'q', join(dir, 'out.jsonl'), '10', 'pause'])
  await reader.waitFor(/^paused/)

  const states = () => FileQueue.list({ dir, name: 'q' }).map((b) => b.state).sort()
  const before = states()
  t.deepEqual(before, ['load', 'ready', 'unload'])
  const beside = await FileQueue.recover({ dir, name: 'q' })
  t.deepEqual(beside, { returned: [], finished: [], setAside: [] })
  t.deepEqual(states(), before)

  writer.process.kill('SIGKILL')
  reader.process.kill('SIGKILL')
  await Promise.all([writer.exited, reader.exited])
  const after = await FileQueue.recover({ dir, name: 'q' })
  t.is(after.returned.length, 2)
  t.deepEqual(states(), ['ready', 'ready', 'ready'])
})

test('a truncated batch is set aside with its reason, and the other batches are still delivered', async (t) => {
  const dir = tempDir(t)
  const writer = await FileQueue.enqueue({ dir, name: 'q', maxEventsPerFile: 400 })
  for (let i = 0; i < 800; i++) writer.add({ i, padding: 'x'.repeat(100) })
  await writer.close()
  const [first, second] = FileQueue.list({ dir, name: 'q' })
  truncateSync(first.path, Math.floor(statSync(first.path).size / 2))

  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const records = []
  for await (const record of FileQueue.dequeue({ dir, name: 'q', recover: false })) records.push(record)

  t.is(records.length, 400, 'the intact batch is delivered')
  t.false(existsSync(second.path))
  const aside = readdirSync(join(dir, 'q', 'aside'))
  t.is(aside.length, 2, aside.join(', '))
  const reason = readFileSync(join(dir, 'q', 'aside', aside.find((f) => f.endsWith('.reason'))!), 'utf8')
  t.regex(reason, /cannot be read|malformed|integrity/)
})

test('maxReadyFiles holds a writer back, visibly, until readers catch up; nothing is lost', async (t) => {
  const dir = tempDir(t)
  const writer = await FileQueue.enqueue({ dir, name: 'q', maxEventsPerFile: 10, maxReadyFiles: 2 })
  const events: boolean[] = []
  writer.on('backpressure', ({ active }) => events.push(active))
  for (let i = 0; i < 100; i++) writer.add({ i })
  await until(() => writer.isBackpressured(), 5000, 'backpressure')
  const ready = FileQueue.list({ dir, name: 'q' }).filter((b) => b.state === 'ready').length
  t.true(ready >= 2 && ready <= 3, `${ready} ready batches`)
  t.true(writer.report().published < 100, 'records are held, not written')

  const read: unknown[] = []
  for await (const record of FileQueue.dequeue({ dir, name: 'q', stopWhenEmpty: false, signal: AbortSignal.timeout(3000) })) {
    read.push(record)
    if (read.length === 100) break
  }
  await until(() => !writer.isBackpressured(), 5000, 'the writer to resume')
  // The event comes through the event loop, after the state it announces.
  await until(() => events.at(-1) === false, 5000, 'the event that it resumed')
  t.true(events.length >= 2)
  t.true(events.every((active, i) => active === (i % 2 === 0)), `events alternate from true: ${events}`)
  t.is(events.at(-1), false)
  const report = await writer.close()
  t.like(report, { inserted: 100, published: 100, failed: 0 })
  t.is(read.length, 100)
})

test('the empty file of a writer killed as it created it is set aside with a reason', async (t) => {
  const dir = tempDir(t)
  const writer = await FileQueue.enqueue({ dir, name: 'q' })
  await writer.close()
  writeFileSync(join(dir, 'q', 'load_1795460000_0b9c3e0e-dead-4000-8000-000000000000.db'), '')
  const recovery = await FileQueue.recover({ dir, name: 'q' })
  t.is(recovery.setAside.length, 1)
  t.regex(recovery.setAside[0].reason, /cannot be read|before committing/)
  t.true(existsSync(join(dir, 'q', 'aside', 'load_1795460000_0b9c3e0e-dead-4000-8000-000000000000.db.reason')))
})
