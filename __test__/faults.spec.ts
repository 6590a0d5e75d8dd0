// Faults against a throwaway PostgreSQL of our own: a restart under load, terminated backends,
// unreachable servers, pool exhaustion, statement timeouts, close() with calls in flight, and
// passwords that never leak.
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { freePort, startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { makeSession, sleep } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const APP = 'faults-spec'

let cluster: Throwaway
let config: PostgresConfig

beforeAll(async () => {
  cluster = await startThrowaway({ database: 'faults' })
  config = { ...cluster.target, applicationName: APP, poolSize: 4 }
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

async function admin(text: string, params: unknown[] = []) {
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    return (await client.query(text, params)).rows
  } finally {
    await client.end()
  }
}

/** Rejection of `promise`, or a failure if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  if (outcome === undefined) throw new Error('expected a rejection')
  return outcome as StorageError
}

it('a server restart under load: calls reject with StorageError, then succeed on the same adapter', async () => {
  const adapter = new PostgresStorageAdapter(config)
  await adapter.initialize()
  const shared = makeSession()
  await adapter.saveSession(shared)
  let running = true
  let ok = 0
  const errors: unknown[] = []
  // Readers share one session; each writer saves its own, so no error here is a version conflict:
  // a save that rejected wrote nothing, so the writer retries the same version. Only after
  // E_OUTCOME_UNKNOWN does it read back what is stored.
  const writers: Array<{ id: string; version: number }> = []
  const worker = async (index: number) => {
    const own = { ...makeSession(), version: 0 }
    if (index % 2 === 1) writers.push(own)
    while (running) {
      try {
        if (index % 2 === 0) {
          expect((await adapter.getSession(shared.id))!.id).toBe(shared.id)
        } else {
          await adapter.saveSession({ ...own, version: own.version + 1, updatedAt: new Date() })
          own.version++
        }
        ok++
      } catch (error) {
        errors.push(error)
        if (error instanceof StorageError && error.code === 'E_OUTCOME_UNKNOWN') {
          for (;;) {
            const stored = await adapter.getSession(own.id).catch(() => undefined)
            if (stored !== undefined) {
              own.version = stored?.version ?? 0
              break
            }
            await sleep(50)
          }
        }
        await sleep(5)
      }
    }
  }
  const workers = Array.from({ length: 8 }, (_, index) => worker(index))
  await sleep(300)
  const okBefore = ok
  await cluster.restart('fast')
  await sleep(300)
  running = false
  const settled = await Promise.race([Promise.all(workers).then(() => 'done'), sleep(15_000).then(() => 'hung')])
  expect(settled).toBe('done')
  expect(okBefore).toBeGreaterThan(0)
  expect(ok).toBeGreaterThan(okBefore)
  expect(errors.length).toBeGreaterThan(0)
  for (const error of errors) {
    if (!(error instanceof StorageError)) throw error
    expect(['E_CONNECTION', 'E_TIMEOUT', 'E_OUTCOME_UNKNOWN']).toContain(error.code)
  }
  // Rows = acknowledged writes: every writer's session holds the last version it was told of.
  for (const writer of writers) {
    expect({ id: writer.id, stored: (await adapter.getSession(writer.id))?.version ?? 0 }).toEqual({
      id: writer.id,
      stored: writer.version,
    })
  }
  // After the restart the same adapter works again.
  expect(await adapter.healthCheck()).toEqual({ healthy: true })
  await adapter.saveSession({ ...shared, version: 2 })
  expect((await adapter.getSession(shared.id))!.version).toBe(2)
  await adapter.close()
}, 60_000)

it('terminated pool connections are replaced: the next calls succeed', async () => {
  const adapter = new PostgresStorageAdapter(config)
  await adapter.initialize()
  const session = makeSession()
  await adapter.saveSession(session)
  await Promise.all(Array.from({ length: 8 }, () => adapter.getSession(session.id)))
  const before = await admin('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [APP])
  expect(before.length).toBeGreaterThanOrEqual(2)
  const terminated = await admin(
    'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1',
    [APP],
  )
  expect(terminated.every((row) => row.done === true)).toBe(true)

  expect((await adapter.getSession(session.id))!.id).toBe(session.id)
  await adapter.saveSession({ ...session, version: 2 })
  expect(await adapter.hasSession(session.id)).toBe(true)
  expect((await adapter.listSessions()).map((summary) => summary.id)).toContain(session.id)
  await adapter.setValue('after-terminate', 1)
  expect(await adapter.getValue('after-terminate')).toBe(1)
  const results = await Promise.all(Array.from({ length: 8 }, () => adapter.getSession(session.id)))
  expect(results.every((read) => read!.version === 2)).toBe(true)

  const after = await admin('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [APP])
  const old = new Set(before.map((row) => row.pid))
  expect(after.some((row) => old.has(row.pid))).toBe(false)
  await adapter.close()
})

it('a closed port rejects initialize() with StorageError at once', async () => {
  const port = await freePort()
  const adapter = new PostgresStorageAdapter({ ...config, port })
  const started = performance.now()
  const error = await rejection(adapter.initialize())
  expect(error).toBeInstanceOf(StorageError)
  expect(error.code).toBe('E_CONNECTION')
  expect(performance.now() - started).toBeLessThan(3000)
  expect((await adapter.healthCheck()).healthy).toBe(false)
})

it('a host that never answers rejects within connectTimeoutMs', async () => {
  const silent = net.createServer(() => {
    // Accept the TCP connection and never speak: the PostgreSQL handshake cannot complete.
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const { port } = silent.address() as net.AddressInfo
  try {
    const adapter = new PostgresStorageAdapter({ ...config, port, connectTimeoutMs: 500 })
    const started = performance.now()
    const error = await rejection(adapter.initialize())
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(StorageError)
    expect(['E_TIMEOUT', 'E_CONNECTION']).toContain(error.code)
    expect(error.message).toMatch(/time/i)
    expect(elapsed).toBeGreaterThanOrEqual(450)
    expect(elapsed).toBeLessThan(1200)
  } finally {
    silent.close()
  }
})

describe('with the sessions table locked by another client', () => {
  let locker: pg.Client
  let adapter: PostgresStorageAdapter

  beforeEach(async () => {
    adapter = new PostgresStorageAdapter({ ...config, poolSize: 1, acquireTimeoutMs: 300, statementTimeoutMs: 1500 })
    await adapter.initialize()
    locker = new pg.Client({ ...cluster.target })
    await locker.connect()
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE')
  })

  afterEach(async () => {
    await locker.query('ROLLBACK').catch(() => {})
    await locker.end()
    await adapter.close()
  })

  it('pool exhaustion: a caller waits acquireTimeoutMs, then gets StorageError E_TIMEOUT', async () => {
    const blocked = adapter.getSession('held')
    await sleep(50)
    const started = performance.now()
    const error = await rejection(adapter.hasSession('waiting'))
    const waited = performance.now() - started
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_TIMEOUT')
    expect(waited).toBeGreaterThanOrEqual(250)
    expect(waited).toBeLessThan(1200)
    await locker.query('ROLLBACK')
    expect(await blocked).toBeNull()
  })

  it('statementTimeoutMs: a statement stuck past it fails with E_TIMEOUT and writes nothing', async () => {
    const session = makeSession()
    const started = performance.now()
    const error = await rejection(adapter.saveSession(session))
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_TIMEOUT')
    expect(error.sqlstate).toBe('57014')
    expect(elapsed).toBeGreaterThanOrEqual(1400)
    expect(elapsed).toBeLessThan(4000)
    await locker.query('ROLLBACK')
    expect(await adapter.hasSession(session.id)).toBe(false)
  })
})

it('close() with calls in flight: every promise settles, then Node exits', () => {
  const script = `
    const { PostgresStorageAdapter, StorageError } = require('@smalltalk-ai/postgres-storage')
    const now = new Date()
    const session = (id) => ({ id, createdAt: now, updatedAt: now, expiresAt: now, state: 'active',
      agentIds: [], agentStates: {}, conversationHistory: [], sharedContext: {}, metadata: {}, version: 1 })
    ;(async () => {
      const adapter = new PostgresStorageAdapter(${JSON.stringify({ ...config, poolSize: 2 })})
      await adapter.initialize()
      const calls = []
      for (let i = 0; i < 200; i++) calls.push(i % 2 ? adapter.getSession('c' + i) : adapter.saveSession(session('c' + i)))
      await adapter.close()
      const results = await Promise.allSettled(calls)
      const summary = { fulfilled: 0, storageErrors: 0, other: [] }
      for (const result of results) {
        if (result.status === 'fulfilled') summary.fulfilled++
        else if (result.reason instanceof StorageError) summary.storageErrors++
        else summary.other.push(String(result.reason))
      }
      console.log(JSON.stringify(summary))
    })()
  `
  const started = performance.now()
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 15_000 })
  expect(result.status).toBe(0)
  const summary = JSON.parse(result.stdout)
  expect(summary.other).toEqual([])
  expect(summary.fulfilled + summary.storageErrors).toBe(200)
  expect(performance.now() - started).toBeLessThan(5000)
})

describe('passwords never appear in errors or output', () => {
  const PASSWORD = 'S3cret-Pa55-never-shown'
  const WRONG = 'Wr0ng-Pa55-never-shown'
  let secured: Throwaway

  beforeAll(async () => {
    secured = await startThrowaway({ database: 'secured', password: PASSWORD })
  }, 60_000)

  afterAll(async () => {
    await secured?.stop()
  })

  function everything(error: unknown): string {
    const cause = (error as { cause?: unknown }).cause
    return [
      inspect(error, { depth: 5 }),
      JSON.stringify(error),
      String(error),
      inspect(cause),
      (error as Error).stack,
    ].join('\n')
  }

  it('the right password works (so the server really checks it)', async () => {
    const adapter = new PostgresStorageAdapter({ ...secured.target, password: PASSWORD })
    await adapter.initialize()
    expect(await adapter.healthCheck()).toEqual({ healthy: true })
    await adapter.close()
  })

  it.each([
    [
      'a wrong password field',
      (port: number) => ({ host: '127.0.0.1', port, database: 'secured', user: 'postgres', password: WRONG }),
    ],
    [
      'a URL with a wrong password',
      (port: number) => ({ connectionString: `postgres://postgres:${WRONG}@127.0.0.1:${port}/secured` }),
    ],
    [
      'a URL with the right password and a missing database',
      (port: number) => ({ connectionString: `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/missing_db` }),
    ],
  ])('%s: StorageError without the password', async (_name, make) => {
    const adapter = new PostgresStorageAdapter(make(secured.target.port))
    const error = await rejection(adapter.initialize())
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_CONNECTION')
    const text = everything(error)
    expect(text).not.toContain(WRONG)
    expect(text).not.toContain(PASSWORD)
    const health = await adapter.healthCheck()
    expect(JSON.stringify(health)).not.toContain(WRONG)
  })

  it('a bad URL carrying a password is refused without echoing it', () => {
    let error: unknown
    try {
      new PostgresStorageAdapter({ connectionString: `postgres://postgres:${PASSWORD}@127.0.0.1:notaport/db` })
    } catch (caught) {
      error = caught
    }
    expect(everything(error)).not.toContain(PASSWORD)
  })

  it('nothing printed by a process failing to log in shows the password', () => {
    const script = `
      const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
      const adapter = new PostgresStorageAdapter({ connectionString: 'postgres://postgres:${WRONG}@127.0.0.1:${secured.target.port}/secured' })
      adapter.initialize().catch((error) => { console.error(error); console.log(JSON.stringify(error)); return adapter.healthCheck() })
        .then((health) => console.log(health))
    `
    const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 15_000 })
    expect(result.status).toBe(0)
    expect(result.stderr).toMatch(/password authentication failed/)
    expect(result.stdout + result.stderr).not.toContain(WRONG)
  })
})

describe('connections killed while idle are replaced, whatever the method', () => {
  const ROUNDS = 10
  const IDLE_APP = `faults-spec-idle-${process.pid}`
  let adapter: PostgresStorageAdapter
  // Kept open so the calls follow the termination at once (a new client per query adds its login).
  let killer: pg.Client

  beforeAll(async () => {
    adapter = new PostgresStorageAdapter({ ...config, applicationName: IDLE_APP, poolSize: 4 })
    await adapter.initialize()
    killer = new pg.Client({ ...cluster.target })
    await killer.connect()
  })

  afterAll(async () => {
    await adapter?.close()
    await killer?.end()
  })

  /** Opens all 4 pooled connections: 4 reads held by a table lock until each has its own. */
  async function warmFourConnections(): Promise<void> {
    const locker = new pg.Client({ ...cluster.target })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE key_value IN ACCESS EXCLUSIVE MODE')
      // hasValue: a call that is never coalesced, so each of the 4 waits on its own connection.
      const reads = Array.from({ length: 4 }, () => adapter.hasValue(`idle-warm-${process.pid}`))
      const deadline = performance.now() + 10_000
      for (;;) {
        const [{ n }] = await admin(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [IDLE_APP],
        )
        if (n === 4) break
        if (performance.now() > deadline) throw new Error(`only ${n} of 4 pooled connections opened`)
        await sleep(10)
      }
      await locker.query('COMMIT')
      await Promise.all(reads)
    } finally {
      await locker.end()
    }
  }

  it(`right after every idle pooled connection is terminated, deleteSession, deleteSessions, clear, deleteValue and purgeExpired succeed (${ROUNDS} rounds)`, async () => {
    const failures: string[] = []
    let unpurged = 0
    for (let round = 0; round < ROUNDS; round++) {
      const tag = `idle-${process.pid}-${round}`
      // Old enough for clear(olderThan), and older every round so no earlier leftover is counted.
      const old = new Date(Date.UTC(1990 - round, 0, 1))
      const sessions = [0, 1, 2].map((index) => makeSession({ id: `${tag}-${index}` }))
      const stale = [3, 4].map((index) => makeSession({ id: `${tag}-${index}`, updatedAt: old }))
      await adapter.saveSessions([...sessions, ...stale])
      await adapter.setValue(`${tag}-live`, 1)
      await adapter.setValue(`${tag}-expired-a`, 1, { ttl: 0.001 })
      await adapter.setValue(`${tag}-expired-b`, 1, { ttl: 0.001 })
      await sleep(10)
      unpurged += 2
      await warmFourConnections()
      const { rows: killed } = await killer.query(
        'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1',
        [IDLE_APP],
      )

      // No sleep: the calls go out while the pool still holds the dead connections.
      const expected: Array<[string, () => Promise<unknown>, unknown]> = [
        ['deleteSession', () => adapter.deleteSession(sessions[0].id), true],
        ['deleteSessions', () => adapter.deleteSessions([sessions[1].id, sessions[2].id, `${tag}-missing`]), 2],
        ['clear', () => adapter.clear(new Date(old.getTime() + 86_400_000)), 2],
        ['deleteValue', () => adapter.deleteValue(`${tag}-live`), true],
        ['purgeExpired', () => adapter.purgeExpired(), unpurged],
      ]
      const concurrent = round % 2 === 0
      const results: PromiseSettledResult<unknown>[] = []
      if (concurrent) {
        results.push(...(await Promise.allSettled(expected.map(([, call]) => call()))))
      } else {
        for (const [, call] of expected) results.push(...(await Promise.allSettled([call()])))
      }
      expect(killed.map((row) => row.done)).toEqual([true, true, true, true])
      results.forEach((result, index) => {
        const [method, , want] = expected[index]
        const mode = concurrent ? 'concurrent' : 'sequential'
        if (result.status === 'rejected') {
          const error = result.reason as StorageError
          failures.push(
            `round ${round} (${mode}) ${method}: ${error.name} ${error.code} ${error.sqlstate ?? ''} ${error.message}`,
          )
        } else if (result.value !== want) {
          failures.push(
            `round ${round} (${mode}) ${method}: resolved ${JSON.stringify(result.value)}, expected ${JSON.stringify(want)}`,
          )
        } else if (method === 'purgeExpired') {
          unpurged = 0
        }
      })
    }
    console.log(
      `idle connections killed: ${ROUNDS} rounds x 5 calls, ${failures.length} failed\n${failures.join('\n')}`,
    )
    expect(failures).toEqual([])
  }, 120_000)
})

describe('connection errors say where', () => {
  const HIDDEN = 'Pw-Zz9-never-shown'

  function everythingOf(error: unknown): string {
    const cause = (error as { cause?: unknown }).cause
    return [
      inspect(error, { depth: 10 }),
      JSON.stringify(error),
      String(error),
      inspect(cause, { depth: 10 }),
      (error as Error).stack,
    ].join('\n')
  }

  it('a closed port: the message names 127.0.0.1:<port>', async () => {
    const port = await freePort()
    const error = await rejection(new PostgresStorageAdapter({ ...config, host: '127.0.0.1', port }).initialize())
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_CONNECTION')
    expect(error.message).toContain(`127.0.0.1:${port}`)
  })

  it('a host name that does not resolve: the message names the host and port', async () => {
    const port = await freePort()
    const error = await rejection(
      new PostgresStorageAdapter({
        ...config,
        host: 'no-such-host.invalid',
        port,
        connectTimeoutMs: 5000,
      }).initialize(),
    )
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_CONNECTION')
    expect(error.message).toContain(`no-such-host.invalid:${port}`)
  })

  it('a URL with a password and a closed port: the message names host:port and never the password', async () => {
    const port = await freePort()
    const adapter = new PostgresStorageAdapter({
      connectionString: `postgres://postgres:${HIDDEN}@127.0.0.1:${port}/faults`,
    })
    const error = await rejection(adapter.initialize())
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_CONNECTION')
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(everythingOf(error)).not.toContain(HIDDEN)
    const health = await adapter.healthCheck()
    expect(health.healthy).toBe(false)
    expect(String(health.message)).not.toContain(HIDDEN)
  })
})
