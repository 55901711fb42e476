import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { ExecutionContext } from 'ava'

import { FileQueue } from '../lib'

export const CREDIT = join(__dirname, 'fixtures', 'credit.json')
export const QUALITY = join(__dirname, 'fixtures', 'quality.json')

/** A fresh folder for one test, removed when the test ends. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'scouter-queue-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every committed record of a queue, across its batch files, without taking them. */
export function recordsOnDisk(dir: string, name: string): Record<string, any>[] {
  return FileQueue.list({ dir, name }).flatMap((batch) => FileQueue.read(batch) as Record<string, any>[])
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
