import { readFileSync } from 'node:fs'
import { createServer, IncomingMessage, ServerResponse } from 'node:http'
import { AddressInfo } from 'node:net'
import { join } from 'node:path'

import test, { ExecutionContext } from 'ava'

import { Features, HttpConfig, HttpOptions, Metrics, ScouterQueue, ScouterQueueError } from '../lib'
import { CREDIT, QUALITY, recordsOnDisk, sleep, tempDir } from './helpers'

const VITALS = join(__dirname, 'fixtures', 'vitals.json')
const GOLDEN = join(__dirname, '..', 'crates', 'scouter-queue-core', 'tests', 'golden')
const GOLDEN_TIME = '2026-03-26T10:15:30.123456Z'

interface FakeScouterOptions {
  /** Statuses to answer to the next accepted-looking POSTs before accepting; a 401 also expires the token. */
  replies?: number[]
  /** Hand this token back in `Authorization` on the first accepted POST, and accept only it from then on. */
  renewTo?: string
  /** A token valid from the start (as if issued beforehand). */
  issued?: string
}

/**
 * Scouter's two endpoints on 127.0.0.1, port 0: `GET /scouter/auth/login` checks the `Username` and `Password`
 * headers and issues a token; `POST /scouter/message` takes only the current token.
 */
async function fakeScouter(t: ExecutionContext, options: FakeScouterOptions = {}) {
  const state = {
    url: '',
    /** Bodies of the accepted POSTs, as received. */
    bodies: [] as string[],
    /** Every request, as `GET login 200` or `POST 401`. */
    log: [] as string[],
    logins: 0,
    connections: 0,
    token: options.issued as string | undefined,
  }
  const replies = [...(options.replies ?? [])]
  const answer = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    for await (const chunk of req) body += chunk
    if (req.method === 'GET' && req.url === '/scouter/auth/login') {
      if (req.headers.username !== 'scouter' || req.headers.password !== 'secret') {
        state.log.push('GET login 401')
        return answer(res, 401, { detail: 'bad credentials' })
      }
      state.token = `token-${++state.logins}`
      state.log.push('GET login 200')
      return answer(res, 200, { token: state.token })
    }
    if (req.method === 'POST' && req.url === '/scouter/message') {
      if (state.token === undefined || req.headers.authorization !== `Bearer ${state.token}`) {
        state.log.push('POST 401')
        return answer(res, 401, { detail: 'invalid token' })
      }
      const status = replies.shift()
      if (status !== undefined) {
        state.log.push(`POST ${status}`)
        if (status === 401) state.token = undefined
        return answer(res, status, { status: 'error', message: `answered ${status} on purpose` }, status === 429 ? { 'retry-after': '0' } : {})
      }
      state.log.push('POST 200')
      state.bodies.push(body)
      const renew: Record<string, string> = {}
      if (options.renewTo !== undefined && state.token !== options.renewTo) {
        state.token = options.renewTo
        renew.authorization = `Bearer ${options.renewTo}`
      }
      return answer(res, 200, { status: 'success', message: 'Message received' }, renew)
    }
    answer(res, 404, { detail: 'not found' })
  })
  server.on('connection', () => state.connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return state
}

function http(url: string, options: HttpOptions = {}): HttpConfig {
  return new HttpConfig({ serverUri: url, username: 'scouter', password: 'secret', ...options })
}

/** The body with every `created_at` set to the golden files' value. */
const normalized = (body: string) => body.replace(/"created_at":"[^"]+"/g, `"created_at":"${GOLDEN_TIME}"`)
const golden = (name: string) => readFileSync(join(GOLDEN, name), 'utf8').trim()

test("drift records reach the server byte for byte as Scouter's client sends them, with the token from one login", async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT, vitals: VITALS, quality: QUALITY }, http(scouter.url), { spillDir: dir })
  queue.get('credit').insert(Features.from({ age: 25 }))
  queue.get('credit').insert(Features.from({ age: 30 }))
  queue.get('vitals').insert(Features.from({ age: 1, income: 0.1 + 0.2 }))
  queue.get('quality').insert(Metrics.from({ mae: 1e21, mape: -2.5e-7 }))
  const report = await queue.shutdown()

  t.like(report, { credit: { inserted: 2, published: 2, spilled: 0 }, vitals: { published: 1 }, quality: { published: 1 } })
  t.is(scouter.logins, 1, 'one login for every alias')
  const byKind = (kind: string) => scouter.bodies.find((b) => b.startsWith(`{"records":[{"${kind}"`))!
  t.is(normalized(byKind('Psi')), golden('psi.http.json'))
  t.is(normalized(byKind('Spc')), golden('spc.http.json'))
  t.is(normalized(byKind('Custom')), golden('custom.http.json'))
  t.regex(JSON.parse(byKind('Psi')).records[0].Psi.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/)
})

test('401, 500 and 429 before accepting: logs in again once, retries with backoff, and delivers exactly once', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t, { replies: [401, 500, 429] })
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url), { spillDir: dir })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  for (let i = 0; i < 10; i++) queue.get('credit').insert(Features.from({ age: 40 + i }))
  const report = await queue.shutdown()

  t.like(report.credit, { inserted: 10, published: 10, spilled: 0, failed: 0 })
  t.deepEqual(scouter.log, ['GET login 200', 'POST 401', 'GET login 200', 'POST 500', 'POST 429', 'POST 200'])
  t.is(scouter.bodies.length, 1)
  t.deepEqual(JSON.parse(scouter.bodies[0]).records.map((r: any) => [r.Psi.bin_id, r.Psi.bin_count]), [[1, 0], [2, 10], [3, 0]])
  t.deepEqual(errors, [])
})

test('a token the server renews in the Authorization header is the one sent next', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t, { renewTo: 'renewed' })
  const profile = JSON.parse(readFileSync(QUALITY, 'utf8'))
  profile.config.sample_size = 1
  const queue = await ScouterQueue.fromProfiles({ quality: profile }, http(scouter.url), { spillDir: dir })
  queue.get('quality').insert(Metrics.from({ mae: 1 }))
  while (queue.report().quality.published < 1) await sleep(10)
  queue.get('quality').insert(Metrics.from({ mae: 2 }))
  t.like((await queue.shutdown()).quality, { published: 2 })
  t.deepEqual(scouter.log, ['GET login 200', 'POST 200', 'POST 200'], 'the renewed token was accepted without a new login')
})

test('another 4xx fails the records, counted and reported with the server message', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t, { replies: [422] })
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url), { spillDir: dir })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  for (let i = 0; i < 3; i++) queue.get('credit').insert(Features.from({ age: i }))
  const report = await queue.shutdown()
  await sleep(50)

  t.like(report.credit, { inserted: 3, published: 0, spilled: 0, failed: 3 })
  t.deepEqual(scouter.log, ['GET login 200', 'POST 422'], 'not retried')
  t.like(errors[0], { code: 'ERR_TRANSPORT', alias: 'credit', items: 3 })
  t.regex(errors[0].message, /422.*answered 422 on purpose/)
})

test('an unreachable server: the queue starts, and the records are spilled, counted and on disk', async (t) => {
  const dir = tempDir(t)
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise((resolve) => closed.close(resolve))

  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(`http://127.0.0.1:${port}`, { maxRetries: 1 }), { spillDir: dir })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  for (let i = 0; i < 10; i++) queue.get('credit').insert(Features.from({ age: 45, income: 100 * i }))
  const report = await queue.shutdown()
  await sleep(50)

  t.like(report.credit, { inserted: 10, published: 0, spilled: 10, failed: 0 })
  const onDisk = recordsOnDisk(dir, 'credit').flatMap((message) => message.records)
  t.is(onDisk.filter((r: any) => r.Psi.feature === 'age').reduce((sum: number, r: any) => sum + r.Psi.bin_count, 0), 10)
  t.like(errors[0], { code: 'ERR_TRANSPORT', items: 0 })
  t.regex(errors[0].message, /cannot reach http:\/\/127\.0\.0\.1:\d+.*after 2 attempts.*spill/)
})

test('credentials the server refuses fail the start with ERR_START_FAILED', async (t) => {
  const scouter = await fakeScouter(t)
  const error = await t.throwsAsync(ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url, { password: 'wrong' }), { spillDir: tempDir(t) }), {
    instanceOf: ScouterQueueError,
  })
  t.is(error!.code, 'ERR_START_FAILED')
  t.regex(error!.message, /'credit'.*login refused with 401.*bad credentials/)
})

test('a given authToken is used without a login', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t, { issued: 'issued-before' })
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url, { authToken: 'issued-before' }), { spillDir: dir })
  queue.get('credit').insert(Features.from({ age: 1 }))
  t.like((await queue.shutdown()).credit, { published: 1 })
  t.deepEqual(scouter.log, ['POST 200'])
})

test('connections are kept alive: a hundred posts over a handful of connections', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t)
  // Raw records are not merged into one post, so each is a request.
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url), { aggregate: false, spillDir: dir })
  for (let i = 0; i < 100; i++) queue.get('credit').insert(Features.from({ id: i }))
  t.like((await queue.shutdown()).credit, { published: 100 })
  t.is(scouter.bodies.length, 100)
  t.true(scouter.connections <= 5, `${scouter.connections} connections`)
})

test('a server that never answers: shutdown keeps its deadline and spills what is in flight', async (t) => {
  const dir = tempDir(t)
  const scouter = await fakeScouter(t)
  // Logins are answered (by the fake Scouter); messages never are.
  const silent = createServer(async (req, res) => {
    if (req.url !== '/scouter/auth/login') return
    const answer = await fetch(`${scouter.url}${req.url}`, { headers: { username: 'scouter', password: 'secret' } })
    res.writeHead(answer.status, { 'content-type': 'application/json' })
    res.end(await answer.text())
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    silent.closeAllConnections()
    silent.close()
  })
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, http(url), { aggregate: false, spillDir: dir })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  for (let i = 0; i < 20; i++) queue.get('credit').insert(Features.from({ id: i }))
  await sleep(200)
  const started = Date.now()
  const report = await queue.shutdown({ timeoutMs: 500 })
  t.true(Date.now() - started < 3000, `shutdown took ${Date.now() - started} ms`)
  t.like(report.credit, { inserted: 20, published: 0, spilled: 20 })
  t.is(recordsOnDisk(dir, 'credit').length, 20)
  t.deepEqual(errors, [], 'a shutdown deadline is not an error: the report says what was spilled')
})

test('what an unreachable server could not take is replayed on the next start, once it answers', async (t) => {
  const dir = tempDir(t)
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise((resolve) => closed.close(resolve))
  const down = await ScouterQueue.fromPath({ credit: CREDIT }, http(`http://127.0.0.1:${port}`, { maxRetries: 0 }), { spillDir: dir })
  down.on('error', () => {})
  for (let i = 0; i < 10; i++) down.get('credit').insert(Features.from({ age: 45, income: 100 * i }))
  t.like((await down.shutdown()).credit, { inserted: 10, spilled: 10 })

  const scouter = await fakeScouter(t)
  const up = await ScouterQueue.fromPath({ credit: CREDIT }, http(scouter.url), { spillDir: dir })
  const end = Date.now() + 10_000
  while (up.report().credit.replayed === 0 && Date.now() < end) await sleep(50)
  const report = await up.shutdown()
  t.true(report.credit.replayed > 0)
  const received = scouter.bodies.flatMap((body) => JSON.parse(body).records)
  t.is(received.filter((r: any) => r.Psi.feature === 'age').reduce((sum: number, r: any) => sum + r.Psi.bin_count, 0), 10)
  t.deepEqual(recordsOnDisk(dir, 'credit'), [], 'the spill queue is empty once replayed')
})
