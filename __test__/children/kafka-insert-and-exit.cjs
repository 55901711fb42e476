// A user's process that publishes to Kafka and calls process.exit() right after inserting,
// without shutdown. Args: <brokers> <topic> <spill dir> <count>.
const { ScouterQueue, Features, KafkaConfig } = require('../../dist/index.js')

const [brokers, topic, spillDir, count] = process.argv.slice(2)
const profile = require('node:path').join(__dirname, '..', 'fixtures', 'credit.json')

ScouterQueue.fromPath({ credit: profile }, new KafkaConfig({ brokers, topic }), { aggregate: false, spillDir }).then((queue) => {
  for (let i = 0; i < Number(count); i++) queue.get('credit').insert(Features.from({ id: i }))
  process.exit(0)
})
