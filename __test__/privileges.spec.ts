// A managed schema: a role with only DML rights on tables someone else created
// can use the adapter (initialize() checks first and creates only what is missing), and
// `createSchema: false` never runs DDL: it verifies the tables and indexes exist and says what is
// missing. DDL is observed with an event trigger that logs every DDL command started. A throwaway
// cluster of our own (roles and databases are created here).
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { makeSession, sleep } from './helpers.js'

const ROLE = 'app_dml'
const SCHEMA = 'managed_app'
const OBJECTS = ['sessions', 'key_value', 'idx_sessions_state', 'idx_sessions_updated_at', 'idx_key_value_ttl']
const noDdl = { createSchema: false }

let cluster: Throwaway
let appCounter = 0

beforeAll(async () => {
  cluster = await startThrowaway({ database: 'privileges' })
  await admin('postgres', `CREATE ROLE ${ROLE} LOGIN`)
  for (const database of ['dml_public', 'dml_schema', 'dml_plain', 'empty_db', 'partial_db', 'ddl_watch']) {
    await admin('postgres', `CREATE DATABASE ${database}`)
  }
  // The owner (postgres) creates the tables, then grants the role DML only: USAGE on the schema,
  // SELECT/INSERT/UPDATE/DELETE on both tables, no CREATE anywhere.
  await ownerInitialize('dml_public')
  await admin(
    'dml_public',
    `REVOKE CREATE ON SCHEMA public FROM PUBLIC;
     GRANT USAGE ON SCHEMA public TO ${ROLE};
     GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, key_value TO ${ROLE}`,
  )
  await ownerInitialize('dml_schema', { schema: SCHEMA })
  await admin(
    'dml_schema',
    `REVOKE CREATE ON SCHEMA public FROM PUBLIC;
     GRANT USAGE ON SCHEMA ${SCHEMA} TO ${ROLE};
     GRANT SELECT, INSERT, UPDATE, DELETE ON ${SCHEMA}.sessions, ${SCHEMA}.key_value TO ${ROLE}`,
  )
  // Tables as the original adapter made them (no counters of ours), the role again DML only.
  await admin(
    'dml_plain',
    `CREATE TABLE sessions (id TEXT PRIMARY KEY, data JSONB NOT NULL, version INTEGER NOT NULL DEFAULT 1,
       created_at TIMESTAMP NOT NULL DEFAULT NOW(), updated_at TIMESTAMP NOT NULL DEFAULT NOW());
     CREATE INDEX idx_sessions_state ON sessions ((data->>'state'));
     CREATE INDEX idx_sessions_updated_at ON sessions (updated_at);
     CREATE TABLE key_value (key TEXT PRIMARY KEY, value JSONB NOT NULL, ttl TIMESTAMP,
       created_at TIMESTAMP NOT NULL DEFAULT NOW());
     CREATE INDEX idx_key_value_ttl ON key_value (ttl) WHERE ttl IS NOT NULL;
     REVOKE CREATE ON SCHEMA public FROM PUBLIC;
     GRANT USAGE ON SCHEMA public TO ${ROLE};
     GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, key_value TO ${ROLE}`,
  )
  await ownerInitialize('partial_db')
  await admin('partial_db', 'DROP INDEX idx_key_value_ttl')
  await ownerInitialize('ddl_watch')
  await admin(
    'ddl_watch',
    `CREATE TABLE ddl_log (id serial PRIMARY KEY, tag text NOT NULL);
     CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO ddl_log (tag) VALUES (tg_tag); END $$;
     CREATE EVENT TRIGGER watch_ddl ON ddl_command_start EXECUTE FUNCTION log_ddl();
     TRUNCATE ddl_log`,
  )
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

async function admin<R extends pg.QueryResultRow = any>(
  database: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ ...cluster.target, database })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

async function ownerInitialize(database: string, options: PostgresConfig = {}): Promise<void> {
  const adapter = new PostgresStorageAdapter({ ...cluster.target, database, poolSize: 1, ...options })
  await adapter.initialize()
  await adapter.close()
}

function adapterFor(database: string, options: PostgresConfig = {}): PostgresStorageAdapter {
  return new PostgresStorageAdapter({
    ...cluster.target,
    database,
    poolSize: 2,
    applicationName: `privileges-spec-${++appCounter}`,
    ...options,
  })
}

/** The rejection of `promise`; throws when it resolves. */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    () => 'resolved' as const,
    (error: unknown) => ({ error }),
  )
  if (outcome === 'resolved') throw new Error('initialize() resolved: createSchema: false was not honoured')
  return outcome.error
}

/** The adapter's relations (and the named schema) present in `database`. */
async function objectsIn(database: string): Promise<string[]> {
  const rows = await admin(
    database,
    `SELECT c.relname AS name FROM pg_class c WHERE c.relname = ANY($1)
     UNION ALL SELECT nspname FROM pg_namespace WHERE nspname = $2 ORDER BY 1`,
    [OBJECTS, SCHEMA],
  )
  return rows.map((row) => row.name)
}

async function ddlLog(): Promise<string[]> {
  return (await admin('ddl_watch', 'SELECT tag FROM ddl_log ORDER BY id')).map((row) => row.tag)
}

/** getStats()' total is the table's, counted from where it says. */
async function expectExactStats(adapter: PostgresStorageAdapter, database: string, table: string, countedBy: string) {
  const { totalSessions, metrics } = await adapter.getStats()
  expect(metrics.countedBy).toBe(countedBy)
  const [row] = await admin(database, `SELECT count(*)::int AS n FROM ${table}`)
  expect(totalSessions).toBe(row.n)
}

/** Every method, as a role that may only read and write rows. */
async function exerciseEverything(adapter: PostgresStorageAdapter): Promise<void> {
  const old = new Date('2001-02-03T04:05:06Z')
  const sessions = [makeSession(), makeSession({ state: 'paused' }), makeSession({ updatedAt: old })]
  await adapter.saveSession(sessions[0])
  await adapter.saveSession({ ...sessions[0], version: 2 })
  expect(await adapter.saveSessions(sessions.slice(1))).toBe(2)
  expect((await adapter.getSession(sessions[0].id))!.version).toBe(2)
  expect((await adapter.getSessions(sessions.map((s) => s.id))).size).toBe(3)
  expect(await adapter.hasSession(sessions[1].id)).toBe(true)
  expect((await adapter.listSessions('paused')).map((summary) => summary.id)).toContain(sessions[1].id)
  expect((await adapter.getStats()).totalSessions).toBeGreaterThanOrEqual(3)
  expect(await adapter.clear(new Date('2002-01-01T00:00:00Z'))).toBe(1)
  expect(await adapter.deleteSession(sessions[0].id)).toBe(true)
  expect(await adapter.deleteSessions([sessions[1].id, 'missing'])).toBe(1)
  await adapter.setValue('dml-key', { ok: true })
  await adapter.setValue('dml-short', 1, { ttl: 0.001 })
  expect(await adapter.getValue('dml-key')).toEqual({ ok: true })
  expect(await adapter.hasValue('dml-key')).toBe(true)
  expect(await adapter.deleteValue('dml-key')).toBe(true)
  await sleep(20)
  expect(await adapter.purgeExpired()).toBeGreaterThanOrEqual(1)
  expect(await adapter.healthCheck()).toEqual({ healthy: true })
}

describe(`a role with only DML rights (${ROLE})`, () => {
  it('really cannot create anything (the setup is what it claims)', async () => {
    const client = new pg.Client({ ...cluster.target, database: 'dml_public', user: ROLE })
    await client.connect()
    try {
      await expect(client.query('CREATE TABLE probe (a int)')).rejects.toMatchObject({ code: '42501' })
      await expect(client.query(`CREATE TABLE ${SCHEMA}_probe (a int)`)).rejects.toMatchObject({ code: '42501' })
      await expect(client.query('SELECT count(*) FROM sessions')).resolves.toBeDefined()
    } finally {
      await client.end()
    }
  })

  it.each([
    ['the default schema', 'dml_public', {}],
    [`schema ${SCHEMA}`, 'dml_schema', { schema: SCHEMA }],
    ['the default schema with createSchema: false', 'dml_public', noDdl],
    [`schema ${SCHEMA} with createSchema: false`, 'dml_schema', { schema: SCHEMA, ...noDdl }],
  ])('on tables in %s: initialize() succeeds and every call works', async (_name, database, options) => {
    const adapter = adapterFor(database, { user: ROLE, ...options })
    try {
      await adapter.initialize()
      await exerciseEverything(adapter)
      // The owner's initialize() made the state counters: the role's writes keep them exact.
      await adapter.saveSession(makeSession())
      await expectExactStats(adapter, database, 'schema' in options ? `${SCHEMA}.sessions` : 'sessions', 'counters')
    } finally {
      await adapter.close()
    }
  })

  it('on tables without our counters, which it may not create: every call works and getStats counts the table', async () => {
    const adapter = adapterFor('dml_plain', { user: ROLE })
    try {
      await adapter.initialize()
      await exerciseEverything(adapter)
      await adapter.saveSession(makeSession())
      await expectExactStats(adapter, 'dml_plain', 'sessions', 'table')
    } finally {
      await adapter.close()
    }
  })
})

describe('createSchema: false', () => {
  it.each([
    ['unqualified tables', {}],
    [`schema ${SCHEMA}`, { schema: SCHEMA }],
  ])(
    'on an empty database (%s): initialize() rejects naming every missing object, and creates nothing',
    async (_name, options) => {
      const adapter = adapterFor('empty_db', { ...options, ...noDdl })
      try {
        const error = await refusal(adapter.initialize())
        expect(error).toBeInstanceOf(StorageError)
        expect((error as StorageError).name).toBe('StorageError')
        expect((error as StorageError).code).toBe('E_QUERY')
        for (const name of OBJECTS) expect((error as Error).message).toContain(name)
        expect(await objectsIn('empty_db')).toEqual([])
      } finally {
        await adapter.close()
      }
    },
  )

  it('with one index missing: initialize() rejects naming that index only, and creates nothing', async () => {
    const adapter = adapterFor('partial_db', noDdl)
    try {
      const error = await refusal(adapter.initialize())
      expect(error).toBeInstanceOf(StorageError)
      expect((error as StorageError).code).toBe('E_QUERY')
      expect((error as Error).message).toContain('idx_key_value_ttl')
      expect((error as Error).message).not.toContain('idx_sessions_state')
      expect(await objectsIn('partial_db')).toEqual(OBJECTS.filter((name) => name !== 'idx_key_value_ttl').sort())
    } finally {
      await adapter.close()
    }
  })

  it('with everything present: initialize() succeeds and runs no DDL at all', async () => {
    await admin('ddl_watch', 'TRUNCATE ddl_log')
    const adapter = adapterFor('ddl_watch', noDdl)
    try {
      await adapter.initialize()
      await exerciseEverything(adapter)
      expect(await ddlLog()).toEqual([])
    } finally {
      await adapter.close()
    }
  })
})

describe('initialize() checks first (default createSchema)', () => {
  it('with everything present it runs no DDL', async () => {
    await admin('ddl_watch', 'TRUNCATE ddl_log')
    const adapter = adapterFor('ddl_watch')
    try {
      await adapter.initialize()
      await adapter.initialize()
      expect(await ddlLog()).toEqual([])
    } finally {
      await adapter.close()
    }
  })

  it('with one index missing it creates that index only', async () => {
    await admin('ddl_watch', 'DROP INDEX idx_sessions_updated_at; TRUNCATE ddl_log')
    const adapter = adapterFor('ddl_watch')
    try {
      await adapter.initialize()
      expect(await ddlLog()).toEqual(['CREATE INDEX'])
      expect(await objectsIn('ddl_watch')).toEqual([...OBJECTS].sort())
    } finally {
      await adapter.close()
    }
  })
})
