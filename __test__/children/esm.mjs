// ESM users import by name from the package entry.
import { ScouterQueue, Metrics, FileQueueConfig } from '../../dist/index.mjs'

const [dir, profile] = process.argv.slice(2)
const queue = await ScouterQueue.fromPath({ quality: profile }, new FileQueueConfig({ dir }))
queue.get('quality').insert(Metrics.from({ mae: 1.5 }))
console.log(JSON.stringify(await queue.shutdown()))
