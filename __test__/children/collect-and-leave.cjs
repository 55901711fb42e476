// A process that sends one payload to a transport collector, prints its
// results and leaves without shutdown. Only the event in flight keeps it
// alive; at exit the queue flushes the transport. Args: <data dir>.
const { CollectorQueue, Collector, FileQueueConfig } = require('../../dist/index.js')

async function main() {
  const stream = Collector.fromTransport('stream', new FileQueueConfig({ dir: process.argv[2] }))
  const cq = await CollectorQueue.start({ collectors: [stream] })
  const results = await cq.publisher().send({ id: 1 }).wait()
  process.stdout.write(JSON.stringify(results))
}

main()
