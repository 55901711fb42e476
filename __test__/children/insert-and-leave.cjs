// A user's process that inserts and then leaves in one of several ways,
// without calling shutdown itself. Args: <data dir> <count> <how>.
const { ScouterQueue, Features, FileQueueConfig } = require('../../dist/index.js')

const [dir, count, how] = process.argv.slice(2)
const profile = require('node:path').join(__dirname, '..', 'fixtures', 'credit.json')

// Raw records, so the test can find every inserted id on disk.
ScouterQueue.fromPath({ credit: profile }, new FileQueueConfig({ dir }), { aggregate: false }).then((queue) => {
  if (how === 'sigterm') queue.installShutdownHooks()
  const credit = queue.get('credit')
  const bound = credit.bind({ id: 'int' })
  for (let i = 0; i < Number(count); i++) {
    if (i % 2 === 0) credit.insert(Features.from({ id: i }))
    else bound.insert([i])
  }
  if (how === 'exit') process.exit(0)
  if (how === 'sigterm') {
    setInterval(() => {}, 1000) // a server: something keeps the process alive until the signal
    process.kill(process.pid, 'SIGTERM')
  }
  // 'natural': nothing left to do, the event loop empties and the process ends.
})
