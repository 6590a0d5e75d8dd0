// Shared test helpers: the test server's connection settings, table drops through a separate
// connection (only ever in the database the test run created), session builders and sleep.
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { TEST_DATABASE_COMMENT, TEST_DATABASE_VARIABLE } from '../scripts/postgres.mjs'
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { MessageTurn, PostgresConfig, Session } from '@smalltalk-ai/postgres-storage'

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Where the test run's database is: a single host and port, for the adapter and for `pg` clients alike. */
export interface TestServer {
  host: string
  port: number
  database: string
  user: string
  password: string
}

/** The test server, from POSTGRES_* (scripts/with-database.mjs sets them) with the contract suite's defaults. */
export function testServer(): TestServer {
  return {
    host: process.env.POSTGRES_HOST ?? 'localhost',
    port: Number(process.env.POSTGRES_PORT ?? 5432),
    database: process.env.POSTGRES_DB ?? 'smalltalk_test',
    user: process.env.POSTGRES_USER ?? 'postgres',
    password: process.env.POSTGRES_PASSWORD ?? 'postgres',
  }
}

/**
 * The connection the contract suite uses (the test server), pool 5. `npm run test:scale` sets
 * SMALLTALK_TEST_STATEMENT_CACHE=false to run the suite through PgBouncer.
 */
export function contractConfig(): PostgresConfig {
  return {
    ...testServer(),
    poolSize: 5,
    ...(process.env.SMALLTALK_TEST_STATEMENT_CACHE === 'false' ? { statementCache: false } : {}),
  }
}

let verifiedDatabase: string | undefined

/**
 * The guard in front of every table drop and TRUNCATE the suites run: the connection must be on
 * the database this run created (scripts/with-database.mjs names it in SMALLTALK_TEST_DATABASE and
 * marks it with a comment), so jest run by hand against your own database cannot destroy its data.
 */
async function assertRunDatabase(client: pg.Client, database: string): Promise<void> {
  if (verifiedDatabase === database) return
  const refuse = (why: string) =>
    new Error(
      `refusing to drop or clear tables in the database "${database}": ${why}. The tests do that only in a ` +
        'database created for their run: run them with `npm test` (or `node scripts/with-database.mjs <command>`), ' +
        'which creates one on your server and drops it at the end.',
    )
  const marker = process.env[TEST_DATABASE_VARIABLE]
  if (!marker) throw refuse(`${TEST_DATABASE_VARIABLE} is not set, so no database was created for this run`)
  if (marker !== database) throw refuse(`this run's own database is "${marker}"`)
  const { rows } = await client.query(
    `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = current_database()`,
  )
  if (rows[0]?.comment !== TEST_DATABASE_COMMENT)
    throw refuse('it does not carry the mark of a database made for a test run')
  verifiedDatabase = database
}

/**
 * TLS for the `pg` client as PGSSLMODE asks, in libpq's meaning: `pg` would verify the certificate
 * under `require`, which libpq (and this adapter) do not.
 */
function rawClientSsl(): pg.ClientConfig['ssl'] {
  switch (process.env.PGSSLMODE) {
    case undefined:
    case '':
    case 'disable':
      return false
    case 'verify-ca':
    case 'verify-full':
      return {}
    default:
      return { rejectUnauthorized: false }
  }
}

/** A plain `pg` client on the test run's database (the "separate connection"). */
export async function rawClient(): Promise<pg.Client> {
  const { host, port, database, user, password } = testServer()
  const client = new pg.Client({ host, port, database, user, password, ssl: rawClientSsl() })
  await client.connect()
  try {
    await assertRunDatabase(client, database)
  } catch (error) {
    await client.end()
    throw error
  }
  return client
}

/** Connections `target`'s server sees with this application_name (read-only: any server). */
export async function connectionsNamed(target: pg.ClientConfig, applicationName: string): Promise<number> {
  const client = new pg.Client(target)
  await client.connect()
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ])
    return rows[0].n
  } finally {
    await client.end()
  }
}

/** Runs one SQL statement through a separate connection. */
export async function sql<R extends pg.QueryResultRow = any>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = await rawClient()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

/** Drops both tables, as the contract suite does before and after every test. */
export async function dropTables(): Promise<void> {
  await sql('DROP TABLE IF EXISTS sessions; DROP TABLE IF EXISTS key_value')
}

/**
 * Registers the contract suite's per-test lifecycle (drop tables, new adapter, initialize; then
 * close, drop tables) and returns a getter for the current test's adapter.
 */
export function adapterPerTest(options: PostgresConfig = {}): () => PostgresStorageAdapter {
  let adapter: PostgresStorageAdapter
  beforeEach(async () => {
    await dropTables()
    adapter = new PostgresStorageAdapter({ ...contractConfig(), ...options })
    await adapter.initialize()
  })
  afterEach(async () => {
    await adapter.close()
    await dropTables()
  })
  return () => adapter
}

/** `count` turns, each with one reply per agent. */
export function makeTurns(
  count: number,
  agentIds: string[] = ['agent-a', 'agent-b'],
  base = Date.now(),
): MessageTurn[] {
  const turns: MessageTurn[] = []
  for (let sequence = 1; sequence <= count; sequence++) {
    const timestamp = new Date(base + sequence * 1000)
    turns.push({
      sequence,
      timestamp,
      userMessage: `User message number ${sequence}: what should we do about item ${sequence}?`,
      agentResponses: agentIds.map((agentId, index) => ({
        agentId,
        response: `Reply ${sequence} from ${agentId}: here is a considered answer with some detail, option ${index}.`,
        timestamp: new Date(timestamp.getTime() + 100 + index),
      })),
    })
  }
  return turns
}

/** A complete session (3 turns, 2 agents unless overridden). */
export function makeSession(overrides: Partial<Session> = {}): Session {
  const now = new Date()
  const agentIds = overrides.agentIds ?? ['agent-a', 'agent-b']
  const history = overrides.conversationHistory ?? makeTurns(3, agentIds)
  const session: Session = {
    id: randomUUID(),
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 3_600_000),
    state: 'active',
    agentIds,
    agentStates: Object.fromEntries(
      agentIds.map((agentId) => [
        agentId,
        {
          config: { model: 'gpt-4', temperature: 0.2, tools: ['search', 'calc'] },
          context: { lastTopic: 'planning', notes: { count: 2 } },
          messageHistory: history.slice(-2),
        },
      ]),
    ),
    conversationHistory: history,
    sharedContext: { project: { name: 'demo', nested: { depth: [1, 2, { three: true }] } } },
    metadata: { userId: 'user-1', tags: ['test', 'contract'] },
    version: 1,
    ...overrides,
  }
  return session
}
