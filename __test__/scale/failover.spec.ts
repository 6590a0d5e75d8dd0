// Failover: a throwaway primary with a synchronous streaming standby (pg_basebackup -R). The
// adapter lists both hosts with targetSessionAttrs 'read-write'. The primary is stopped: calls fail
// with StorageError while there is no primary; the standby is promoted: the same adapter carries
// on against it, and no acknowledged write is lost.
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../../scripts/postgres.mjs'
import { makeSession, sleep } from '../helpers.js'

let primary: Throwaway
let standby: Throwaway

async function query(target: Throwaway['target'], text: string) {
  const client = new pg.Client({ ...target })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  primary = await startThrowaway({ database: 'failover', settings: { synchronous_commit: 'on', wal_level: 'replica' } })
  standby = await startThrowaway({ database: 'failover', standbyOf: primary, settings: { hot_standby: 'on' } })
  // Only now require the standby's confirmation for every commit (earlier, CREATE DATABASE would wait).
  await query(primary.target, "ALTER SYSTEM SET synchronous_standby_names = '*'")
  await query(primary.target, 'SELECT pg_reload_conf()')
  for (let i = 0; i < 100; i++) {
    const rows = await query(primary.target, 'SELECT sync_state FROM pg_stat_replication')
    if (rows[0]?.sync_state === 'sync') return
    await sleep(100)
  }
  throw new Error('the standby never became synchronous')
}, 120_000)

afterAll(async () => {
  await standby?.stop()
  await primary?.stop()
})

it('fails over to the promoted standby with the same adapter and loses no acknowledged write', async () => {
  const adapter = new PostgresStorageAdapter({
    host: ['127.0.0.1', '127.0.0.1'],
    port: [primary.target.port, standby.target.port],
    database: 'failover',
    user: 'postgres',
    password: 'postgres',
    targetSessionAttrs: 'read-write',
    poolSize: 4,
    connectTimeoutMs: 2000,
    acquireTimeoutMs: 2000,
  })
  await adapter.initialize()
  expect((await query(standby.target, 'SELECT pg_is_in_recovery() AS standby'))[0].standby).toBe(true)

  const acknowledged = new Map<string, number>()
  /** Versions whose save ended E_OUTCOME_UNKNOWN: each may or may not be stored. */
  const unknown = new Map<string, number[]>()
  const errors: unknown[] = []
  let lastError = 0
  // The start of the first call that failed, and the end of the first success that started after it.
  let firstFailedStart = 0
  let firstOkAfterFailure = 0
  let firstOkAfterPromote = 0
  let promotedAt = 0
  let running = true
  const writer = async () => {
    const session = makeSession()
    let version = 0
    while (running) {
      const start = performance.now()
      try {
        await adapter.saveSession({ ...session, version: version + 1, updatedAt: new Date() })
        if (firstFailedStart > 0 && firstOkAfterFailure === 0 && start >= firstFailedStart)
          firstOkAfterFailure = performance.now()
        version++
        acknowledged.set(session.id, version)
        if (promotedAt > 0 && firstOkAfterPromote === 0) firstOkAfterPromote = performance.now()
      } catch (error) {
        errors.push(error)
        lastError = performance.now()
        if (firstFailedStart === 0) firstFailedStart = start
        // A rejected save wrote nothing: the next attempt saves the same version again (had it
        // landed, that would be a ConflictError and fail the test). Only after E_OUTCOME_UNKNOWN
        // may it be stored: the next attempt then moves past it.
        if (error instanceof StorageError && error.code === 'E_OUTCOME_UNKNOWN') {
          version++
          unknown.set(session.id, [...(unknown.get(session.id) ?? []), version])
        }
        await sleep(20)
      }
    }
  }
  const writers = Array.from({ length: 4 }, writer)
  await sleep(500)
  const beforeFailover = acknowledged.size
  expect(beforeFailover).toBe(4)

  const stoppedAt = performance.now()
  await primary.stopServer('fast')
  await sleep(1000)
  const errorsWithoutPrimary = errors.length
  promotedAt = performance.now()
  await standby.promote!()
  for (let i = 0; i < 200 && firstOkAfterPromote === 0; i++) await sleep(25)
  await sleep(300)
  running = false
  await Promise.all(writers)

  expect(errorsWithoutPrimary).toBeGreaterThan(0)
  for (const error of errors) {
    if (!(error instanceof StorageError)) throw error
    expect(['E_CONNECTION', 'E_TIMEOUT', 'E_OUTCOME_UNKNOWN']).toContain(error.code)
  }
  expect(firstOkAfterPromote).toBeGreaterThan(0)

  // Rows = acknowledged writes: each session holds its last acknowledged version, or a later one
  // whose save was reported E_OUTCOME_UNKNOWN.
  const rows = await query(standby.target, 'SELECT id, version FROM sessions')
  const stored = new Map(rows.map((row) => [row.id, row.version]))
  for (const [id, version] of acknowledged) {
    const allowed = [version, ...(unknown.get(id) ?? []).filter((maybe) => maybe > version)]
    expect({ id, allowed: allowed.includes(stored.get(id)) }).toEqual({ id, allowed: true })
  }
  expect(await adapter.healthCheck()).toEqual({ healthy: true })
  const session = makeSession()
  await adapter.saveSession(session)
  expect((await adapter.getSession(session.id))!.id).toBe(session.id)
  await adapter.close()

  console.log(
    `failover: outage window ${Math.round(firstOkAfterFailure - firstFailedStart)} ms (first failed call to the first ` +
      `successful one after it); primary stopped -> first write on the promoted standby ${Math.round(firstOkAfterPromote - stoppedAt)} ms ` +
      `(${Math.round(firstOkAfterPromote - promotedAt)} ms after promote; ${errors.length} calls failed with StorageError, ` +
      `last at ${Math.round(lastError - stoppedAt)} ms); ${acknowledged.size} sessions, ` +
      `${[...acknowledged.values()].reduce((a, b) => a + b, 0)} acknowledged writes, 0 lost`,
  )
}, 120_000)
