// Server-side expiry: deleteExpiredSessions(now) deletes, in bounded batches found through an
// index, every session whose expiresAt is before now, and nothing else; sessions without
// expiresAt never expire; the optional background expiry (sessionExpiryIntervalMs) does the same.
import { PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, makeSession, sleep, sql } from './helpers.js'

let adapter: PostgresStorageAdapter

beforeEach(async () => {
  await dropTables()
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
})

afterEach(async () => {
  await adapter.close()
  await dropTables()
})

const storedIds = async () => (await sql('SELECT id FROM sessions ORDER BY id')).map((row) => row.id)

it('deletes the sessions whose expiresAt is before now and keeps the rest', async () => {
  const now = new Date('2030-06-01T12:00:00.000Z')
  const expired = makeSession({ id: 'a-expired', expiresAt: new Date(now.getTime() - 1) })
  const atNow = makeSession({ id: 'b-at-now', expiresAt: now })
  const later = makeSession({ id: 'c-later', expiresAt: new Date(now.getTime() + 60_000) })
  const never = makeSession({ id: 'd-never' })
  delete (never as { expiresAt?: Date }).expiresAt
  await adapter.saveSessions([expired, atNow, later, never])
  expect(await adapter.deleteExpiredSessions(now)).toBe(1)
  expect(await storedIds()).toEqual(['b-at-now', 'c-later', 'd-never'])
  expect(await adapter.deleteExpiredSessions(now)).toBe(0)
  // Far in the future: everything with an expiresAt goes, the session without one stays.
  expect(await adapter.deleteExpiredSessions(new Date('9999-01-01T00:00:00.000Z'))).toBe(2)
  expect(await storedIds()).toEqual(['d-never'])
})

it('defaults to now, and deletes more than one batch', async () => {
  await sql(`INSERT INTO sessions (id, data) SELECT 'old-' || n,
             jsonb_build_object('state', 'active', 'expiresAt', to_char(now() AT TIME ZONE 'UTC' - interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
             FROM generate_series(1, 2500) AS n`)
  await adapter.saveSession(makeSession({ id: 'fresh', expiresAt: new Date(Date.now() + 3_600_000) }))
  expect(await adapter.deleteExpiredSessions()).toBe(2500)
  expect(await storedIds()).toEqual(['fresh'])
})

it('finds the expired sessions through an index, not by reading every session', async () => {
  const [index] = await sql(`SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_sessions_expires_at'`)
  expect(index.indexdef).toContain(`((data ->> 'expiresAt'::text)) COLLATE "C"`)
  await sql(`INSERT INTO sessions (id, data) SELECT 'n-' || n, jsonb_build_object('expiresAt', '2031-01-01T00:00:00.000Z')
             FROM generate_series(1, 20000) AS n`)
  await sql('ANALYZE sessions')
  const plan = (
    await sql(
      `EXPLAIN SELECT id FROM sessions WHERE (data->>'expiresAt') COLLATE "C" < '2030-01-01T00:00:00.000Z' LIMIT 1000`,
    )
  )
    .map((row) => row['QUERY PLAN'])
    .join('\n')
  expect(plan).toContain('idx_sessions_expires_at')
})

it('refuses an invalid date with a ValidationError and deletes nothing', async () => {
  await adapter.saveSession(makeSession({ expiresAt: new Date(0) }))
  for (const bad of [new Date(NaN), 'yesterday', 17]) {
    const error = await adapter.deleteExpiredSessions(bad as unknown as Date).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).code).toBe('E_VALIDATION')
  }
  expect(await storedIds()).toHaveLength(1)
})

it('sessionExpiryIntervalMs deletes expired sessions in the background', async () => {
  const background = new PostgresStorageAdapter({ ...contractConfig(), sessionExpiryIntervalMs: 100 })
  await background.initialize()
  try {
    await background.saveSession(makeSession({ id: 'gone', expiresAt: new Date(Date.now() + 150) }))
    await background.saveSession(makeSession({ id: 'kept', expiresAt: new Date(Date.now() + 3_600_000) }))
    await sleep(600)
    expect(await storedIds()).toEqual(['kept'])
  } finally {
    await background.close()
  }
})
