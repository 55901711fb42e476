// A process writing records {w, i} into a file queue. Args: <dir> <name> <writer id> <count or 'forever'>
// [commitEveryRows]. Prints "committed <n>" whenever the committed count grows, so a parent that kills it
// knows a lower bound of what must survive. With 'hold', it writes <count> rows and waits to be killed.
const { FileQueue } = require('../../dist/index.js')

const [dir, name, id, count, commitEveryRows = '100', mode = 'run'] = process.argv.slice(2)
const total = count === 'forever' ? Infinity : Number(count)

FileQueue.enqueue({ dir, name, maxEventsPerFile: 500, commitEveryRows: Number(commitEveryRows), commitEveryMs: 20, maxBatchAgeMs: mode === 'hold' ? 600_000 : 1000 }).then(async (writer) => {
  let printed = -1
  const progress = () => {
    const { published } = writer.report()
    if (published !== printed) process.stdout.write(`committed ${(printed = published)}\n`)
  }
  const timer = setInterval(progress, 10)
  for (let i = 0; i < total; i++) {
    writer.add({ w: Number(id), i })
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1))
  }
  if (mode === 'hold') {
    writer.flush()
    await new Promise((r) => setTimeout(r, 300))
    progress()
    process.stdout.write('holding\n')
    return // the timer keeps the process alive until it is killed
  }
  await writer.close()
  clearInterval(timer)
  progress()
})
