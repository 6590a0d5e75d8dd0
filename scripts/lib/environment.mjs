// @ts-check
// Which server the user configured: the connection variables (DATABASE_URL / POSTGRES_URL,
// POSTGRES_*, PG*), the target they name, and the environment a child process needs to reach it.

import { parseConnectionUrl, withDatabase } from './connection-url.mjs'

/** @typedef {Record<string, string | undefined>} Env */

/**
 * A server and database to connect to, with the login; never printed whole (it holds the password).
 * @typedef {object} Target
 * @property {string} host
 * @property {number} port
 * @property {string} database
 * @property {string} user
 * @property {string} password
 * @property {string} [url] The user's DATABASE_URL / POSTGRES_URL, whole (naming `database`).
 * @property {string} [sslmode]
 * @property {string} [sslrootcert]
 */

/**
 * The bootstrap's messages, on stderr.
 * @param {string} message
 */
export const log = (message) => process.stderr.write(`[postgres] ${message}\n`)

/** The variables that name a server or a login; any of them set means "the user configured one". */
export const CONNECTION_VARIABLES = Object.freeze([
  'DATABASE_URL',
  'POSTGRES_URL',
  'POSTGRES_HOST',
  'POSTGRES_PORT',
  'POSTGRES_DB',
  'POSTGRES_USER',
  'POSTGRES_PASSWORD',
  'PGHOST',
  'PGHOSTADDR',
  'PGPORT',
  'PGDATABASE',
  'PGUSER',
  'PGPASSWORD',
])

/**
 * The connection variables set (non-empty) in `env`.
 * @param {Env} [env]
 * @returns {string[]}
 */
export function configuredVariables(env = process.env) {
  return CONNECTION_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '')
}

/**
 * `where` for messages: host:port, never a password.
 * @param {Target} target
 * @returns {string}
 */
export const describeTarget = (target) => `${target.host}:${target.port}`

/**
 * The connection the user configured: a URL in DATABASE_URL / POSTGRES_URL, else POSTGRES_* and
 * PG* variables (POSTGRES_* first), else the defaults (localhost:5432, user/password postgres).
 * A URL is kept whole as `url` (with its query, e.g. `?sslmode=require`); `sslmode` and
 * `sslrootcert` come from it or from PGSSLMODE / PGSSLROOTCERT.
 * @param {Env} [env]
 * @param {string} [defaultDatabase]
 * @returns {Target}
 */
export function configuredTarget(env = process.env, defaultDatabase = 'smalltalk_test') {
  /** @param {string[]} names */
  const pick = (...names) => names.map((name) => env[name]).find((value) => value !== undefined && value !== '')
  /** @type {Target} */
  const target = {
    host: pick('POSTGRES_HOST', 'PGHOST', 'PGHOSTADDR') ?? 'localhost',
    port: Number(pick('POSTGRES_PORT', 'PGPORT') ?? 5432),
    database: pick('POSTGRES_DB', 'PGDATABASE') ?? defaultDatabase,
    user: pick('POSTGRES_USER', 'PGUSER') ?? 'postgres',
    password: pick('POSTGRES_PASSWORD', 'PGPASSWORD') ?? 'postgres',
  }
  const sslmode = pick('PGSSLMODE')
  const sslrootcert = pick('PGSSLROOTCERT')
  if (sslmode !== undefined) target.sslmode = sslmode
  if (sslrootcert !== undefined) target.sslrootcert = sslrootcert
  const urlVariable = ['DATABASE_URL', 'POSTGRES_URL'].find((name) => pick(name) !== undefined)
  if (urlVariable !== undefined) {
    const text = /** @type {string} */ (env[urlVariable])
    const url = parseConnectionUrl(text, urlVariable)
    if (url.host) target.host = url.host
    if (url.port) target.port = url.port
    if (url.user) target.user = url.user
    if (url.password !== undefined) target.password = url.password
    if (url.database) target.database = url.database
    if (url.params.has('sslmode')) target.sslmode = /** @type {string} */ (url.params.get('sslmode'))
    if (url.params.has('sslrootcert')) target.sslrootcert = /** @type {string} */ (url.params.get('sslrootcert'))
    target.url = url.database ? text : withDatabase(text, target.database)
  }
  return target
}

/**
 * `target` on another database of the same server (its URL too).
 * @param {Target} target
 * @param {string} database
 * @returns {Target}
 */
export function onDatabase(target, database) {
  const moved = { ...target, database }
  if (target.url !== undefined) moved.url = withDatabase(target.url, database)
  return moved
}

/**
 * The environment a child process needs to reach `target`: both naming schemes, DATABASE_URL
 * when the user gave a URL (whole, with its query), PGSSLMODE / PGSSLROOTCERT when set.
 * @param {Target} target
 * @returns {Record<string, string>}
 */
export function targetEnv(target) {
  /** @type {Record<string, string>} */
  const env = {
    POSTGRES_HOST: target.host,
    POSTGRES_PORT: String(target.port),
    POSTGRES_DB: target.database,
    POSTGRES_USER: target.user,
    POSTGRES_PASSWORD: target.password,
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGDATABASE: target.database,
    PGUSER: target.user,
    PGPASSWORD: target.password,
  }
  if (target.url !== undefined) env.DATABASE_URL = target.url
  if (target.sslmode !== undefined) env.PGSSLMODE = target.sslmode
  if (target.sslrootcert !== undefined) env.PGSSLROOTCERT = target.sslrootcert
  return env
}
