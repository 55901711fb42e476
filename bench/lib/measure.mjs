// What the broker benchmarks measure in each client's own process: the JavaScript thread's CPU
// (not the process's: Rust threads do scouter-queue's work), event-loop delay, and peak RSS.
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const TICKS_PER_SECOND = 100

/** CPU seconds used by the main (JavaScript) thread so far, from /proc (Linux). */
function jsThreadCpuSeconds() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

function peakRssBytes() {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))
  return Number(line.split(/\s+/)[1]) * 1024
}

/** Runs `work()` and prints one JSON line of measurements for `records` records (the caller adds MB/s, knowing the sizes). */
export async function measure(records, work) {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const cpu = jsThreadCpuSeconds()
  const start = performance.now()
  await work()
  const seconds = (performance.now() - start) / 1000
  delay.disable()
  process.stdout.write(
    JSON.stringify({
      recordsPerSecond: records / seconds,
      jsCpuUsPerRecord: ((jsThreadCpuSeconds() - cpu) * 1e6) / records,
      p99DelayMs: delay.percentile(99) / 1e6,
      peakRssMb: peakRssBytes() / 1e6,
    }) + '\n',
  )
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
