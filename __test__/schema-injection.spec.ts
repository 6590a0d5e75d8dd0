// No SQL injection through `schema`. With `standard_conforming_strings = off` a
// backslash escapes the quote in a string literal, so a schema name spliced into
// `'<schema>.sessions'::regclass` (quotes doubled, nothing else) breaks out of it: the crafted name
// below makes getStats() run pg_sleep(2). Identifiers must be quoted as identifiers and values bound
// as parameters; then the name is just a name. A throwaway cluster of our own with the setting off.
import pg from 'pg'
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { StorageStats } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { makeSession } from './helpers.js'

/**
 * Closes the literal with `\'` + `'`, ends the size expression, puts pg_sleep(2) and a stand-in
 * `data` column in the FROM clause and comments out the rest of the statement.
 */
const CRAFTED = "\\'::text||NULL)+0 FROM pg_sleep(2),to_jsonb(0)data--"

let cluster: Throwaway

beforeAll(async () => {
  cluster = await startThrowaway({ database: 'injection', settings: { standard_conforming_strings: 'off' } })
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

async function admin<R extends pg.QueryResultRow = any>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

/** The adapter's getStats() and how long it took, bounded so a hang fails instead. */
async function timedStats(
  adapter: PostgresStorageAdapter,
): Promise<{ stats?: StorageStats; error?: string; ms: number }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([
    adapter.getStats().then(
      (stats) => ({ stats }),
      (error: Error) => ({ error: `${error.name} ${(error as { code?: string }).code}: ${error.message}` }),
    ),
    new Promise<{ error: string }>((resolve) => {
      timer = setTimeout(() => resolve({ error: 'no answer within 10 s' }), 10_000)
    }),
  ])
  clearTimeout(timer)
  return { ...result, ms: Math.round(performance.now() - started) }
}

/** Saves one active and one paused session and a value through an adapter on `schema`, then reads the stats. */
async function exercise(schema: string) {
  const adapter = new PostgresStorageAdapter({ ...cluster.target, schema, poolSize: 2 })
  try {
    await adapter.initialize()
    await adapter.saveSession(makeSession({ state: 'active' }))
    await adapter.saveSession(makeSession({ state: 'paused' }))
    await adapter.setValue('injection-spec', { ok: true })
    const timed = await timedStats(adapter)
    console.log(
      `schema ${JSON.stringify(schema)}: getStats ${timed.error ? `rejected (${timed.error})` : 'resolved'} after ${timed.ms} ms`,
    )
    return timed
  } finally {
    await adapter.close()
  }
}

/** The tables in the schema with exactly this name, and its row count. */
/** The tables initialize() makes in a schema: the original two and the session counters. */
const OUR_TABLES = ['key_value', 'session_state_counts', 'session_state_deltas', 'sessions']

async function tablesOf(schema: string): Promise<{ tables: string[]; sessions: number }> {
  const rows = await admin(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`,
    [schema],
  )
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    // An identifier is never affected by standard_conforming_strings: doubling quotes is enough here.
    const counted = await client.query(`SELECT count(*)::int AS n FROM ${client.escapeIdentifier(schema)}.sessions`)
    return { tables: rows.map((row) => row.relname), sessions: counted.rows[0].n }
  } finally {
    await client.end()
  }
}

it('the server really runs with standard_conforming_strings off', async () => {
  expect((await admin('SHOW standard_conforming_strings'))[0].standard_conforming_strings).toBe('off')
})

it('a crafted schema name (at most 63 bytes) is only a name: getStats is fast and correct, the sleep never runs', async () => {
  expect(Buffer.byteLength(CRAFTED)).toBeLessThanOrEqual(63)
  const { stats, error, ms } = await exercise(CRAFTED)
  // Today: getStats() runs the injected pg_sleep(2) (about 2000 ms), then fails on its NULL size.
  expect({ error, fast: ms < 1000 }).toEqual({ error: undefined, fast: true })
  expect(stats!.totalSessions).toBe(2)
  expect(stats!.metrics.activeCount).toBe(1)
  expect(stats!.metrics.pausedCount).toBe(1)
  expect(stats!.sizeBytes).toBeGreaterThan(0)
  expect(stats!.metrics.countedBy).toBe('counters')
  expect(await tablesOf(CRAFTED)).toEqual({ tables: OUR_TABLES, sessions: 2 })
})

it('a schema name with backslashes and quotes names that schema, not another one', async () => {
  const schema = 'back\\slash "quoted" o\'brien\\'
  const { stats, error, ms } = await exercise(schema)
  expect({ error, fast: ms < 1000 }).toEqual({ error: undefined, fast: true })
  expect(stats!.totalSessions).toBe(2)
  expect(await tablesOf(schema)).toEqual({ tables: OUR_TABLES, sessions: 2 })
})

it('a schema name holding placeholders and a dollar-quote tag is only a name, counters included', async () => {
  const schema = 'x$smalltalk${key_value}{now}$$'
  const { stats, error, ms } = await exercise(schema)
  expect({ error, fast: ms < 1000 }).toEqual({ error: undefined, fast: true })
  expect(stats!.totalSessions).toBe(2)
  expect(stats!.metrics.countedBy).toBe('counters')
  expect(await tablesOf(schema)).toEqual({ tables: OUR_TABLES, sessions: 2 })
})
