// Observability: getStats().metrics carries pool figures and per-operation counters and latency
// percentiles kept in Rust.
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, dropTables, makeSession } from './helpers.js'

const current = adapterPerTest({ poolSize: 3 })

it('counts calls by method and outcome, with ordered latency percentiles', async () => {
  const session = makeSession()
  await current().saveSession(session)
  await current()
    .saveSession(session)
    .catch(() => undefined) // a conflict
  for (let i = 0; i < 30; i++) await current().getSession(session.id)
  await current()
    .getSession('')
    .catch(() => undefined) // refused in JS: never reaches Rust
  const { metrics } = await current().getStats()
  expect(metrics.operations.initialize).toMatchObject({ ok: 1, errors: 0 })
  expect(metrics.operations.saveSession).toMatchObject({ ok: 1, conflicts: 1, errors: 0 })
  const get = metrics.operations.getSession
  expect(get).toMatchObject({ ok: 30, conflicts: 0, errors: 0 })
  expect(get.p50Ms).toBeGreaterThan(0)
  expect(get.p50Ms).toBeLessThanOrEqual(get.p95Ms)
  expect(get.p95Ms).toBeLessThanOrEqual(get.p99Ms)
  expect(get.p99Ms).toBeLessThanOrEqual(get.maxMs)
  expect(get.meanMs).toBeGreaterThan(0)
  expect(get.meanMs).toBeLessThanOrEqual(get.maxMs)
  expect(metrics.operations.listSessions).toBeUndefined()
  expect(metrics.retries).toBe(0)
})

it('reports the pool: size, idle and callers waiting', async () => {
  const session = makeSession()
  await current().saveSession(session)
  await Promise.all(Array.from({ length: 12 }, () => current().getSession(session.id)))
  const { metrics } = await current().getStats()
  expect(metrics.pool.maxSize).toBe(3)
  expect(metrics.pool.size).toBeGreaterThanOrEqual(1)
  expect(metrics.pool.size).toBeLessThanOrEqual(3)
  expect(metrics.pool.idle).toBeLessThanOrEqual(metrics.pool.size)
  expect(metrics.pool.waiting).toBe(0)
  // Errors are counted too.
  await current().close()
  const fresh = new PostgresStorageAdapter(contractConfig())
  await fresh.getSession('x').catch(() => undefined)
  await fresh.initialize()
  expect((await fresh.getStats()).metrics.operations.getSession).toMatchObject({ ok: 0, errors: 1 })
  await fresh.close()
})
