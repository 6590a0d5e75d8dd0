// Through PgBouncer in transaction pooling mode (started by `npm run test:scale`, which also runs
// the whole contract suite through it): many clients on few server connections with
// statementCache: false, and why that option exists.
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

it('4 adapters x 10 connections share 5 server connections with statementCache: false', async () => {
  const adapters = Array.from({ length: 4 }, () => new PostgresStorageAdapter({ ...bouncer(), poolSize: 10, statementCache: false }))
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
