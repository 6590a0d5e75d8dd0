// Through PgBouncer in transaction pooling mode (started by `npm run test:scale`, which also runs
// the whole contract suite through it): many clients on few server connections with
// statementCache: false, why that option exists, and that the adapter leaves no session setting on
// the server connections PgBouncer shares with other applications.
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { dropTables, makeSession, sql } from '../helpers.js'

const bouncer = (): PostgresConfig => {
  if (!process.env.PGBOUNCER_PORT) throw new Error('run through `npm run test:scale`, which starts PgBouncer')
  return {
    host: process.env.PGBOUNCER_HOST,
    port: Number(process.env.PGBOUNCER_PORT),
    database: process.env.POSTGRES_DB ?? 'smalltalk_test',
    user: process.env.POSTGRES_USER ?? 'postgres',
    password: process.env.POSTGRES_PASSWORD ?? 'postgres',
  }
}

beforeEach(dropTables)
afterAll(dropTables)

/** Settings a session-level SET on a shared server connection would change for everyone. */
const WATCHED = [
  'jit',
  'default_toast_compression',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
]

type Reading = { pid: number; name: string; setting: string; reset_val: string }

/**
 * The watched settings as each of `clients` finds them on its server connection: all at once and
 * held a moment, so that they occupy different ones of PgBouncer's server connections.
 */
async function readSettings(clients: pg.Client[]): Promise<Reading[]> {
  const reads = await Promise.all(
    clients.map((client) =>
      client.query<Reading>(
        'SELECT pg_backend_pid() AS pid, name, setting, reset_val FROM pg_settings, pg_sleep(0.05) WHERE name = ANY($1)',
        [WATCHED],
      ),
    ),
  )
  return reads.flatMap((read) => read.rows)
}

it('4 adapters x 10 connections share 5 server connections with statementCache: false', async () => {
  const adapters = Array.from(
    { length: 4 },
    () => new PostgresStorageAdapter({ ...bouncer(), poolSize: 10, statementCache: false }),
  )
  for (const adapter of adapters) await adapter.initialize()
  try {
    const sessions = Array.from({ length: 40 }, () => makeSession())
    await adapters[0].saveSessions(sessions.slice(0, 20))
    const work = sessions.flatMap((session, index) => {
      const adapter = adapters[index % adapters.length]
      return [
        (async () => {
          if (index >= 20) await adapter.saveSession(session)
          const read = await adapter.getSession(session.id)
          expect(read!.id).toBe(session.id)
          await adapter.saveSession({ ...read!, version: 2, state: 'paused' })
          await adapter.setValue(`k-${index}`, { index }, { ttl: 60 })
          expect(await adapter.getValue(`k-${index}`)).toEqual({ index })
        })(),
        adapter.listSessions('active', 5),
        adapter.getStats(),
      ]
    })
    await Promise.all(work)
    const found = await adapters[1].getSessions(sessions.map((session) => session.id))
    expect(found.size).toBe(40)
    expect([...found.values()].every((session) => session.version === 2 && session.state === 'paused')).toBe(true)
    // A stale save is still refused through the bouncer, atomically for batches.
    await expect(adapters[2].saveSessions([makeSession(), { ...sessions[0], version: 2 }])).rejects.toMatchObject({
      name: 'ConflictError',
      conflictingVersions: [2, 2],
    })
    expect((await adapters[3].getStats()).totalSessions).toBe(40)
  } finally {
    for (const adapter of adapters) await adapter.close()
  }
}, 60_000)

it('with the statement cache on, transaction pooling breaks named prepared statements (why the option exists)', async () => {
  const adapters = Array.from({ length: 4 }, () => new PostgresStorageAdapter({ ...bouncer(), poolSize: 10 }))
  const failures: unknown[] = []
  try {
    for (const adapter of adapters) await adapter.initialize().catch((error: unknown) => failures.push(error))
    for (let round = 0; round < 20 && failures.length === 0; round++) {
      const calls = adapters.flatMap((adapter) =>
        Array.from({ length: 25 }, (_, index) =>
          (index % 2 ? adapter.getSession(`s-${index}`) : adapter.listSessions(undefined, 3)).catch((error: unknown) =>
            failures.push(error),
          ),
        ),
      )
      await Promise.all(calls)
    }
  } finally {
    for (const adapter of adapters) await adapter.close()
  }
  expect(failures.length).toBeGreaterThan(0)
  expect(failures[0]).toBeInstanceOf(StorageError)
  expect(String((failures[0] as Error).message)).toMatch(/prepared statement|bind message|portal/)
}, 60_000)

it('adapters coming and going leave no session setting on the server connections PgBouncer shares', async () => {
  // More clients than PgBouncer's pool (5, scripts/test-scale.mjs) has server connections: each
  // reading covers all of them, including those the adapters' connections just ran on.
  const { host, port, database, user, password } = bouncer()
  const clients = Array.from(
    { length: 6 },
    () => new pg.Client({ host: host as string, port: port as number, database, user, password }),
  )
  for (const client of clients) await client.connect()
  try {
    // Before any adapter of this test: what a new session starts with, on every server connection.
    const before = new Map<string, string>()
    for (const { name, setting, reset_val } of await readSettings(clients)) {
      expect({ name, setting }).toEqual({ name, setting: before.get(name) ?? setting })
      expect({ name, setting }).toEqual({ name, setting: reset_val })
      before.set(name, setting)
    }
    expect([...before.keys()].sort()).toEqual([...WATCHED].sort())
    const seen = new Set<number>()
    const differences = new Set<string>()
    const check = (readings: Reading[]) => {
      for (const { pid, name, setting } of readings) {
        seen.add(pid)
        if (setting !== before.get(name)) differences.add(`${name} = ${setting} on server connection ${pid}`)
      }
    }
    for (let round = 0; round < 8; round++) {
      // Default options (TOAST compression lz4): a fresh adapter, so fresh connections.
      const adapter = new PostgresStorageAdapter({ ...bouncer(), poolSize: 3, statementCache: false })
      try {
        await adapter.initialize()
        const sessions = Array.from({ length: 3 }, () => makeSession())
        const work = Promise.all([
          ...sessions.map((session) => adapter.saveSession(session)),
          adapter.listSessions(undefined, 5),
          adapter.getStats(),
          adapter.setValue(`k-${round}`, { round }),
        ])
        check(await readSettings(clients))
        await work
        await adapter.saveSessions(sessions.map((session) => ({ ...session, version: 2 })))
        check(await readSettings(clients))
      } finally {
        await adapter.close()
      }
      check(await readSettings(clients))
    }
    expect([...differences]).toEqual([])
    expect(seen.size).toBeGreaterThanOrEqual(2)
  } finally {
    for (const client of clients) await client.end()
  }
}, 60_000)
