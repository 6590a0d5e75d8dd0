// A silent peer: a TCP path that stays open but carries no byte once the pool is
// warm (a proxy that stops forwarding; a NAT or load balancer that dropped its state). Every call
// must still settle within the client-side deadline `queryTimeoutMs`, and once the path recovers
// the same adapter must serve calls again: a connection whose deadline passed is discarded, never
// returned to the pool. A throwaway cluster of our own sits behind a proxy (`proxy.ts`).
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig, Session } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { makeSession, sleep } from './helpers.js'
import { WireProxy } from './proxy.js'

/** The deadline under test, and how long a call may take to settle on a busy 2-core machine. */
const DEADLINE_MS = 1000
const SETTLE_BOUND_MS = 3000
/** Past this a call counts as hung (today's behaviour); the race keeps the test from hanging. */
const HUNG_AFTER_MS = 8000

let cluster: Throwaway
let proxy: WireProxy
let adapter: PostgresStorageAdapter
let appCounter = 0

beforeAll(async () => {
  cluster = await startThrowaway({ database: 'deadline' })
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

beforeEach(async () => {
  proxy = new WireProxy(cluster.target.host, cluster.target.port)
  await proxy.start()
})

afterEach(async () => {
  await adapter?.close()
  // Destroys the silenced sockets too, so calls still hanging on them (today) settle and Node exits.
  await proxy.stop()
})

/** An adapter through the proxy with 1 s timeouts everywhere, its pool warmed to both connections. */
async function warmAdapter(): Promise<{ session: Session; applicationName: string }> {
  const applicationName = `deadline-spec-${process.pid}-${++appCounter}`
  const config: PostgresConfig = {
    ...cluster.target,
    port: proxy.port,
    applicationName,
    poolSize: 2,
    connectTimeoutMs: DEADLINE_MS,
    acquireTimeoutMs: DEADLINE_MS,
    queryTimeoutMs: DEADLINE_MS,
  }
  adapter = new PostgresStorageAdapter(config)
  await adapter.initialize()
  const session = makeSession()
  await adapter.saveSession(session)
  for (let round = 0; round < 50 && (await adapter.getStats()).metrics.pool.size < 2; round++) {
    await Promise.all(Array.from({ length: 4 }, () => adapter.getSession(session.id)))
  }
  expect((await adapter.getStats()).metrics.pool.size).toBe(2)
  return { session, applicationName }
}

type Settled<T> =
  | { outcome: 'resolved'; value: T; ms: number }
  | { outcome: 'rejected'; error: unknown; ms: number }
  | { outcome: 'hung'; ms: number }

/** How `promise` settled, and after how long; 'hung' when it did not within HUNG_AFTER_MS. */
async function settle<T>(promise: Promise<T>, started = performance.now()): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), HUNG_AFTER_MS)
  })
  const result = await Promise.race([
    promise.then(
      (value) => ({ outcome: 'resolved' as const, value }),
      (error: unknown) => ({ outcome: 'rejected' as const, error }),
    ),
    hung,
  ])
  clearTimeout(timer)
  const ms = Math.round(performance.now() - started)
  return result === 'hung' ? { outcome: 'hung', ms } : { ...result, ms }
}

/** Asserts a StorageError E_TIMEOUT that settled within SETTLE_BOUND_MS of the call's start. */
function expectTimedOut(settled: Settled<unknown>, what: string): void {
  const seen =
    settled.outcome === 'rejected'
      ? `${(settled.error as Error)?.name} ${(settled.error as StorageError)?.code}: ${(settled.error as Error)?.message}`
      : settled.outcome
  expect({ what, outcome: settled.outcome, seen, withinBound: settled.ms < SETTLE_BOUND_MS }).toEqual({
    what,
    outcome: 'rejected',
    seen: expect.stringMatching(/^StorageError E_TIMEOUT: /),
    withinBound: true,
  })
  expect((settled as { error: unknown }).error).toBeInstanceOf(StorageError)
}

async function storedVersion(id: string): Promise<number | null> {
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT version FROM sessions WHERE id = $1', [id])
    return rows.length === 0 ? null : rows[0].version
  } finally {
    await client.end()
  }
}

it('getSession on a silent peer rejects with StorageError E_TIMEOUT after queryTimeoutMs, not never', async () => {
  const { session } = await warmAdapter()
  proxy.silence()
  const settled = await settle(adapter.getSession(session.id))
  console.log(`silent peer: getSession settled (${settled.outcome}) after ${settled.ms} ms`)
  expectTimedOut(settled, 'getSession')
  // The deadline is what ended it, not some unrelated failure.
  expect(settled.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100)
})

it('more concurrent calls than the pool holds, and a saveSession, each reject E_TIMEOUT in time; nothing is written', async () => {
  const { session } = await warmAdapter()
  proxy.silence()
  const fresh = makeSession()
  const started = performance.now()
  const calls = [
    ...Array.from({ length: 5 }, () => adapter.getSession(session.id)),
    adapter.saveSession({ ...session, version: 2 }),
    adapter.saveSession(fresh),
    adapter.hasSession(session.id),
  ]
  const settled = await Promise.all(calls.map((call) => settle<unknown>(call, started)))
  console.log(
    `silent peer: ${calls.length} concurrent calls (pool 2) settled after ${settled.map((s) => s.ms).join(', ')} ms`,
  )
  settled.forEach((one, index) => expectTimedOut(one, `concurrent call ${index}`))
  // Still silent: later calls are not stuck behind a wedged pool either.
  for (let index = 0; index < 2; index++) {
    const later = await settle(adapter.getSession(session.id))
    console.log(`silent peer: later getSession ${index + 1} settled after ${later.ms} ms`)
    expectTimedOut(later, `later call ${index}`)
  }
  expect(await storedVersion(session.id)).toBe(1)
  expect(await storedVersion(fresh.id)).toBeNull()
})

it('a save sent into the silence rejects E_OUTCOME_UNKNOWN, not E_TIMEOUT: it may have landed', async () => {
  const { session } = await warmAdapter()
  proxy.silence()
  // A free pooled connection takes the save at once: it is on the wire when the path goes quiet,
  // and no verdict can come back, so the adapter cannot say it was not written.
  const settled = await settle(adapter.saveSession({ ...session, version: 2 }))
  console.log(`silent peer: a save in flight settled (${settled.outcome}) after ${settled.ms} ms`)
  expect(settled.outcome).toBe('rejected')
  const error = (settled as { error: StorageError }).error
  expect(error).toBeInstanceOf(StorageError)
  expect(error.code).toBe('E_OUTCOME_UNKNOWN')
  expect(error.message).toMatch(/may or may not be stored/)
  expect(settled.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100)
  expect(settled.ms).toBeLessThan(SETTLE_BOUND_MS)
  // Here the silence swallowed the request: the stored row is the acknowledged one.
  expect(await storedVersion(session.id)).toBe(1)
})

it('healthCheck on a silent peer resolves { healthy: false } in time', async () => {
  await warmAdapter()
  proxy.silence()
  const settled = await settle(adapter.healthCheck())
  console.log(`silent peer: healthCheck settled (${settled.outcome}) after ${settled.ms} ms`)
  expect(settled.outcome).toBe('resolved')
  expect(settled.ms).toBeLessThan(SETTLE_BOUND_MS)
  const health = (settled as { value: { healthy: boolean; message?: string } }).value
  expect(health.healthy).toBe(false)
  expect(typeof health.message).toBe('string')
})

it('after the path recovers, the same adapter serves calls again: timed-out connections were discarded', async () => {
  const { session } = await warmAdapter()
  proxy.silence()
  const started = performance.now()
  const stuck = await Promise.all(
    [
      adapter.getSession(session.id),
      adapter.getSession(session.id),
      adapter.saveSession({ ...session, version: 2 }),
    ].map((call) => settle<unknown>(call, started)),
  )
  stuck.forEach((one, index) => expectTimedOut(one, `call ${index} while silent`))

  // New connections are forwarded again; the silenced ones stay silent for good, so a connection
  // that went back to the pool would hang its next call until the deadline.
  proxy.forward()
  const restored = performance.now()
  let served: Session | null = null
  const attempts: string[] = []
  while (served === null && performance.now() - restored < 10_000) {
    const attempt = await settle(adapter.getSession(session.id))
    attempts.push(`${attempt.outcome} after ${attempt.ms} ms`)
    if (attempt.outcome === 'resolved') served = attempt.value
    else if (attempt.outcome === 'hung') break
    else await sleep(100)
  }
  console.log(
    `silent peer recovered: served again ${Math.round(performance.now() - restored)} ms after forwarding resumed (${attempts.join('; ')})`,
  )
  expect(served?.id).toBe(session.id)

  // Every pooled connection works now: rounds of more concurrent calls than the pool holds.
  let version = 1
  for (let round = 0; round < 5; round++) {
    version++
    const roundStarted = performance.now()
    const results = await Promise.all(
      [
        adapter.getSession(session.id),
        adapter.hasSession(session.id),
        adapter.saveSession({ ...session, version, updatedAt: new Date() }),
        adapter.healthCheck(),
      ].map((call) => settle<unknown>(call, roundStarted)),
    )
    for (const result of results) {
      expect(result.outcome === 'rejected' ? String((result.error as Error).message) : result.outcome).toBe('resolved')
      expect(result.ms).toBeLessThan(DEADLINE_MS)
    }
    expect((results[3] as { value: unknown }).value).toEqual({ healthy: true })
  }
  expect(await storedVersion(session.id)).toBe(version)
  expect((await adapter.getStats()).metrics.pool.size).toBeLessThanOrEqual(2)
}, 60_000)
