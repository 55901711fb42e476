import { join } from 'node:path'

import test from 'ava'

import { QUALITY, recordsOnDisk, runNode, tempDir } from './helpers'

const child = join(__dirname, 'children', 'insert-and-leave.cjs')

function ids(dir: string): number[] {
  return recordsOnDisk(dir, 'credit')
    .map((r) => r.features[0].Int.value as number)
    .sort((a, b) => a - b)
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => i)

test('a process that inserts and never calls shutdown exits by itself with every record on disk', async (t) => {
  const dir = tempDir(t)
  const exit = await runNode([child, dir, '20000', 'natural'])
  t.is(exit.code, 0, exit.stderr)
  t.deepEqual(ids(dir), expected(20000))
})

test('process.exit() right after inserting still leaves every record on disk', async (t) => {
  const dir = tempDir(t)
  const exit = await runNode([child, dir, '20000', 'exit'])
  t.is(exit.code, 0, exit.stderr)
  t.deepEqual(ids(dir), expected(20000))
})

test('installShutdownHooks shuts down on SIGTERM, then lets the signal end the process', async (t) => {
  const dir = tempDir(t)
  const exit = await runNode([child, dir, '20000', 'sigterm'])
  t.is(exit.signal, 'SIGTERM', exit.stderr)
  t.deepEqual(ids(dir), expected(20000))
})

test('ESM users import the package by name and get the same API', async (t) => {
  const dir = tempDir(t)
  const exit = await runNode([join(__dirname, 'children', 'esm.mjs'), dir, QUALITY])
  t.is(exit.code, 0, exit.stderr)
  t.like(JSON.parse(exit.stdout).quality, { inserted: 1, published: 1 })
  t.like(recordsOnDisk(dir, 'quality')[0].records[0], { Custom: { metric: 'mae', value: 1.5 } })
})
