import { ChildProcess, spawn } from 'node:child_process'
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

/** A child Node process whose output lines are collected. */
export interface Child {
  readonly process: ChildProcess
  readonly lines: string[]
  readonly stderr: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with the first output line matching `pattern`, once it appears. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
}

/** Starts `node <args>`; the test fails rather than hangs if it is still running when the test ends. */
export function startNode(t: ExecutionContext, args: string[]): Child {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  let partial = ''
  const watchers: { pattern: RegExp; resolve: (line: string) => void }[] = []
  child.stdout!.on('data', (data: Buffer) => {
    const parts = (partial + data.toString()).split('\n')
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      for (const w of watchers.filter((w) => w.pattern.test(line))) {
        watchers.splice(watchers.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  child.stderr!.on('data', (data: Buffer) => (stderr += data.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      const found = lines.find((line) => pattern.test(line))
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs)
        watchers.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) })
      })
    },
  }
}

/** How a child process ended, and what it printed. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a child Node process and fails if it has not exited by itself within `limitMs`. */
export function runNode(args: string[], limitMs = 10_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child did not exit within ${limitMs} ms: ${stderr}`))
    }, limitMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
