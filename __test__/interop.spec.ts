// Databases written by the original pg-based TypeScript adapter keep working, and the reverse.
// The "original" side below uses that adapter's SQL and data flow through `pg`: the session
// serialized to a JSON string bound to the jsonb column; jsonb read back, stringified and revived.
import { PostgresStorageAdapter, deserializeSession, serializeSession } from '@smalltalk-ai/postgres-storage'
import type pg from 'pg'
import { contractConfig, dropTables, makeSession, makeTurns, rawClient } from './helpers.js'

let adapter: PostgresStorageAdapter
let client: pg.Client

beforeEach(async () => {
  await dropTables()
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
  client = await rawClient()
})

afterEach(async () => {
  await client.end()
  await adapter.close()
  await dropTables()
})

it('reads sessions and values written with the original adapter SQL', async () => {
  const session = makeSession({ conversationHistory: makeTurns(4), version: 2 })
  // The original bound Dates through pg; with the process in UTC that is the ISO text below.
  await client.query(
    `INSERT INTO sessions (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET data = $2, version = $3, updated_at = $5`,
    [
      session.id,
      serializeSession(session),
      session.version,
      session.createdAt.toISOString(),
      session.updatedAt.toISOString(),
    ],
  )
  await client.query(`INSERT INTO key_value (key, value) VALUES ($1, $2)`, ['legacy', JSON.stringify({ a: [1, 2] })])

  expect(await adapter.getSession(session.id)).toEqual(session)
  const [summary] = await adapter.listSessions()
  expect(summary).toEqual({ id: session.id, state: 'active', updatedAt: session.updatedAt, agentCount: 2 })
  expect(await adapter.getValue('legacy')).toEqual({ a: [1, 2] })
  await expect(adapter.saveSession({ ...session, version: 2 })).rejects.toMatchObject({ conflictingVersions: [2, 2] })
})

it('writes rows the original adapter reads back identically', async () => {
  const session = makeSession({ conversationHistory: makeTurns(4), version: 3 })
  await adapter.saveSession(session)
  await adapter.setValue('modern', { nested: { ok: true } })

  const { rows } = await client.query('SELECT data, version FROM sessions WHERE id = $1', [session.id])
  expect(rows[0].version).toBe(3)
  expect(deserializeSession(JSON.stringify(rows[0].data))).toEqual(session)
  const values = await client.query('SELECT value FROM key_value WHERE key = $1 AND (ttl IS NULL OR ttl > NOW())', [
    'modern',
  ])
  expect(values.rows[0].value).toEqual({ nested: { ok: true } })
})

describe('TOAST compression of large sessions', () => {
  async function serverHasLz4(): Promise<boolean> {
    const { rows } = await client.query(
      "SELECT coalesce('lz4' = ANY(enumvals), false) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
    )
    return rows[0]?.lz4 === true
  }

  // Each JSON column's own compression: 'l' (lz4), 'p' (pglz) or '' (the server's default).
  async function columnCompression(): Promise<{ sessions: string; key_value: string }> {
    const { rows } = await client.query(
      `SELECT attrelid::regclass::text AS "table", attcompression::text AS method FROM pg_attribute
       WHERE (attrelid, attname) IN (('sessions'::regclass, 'data'), ('key_value'::regclass, 'value'))`,
    )
    return Object.fromEntries(rows.map((row) => [row.table, row.method])) as { sessions: string; key_value: string }
  }

  it('is lz4 by default where the server supports it, and readable either way', async () => {
    const lz4 = await serverHasLz4()
    const large = makeSession({ conversationHistory: makeTurns(400) })
    await adapter.saveSession(large)
    const { rows } = await client.query('SELECT pg_column_compression(data) AS method FROM sessions WHERE id = $1', [
      large.id,
    ])
    expect(rows[0].method).toBe(lz4 ? 'lz4' : 'pglz')
    expect(await adapter.getSession(large.id)).toEqual(large)
  })

  it("toastCompression: 'pglz' keeps PostgreSQL's historical method", async () => {
    await dropTables()
    const pglz = new PostgresStorageAdapter({ ...contractConfig(), toastCompression: 'pglz' })
    await pglz.initialize()
    try {
      const large = makeSession({ conversationHistory: makeTurns(400) })
      await pglz.saveSession(large)
      const { rows } = await client.query('SELECT pg_column_compression(data) AS method FROM sessions WHERE id = $1', [
        large.id,
      ])
      expect(rows[0].method).toBe('pglz')
      expect(await pglz.getSession(large.id)).toEqual(large)
    } finally {
      await pglz.close()
    }
  })

  it("is a property of the columns of the tables initialize() creates: lz4 by default, pglz, or none for 'server'", async () => {
    const lz4 = await serverHasLz4()
    for (const [toastCompression, method] of [
      [undefined, lz4 ? 'l' : ''],
      ['pglz', 'p'],
      ['server', ''],
    ] as const) {
      await dropTables()
      const created = new PostgresStorageAdapter({ ...contractConfig(), toastCompression })
      await created.initialize()
      await created.close()
      expect({ toastCompression, ...(await columnCompression()) }).toEqual({
        toastCompression,
        sessions: method,
        key_value: method,
      })
    }
  })

  it('leaves the columns of a table that existed before initialize() as they are', async () => {
    await dropTables()
    // The original adapter's table, its column set to pglz by hand; key_value is missing.
    await client.query(
      `CREATE TABLE sessions (id TEXT PRIMARY KEY, data JSONB NOT NULL, version INTEGER NOT NULL DEFAULT 1,
         created_at TIMESTAMP NOT NULL DEFAULT NOW(), updated_at TIMESTAMP NOT NULL DEFAULT NOW());
       ALTER TABLE sessions ALTER COLUMN data SET COMPRESSION pglz`,
    )
    const existing = new PostgresStorageAdapter(contractConfig())
    await existing.initialize()
    await existing.close()
    expect(await columnCompression()).toEqual({ sessions: 'p', key_value: (await serverHasLz4()) ? 'l' : '' })
    await client.query('ALTER TABLE sessions ALTER COLUMN data SET COMPRESSION default')
    const again = new PostgresStorageAdapter(contractConfig())
    await again.initialize()
    await again.close()
    expect((await columnCompression()).sessions).toBe('')
  })
})
