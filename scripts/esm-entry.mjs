// Writes dist/index.mjs, the ESM entry: it re-exports the CommonJS build by
// name, so `import { ScouterQueue } from 'scouter-queue'` works in both worlds
// with one copy of the code (and one native module instance).
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const names = Object.keys(require('../dist/index.js')).filter((name) => name !== '__esModule')
writeFileSync(
  new URL('../dist/index.mjs', import.meta.url),
  `import cjs from './index.js'\nexport const { ${names.join(', ')} } = cjs\nexport default cjs\n`,
)
