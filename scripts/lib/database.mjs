// @ts-check
// Reaching a server and managing databases on it: the probe that tells "down" from "refused",
// creating a database, and the marked database of one test run (created, and dropped only if marked).

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import pg from 'pg'
import { describeTarget, log } from './environment.mjs'

/** @typedef {import('./environment.mjs').Target} Target */

/**
 * node-postgres' settings for `target` on `database`, with libpq's meaning of sslmode.
 * @param {Target} target
 * @param {string} [database]
 * @param {{ connectionTimeoutMillis?: number, preferTls?: boolean }} [options]
 * @returns {pg.ClientConfig}
 */
function clientConfig(target, database = target.database, { connectionTimeoutMillis = 10_000, preferTls = true } = {}) {
  const { host, port, user, password } = target
  const mode = target.sslmode ?? 'disable'
  const ca =
    target.sslrootcert && target.sslrootcert !== 'system' ? fs.readFileSync(target.sslrootcert, 'utf8') : undefined
  /** @type {pg.ClientConfig['ssl']} */
  let ssl = false
  if (mode === 'require' || ((mode === 'prefer' || mode === 'allow') && preferTls)) ssl = { rejectUnauthorized: false }
  else if (mode === 'verify-ca') ssl = { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
  else if (mode === 'verify-full') ssl = { ca, rejectUnauthorized: true }
  return {
    host,
    port,
    user,
    password,
    database,
    ssl,
    connectionTimeoutMillis,
    application_name: 'smalltalk-test-bootstrap',
  }
}

/**
 * A connected client on `database` (prefer/allow: TLS when the server offers it).
 * @param {Target} target
 * @param {string} database
 * @param {{ connectionTimeoutMillis?: number }} [options]
 * @returns {Promise<pg.Client>}
 */
async function connect(target, database, options = {}) {
  /** @param {boolean} preferTls */
  const attempt = async (preferTls) => {
    const client = new pg.Client(clientConfig(target, database, { ...options, preferTls }))
    client.on('error', () => {})
    try {
      await client.connect()
      return client
    } catch (error) {
      await client.end().catch(() => {})
      throw error
    }
  }
  try {
    return await attempt(true)
  } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
    const prefer = target.sslmode === 'prefer' || target.sslmode === 'allow'
    if (prefer && /does not support SSL/i.test(error.message)) return attempt(false)
    throw error
  }
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOENT',
  'ECONNRESET',
])

/** @type {Record<string, string>} */
const REASONS = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

/**
 * `{ status: 'ok' }`, or `{ status: 'unreachable', reason }`; throws other errors (e.g. a refused login).
 * @param {Target} target
 * @param {number} timeoutMs
 * @returns {Promise<{ status: 'ok' } | { status: 'unreachable', reason: string }>}
 */
export async function reach(target, timeoutMs) {
  /** @type {pg.Client | undefined} */
  let client
  try {
    client = await connect(target, 'postgres', { connectionTimeoutMillis: timeoutMs }).catch((error) => {
      // A server without a `postgres` database still answers: try the configured one.
      if (error.code === '3D000') return connect(target, target.database, { connectionTimeoutMillis: timeoutMs })
      throw error
    })
    await client.query('SELECT 1')
    return { status: 'ok' }
  } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
    if (UNREACHABLE.has(error.code) || /timeout|terminated unexpectedly/i.test(error.message)) {
      return { status: 'unreachable', reason: REASONS[error.code] ?? error.code ?? error.message }
    }
    throw error
  } finally {
    await client?.end().catch(() => {})
  }
}

/**
 * Connects to the server's maintenance database: 'ok', 'unreachable', or throws (e.g. bad password).
 * @param {Target} target
 * @param {number} [timeoutMs]
 * @returns {Promise<'ok' | 'unreachable'>}
 */
export async function probe(target, timeoutMs = 3000) {
  return (await reach(target, timeoutMs)).status
}

/**
 * A client on the server's maintenance database (postgres, else the configured one).
 * @param {Target} target
 * @returns {Promise<pg.Client>}
 */
async function adminClient(target) {
  try {
    return await connect(target, 'postgres')
  } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
    if (error.code !== '3D000') throw error
    return connect(target, target.database === 'postgres' ? 'template1' : target.database)
  }
}

/** @param {string} name */
const quoteIdentifier = (name) => `"${name.replaceAll('"', '""')}"`

/**
 * Creates `target.database` unless it exists.
 * @param {Target} target
 * @returns {Promise<void>}
 */
export async function ensureDatabase(target) {
  const client = await adminClient(target)
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.database])
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${quoteIdentifier(target.database)}`)
      log(`created database ${target.database}`)
    }
  } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
    // Two processes creating it at once: the loser sees a duplicate.
    if (error.code !== '42P04' && error.code !== '23505') throw error
  } finally {
    await client.end()
  }
}

/** What a test run writes on the database it creates (COMMENT ON DATABASE); checked before tables are dropped. */
export const TEST_DATABASE_COMMENT =
  'smalltalk-ai/postgres-storage: created for one test run by scripts/with-database.mjs, dropped at its end'

/** The environment variable naming the database the test run created (the table-dropping guard reads it). */
export const TEST_DATABASE_VARIABLE = /** @type {const} */ ('SMALLTALK_TEST_DATABASE')

/**
 * Creates a database of the run's own, `smalltalk_test_<random>`, marked with TEST_DATABASE_COMMENT; resolves to its name.
 * @param {Target} target
 * @returns {Promise<string>}
 */
export async function createTestDatabase(target) {
  const name = `smalltalk_test_${randomBytes(5).toString('hex')}`
  const client = await adminClient(target)
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`)
    await client.query(`COMMENT ON DATABASE ${quoteIdentifier(name)} IS '${TEST_DATABASE_COMMENT}'`)
  } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
    if (error.code === '42501') {
      throw new Error(
        `the role ${target.user} may not create databases on ${describeTarget(target)}: npm test runs in a database ` +
          'it creates for the run (and drops at its end), so it needs CREATEDB there (ALTER ROLE ... CREATEDB), ' +
          'or unset DATABASE_URL / POSTGRES_* / PG* to run on a throwaway server',
      )
    }
    throw error
  } finally {
    await client.end()
  }
  return name
}

/**
 * Drops a database that createTestDatabase made (only one carrying its comment); true when dropped.
 * @param {Target} target
 * @param {string} name
 * @returns {Promise<boolean>}
 */
export async function dropTestDatabase(target, name) {
  const client = await adminClient(target)
  try {
    const found = await client.query(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    )
    if (found.rowCount === 0) return false
    if (found.rows[0].comment !== TEST_DATABASE_COMMENT)
      throw new Error(`refusing to drop ${name}: it is not a test run's database`)
    const major = Number((await client.query('SHOW server_version_num')).rows[0].server_version_num) / 10000
    for (let attempt = 1; ; attempt++) {
      try {
        if (major >= 13) {
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)
        } else {
          await client.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [name],
          )
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`)
        }
        return true
      } catch (/** @type {any} pg's or Node's error, with its `code` */ error) {
        // 55006: still in use (a connection that was closing); try again shortly.
        if (error.code !== '55006' || attempt >= 10) throw error
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  } finally {
    await client.end()
  }
}
