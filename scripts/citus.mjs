// Citus (sharded PostgreSQL) for `npm run test:scale`: builds the vendored source
// (vendor/citus-<version>.tar.gz) once per machine, caches the result, starts a coordinator and two
// workers on loopback ports, and runs the contract suite, the batch and conditional-read specs and the Citus specs
// (__test__/scale/citus/) against the coordinator.
//
//   node scripts/citus.mjs            build (or reuse the cache), start the cluster, run the specs
//   node scripts/citus.mjs build      build (or reuse the cache) and install only
//
// The build is cached in $SMALLTALK_CITUS_CACHE, else $XDG_CACHE_HOME/smalltalk-citus/<version>-<key>
// (default ~/.cache), where <key> is a digest of the tarball, the patch, the configure flags and
// `pg_config --version`: a second run on the same machine reuses it without rebuilding.
// Installing: as root, the cached files are copied into PostgreSQL's own directories (as
// `make install` would); otherwise a private copy of PostgreSQL's server binaries and share
// directory is made beside the cache with Citus added, and the clusters run from it (PG_BIN).
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import {
  createTestDatabase,
  findServerBinaries,
  startThrowaway,
  TEST_DATABASE_VARIABLE,
  targetEnv,
} from './postgres.mjs'

export const CITUS_VERSION = '13.2.2'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tarball = path.join(root, 'vendor', `citus-${CITUS_VERSION}.tar.gz`)
const CONFIGURE_FLAGS = ['--without-libcurl']
const log = (message) => process.stderr.write(`[citus] ${message}\n`)

// PostgreSQL 15.20 declares have_createdb_privilege() extern in commands/dbcommands.h; Citus' own
// static copy for PostgreSQL < 16 then fails to compile ("static declaration follows non-static
// declaration"). Renaming Citus' copy keeps both (a static declaration followed by an extern one
// is valid C, so the order of the two headers does not matter).
const PATCHES = [
  {
    file: 'src/include/pg_version_compat.h',
    from: 'static inline bool\nhave_createdb_privilege(void)\n',
    to: '#define have_createdb_privilege citus_have_createdb_privilege\nstatic inline bool\ncitus_have_createdb_privilege(void)\n',
  },
]

// The pg_config of the server the clusters run (PG_CONFIG, else the one beside its initdb).
function pgConfigPath() {
  if (process.env.PG_CONFIG) return process.env.PG_CONFIG
  const binDir = findServerBinaries()
  return binDir !== null && fs.existsSync(path.join(binDir, 'pg_config')) ? path.join(binDir, 'pg_config') : 'pg_config'
}
const pgConfig = (flag) => execFileSync(pgConfigPath(), [flag], { encoding: 'utf8' }).trim()
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

function run(file, args, options = {}) {
  const started = Date.now()
  const result = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options })
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').slice(-40).join('\n')
    throw new Error(`${file} ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${output}`)
  }
  return Date.now() - started
}

/** Where the build for this source, patch, flags and PostgreSQL is cached. */
export function citusCacheDir() {
  if (!fs.existsSync(tarball)) throw new Error(`${path.relative(root, tarball)} is missing (see vendor/README.md)`)
  const key = createHash('sha256')
    .update(fs.readFileSync(tarball))
    .update(JSON.stringify({ PATCHES, CONFIGURE_FLAGS, pg: pgConfig('--version'), bindir: pgConfig('--bindir') }))
    .digest('hex')
    .slice(0, 16)
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return process.env.SMALLTALK_CITUS_CACHE || path.join(cacheRoot, 'smalltalk-citus', `${CITUS_VERSION}-${key}`)
}

/** Builds Citus into `<cache>/stage` (a DESTDIR install) unless the cache holds it already. */
function buildIntoCache(cache) {
  const stage = path.join(cache, 'stage')
  if (fs.existsSync(path.join(cache, 'built'))) {
    log(`using the cached build in ${cache}`)
    return stage
  }
  log(
    `building Citus ${CITUS_VERSION} from ${path.relative(root, tarball)} into ${cache} (a few minutes, once per machine)`,
  )
  const work = path.join(cache, 'build')
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(work, { recursive: true })
  run('tar', ['xzf', tarball, '-C', work])
  const source = path.join(work, `citus-${CITUS_VERSION}`)
  for (const { file, from, to } of PATCHES) {
    const text = fs.readFileSync(path.join(source, file), 'utf8')
    if (!text.includes(from)) throw new Error(`the compile fix for ${file} no longer applies: its text changed`)
    fs.writeFileSync(path.join(source, file), text.replace(from, to))
  }
  const env = { ...process.env, PG_CONFIG: pgConfigPath() }
  const configured = run('./configure', CONFIGURE_FLAGS, { cwd: source, env })
  const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 4)))
  const made = run('make', ['-j', jobs], { cwd: source, env })
  run('make', ['install', `DESTDIR=${stage}`], { cwd: source, env })
  fs.rmSync(work, { recursive: true, force: true })
  fs.writeFileSync(path.join(cache, 'built'), `${new Date().toISOString()}\n`)
  log(
    `built in ${Math.round((configured + made) / 1000)} s (configure ${Math.round(configured / 1000)} s, make ${Math.round(made / 1000)} s)`,
  )
  return stage
}

function filesUnder(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(full, base) : [path.relative(base, full)]
  })
}

const sameFile = (a, b) => {
  if (!fs.existsSync(b)) return false
  const left = fs.readFileSync(a)
  const right = fs.readFileSync(b)
  return left.equals(right)
}

// As root: copy the staged files to the absolute paths `make install` would have written.
function installIntoPostgres(stage) {
  let copied = 0
  for (const relative of filesUnder(stage)) {
    const from = path.join(stage, relative)
    const to = path.join('/', relative)
    if (sameFile(from, to)) continue
    fs.mkdirSync(path.dirname(to), { recursive: true })
    fs.copyFileSync(from, to)
    copied++
  }
  log(
    copied === 0
      ? `already installed in ${pgConfig('--pkglibdir')}`
      : `installed ${copied} files into PostgreSQL's directories`,
  )
  return pgConfig('--bindir')
}

// Not root: a private PostgreSQL tree mirroring the installation's absolute paths under <cache>/pg
// (server binaries copied, libraries linked, share copied), plus Citus. PostgreSQL finds its share
// and library directories relative to its own binary, so the clusters load Citus from there.
function privateInstallation(cache, stage) {
  const tree = path.join(cache, 'pg')
  const bindir = pgConfig('--bindir')
  if (!fs.existsSync(path.join(cache, 'pg-ready'))) {
    fs.rmSync(tree, { recursive: true, force: true })
    const mirror = (dir) => path.join(tree, dir)
    fs.mkdirSync(mirror(bindir), { recursive: true })
    for (const exe of ['postgres', 'initdb', 'pg_ctl', 'pg_basebackup']) {
      if (fs.existsSync(path.join(bindir, exe))) fs.copyFileSync(path.join(bindir, exe), path.join(mirror(bindir), exe))
      fs.chmodSync(path.join(mirror(bindir), exe), 0o755)
    }
    const pkglibdir = pgConfig('--pkglibdir')
    fs.mkdirSync(mirror(pkglibdir), { recursive: true })
    for (const entry of fs.readdirSync(pkglibdir))
      fs.symlinkSync(path.join(pkglibdir, entry), path.join(mirror(pkglibdir), entry))
    fs.cpSync(pgConfig('--sharedir'), mirror(pgConfig('--sharedir')), { recursive: true })
    for (const relative of filesUnder(stage)) {
      const to = path.join(tree, relative)
      fs.mkdirSync(path.dirname(to), { recursive: true })
      fs.rmSync(to, { force: true })
      fs.copyFileSync(path.join(stage, relative), to)
    }
    fs.writeFileSync(path.join(cache, 'pg-ready'), '')
    log(`made a private PostgreSQL with Citus in ${tree}`)
  }
  return path.join(tree, bindir)
}

/**
 * Builds (or reuses) and installs Citus; resolves to the directory of the initdb / pg_ctl /
 * postgres to run clusters with. SMALLTALK_CITUS_INSTALL=private forces the private tree as root.
 */
export function ensureCitus() {
  const cache = citusCacheDir()
  fs.mkdirSync(cache, { recursive: true })
  const stage = buildIntoCache(cache)
  const asRoot = isRoot() && process.env.SMALLTALK_CITUS_INSTALL !== 'private'
  const binDir = asRoot ? installIntoPostgres(stage) : privateInstallation(cache, stage)
  if (isRoot() && !asRoot) execFileSync('chmod', ['-R', 'a+rX', cache])
  return binDir
}

/**
 * How the tables are distributed: by their primary keys, so each single-session and single-key
 * call is routed to one shard and the version-guarded upsert stays one shard-local statement.
 * Run on the coordinator after `initialize()` created the tables: the production setup runs it
 * once; the Citus specs run it after every `initialize()` (they drop the tables around each test).
 * Idempotent, and serialized by an advisory lock for adapters initializing at once.
 */
export const DISTRIBUTE_SQL = `DO $distribute$
BEGIN
  PERFORM pg_advisory_xact_lock(5437826);
  IF to_regclass('sessions') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass('sessions')) THEN
    -- Citus distributes no table with triggers: the adapter's state counters go (getStats then
    -- counts the table, which Citus fans out to the shards).
    DROP TRIGGER IF EXISTS smalltalk_session_states_insert_delete ON sessions;
    DROP TRIGGER IF EXISTS smalltalk_session_states_update ON sessions;
    DROP TRIGGER IF EXISTS smalltalk_session_states_truncate ON sessions;
    PERFORM create_distributed_table('sessions', 'id');
  END IF;
  IF to_regclass('key_value') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass('key_value')) THEN
    PERFORM create_distributed_table('key_value', 'key');
  END IF;
END $distribute$`

async function withClient(target, database, work) {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
  })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * A coordinator and `workers` workers (throwaway clusters with Citus preloaded), one database of
 * the run's own (`smalltalk_test_<random>`, marked as createTestDatabase marks it, on every node,
 * with the extension) and the workers added.
 * Resolves to `{ coordinator, workers, database, env, stop() }`; `env` is what the specs read.
 */
export async function startCitus({
  workers: workerCount = 2,
  settings: extraSettings = JSON.parse(process.env.SMALLTALK_CITUS_SETTINGS ?? '{}'),
} = {}) {
  const binDir = ensureCitus()
  const previousBin = process.env.PG_BIN
  process.env.PG_BIN = binDir
  const settings = {
    shared_preload_libraries: 'citus',
    // Cross-shard writes commit in two phases.
    max_prepared_transactions: 100,
    max_connections: 200,
    shared_buffers: '64MB',
    ...extraSettings,
  }
  const nodes = []
  const stop = async () => {
    for (const node of nodes.reverse()) await node.stop().catch(() => {})
  }
  try {
    const started = Date.now()
    for (let i = 0; i <= workerCount; i++) nodes.push(await startThrowaway({ database: 'postgres', settings }))
    const [coordinator, ...workers] = nodes
    const database = await createTestDatabase(coordinator.target)
    for (const worker of workers)
      await withClient(worker.target, 'postgres', (client) => client.query(`CREATE DATABASE ${database}`))
    for (const node of nodes)
      await withClient(node.target, database, (client) => client.query('CREATE EXTENSION citus'))
    await withClient(coordinator.target, database, async (client) => {
      await client.query('SELECT citus_set_coordinator_host($1, $2)', [
        coordinator.target.host,
        coordinator.target.port,
      ])
      for (const worker of workers)
        await client.query('SELECT citus_add_node($1, $2)', [worker.target.host, worker.target.port])
    })
    const version = await withClient(
      coordinator.target,
      database,
      async (client) => (await client.query('SELECT citus_version() AS v')).rows[0].v,
    )
    log(
      `${version.split(' on ')[0]}: coordinator 127.0.0.1:${coordinator.target.port}, workers ${workers.map((w) => `127.0.0.1:${w.target.port}`).join(', ')}, database ${database}, up in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    )
    const target = { ...coordinator.target, database }
    const env = { ...targetEnv(target), [TEST_DATABASE_VARIABLE]: database, SMALLTALK_CITUS: '1' }
    env.SMALLTALK_CITUS_WORKERS = workers.map((worker) => `${worker.target.host}:${worker.target.port}`).join(',')
    return { coordinator, workers, database, target, env, stop }
  } catch (error) {
    await stop()
    throw error
  } finally {
    if (previousBin === undefined) delete process.env.PG_BIN
    else process.env.PG_BIN = previousBin
  }
}

/** Runs the Citus specs against a fresh cluster; resolves to jest's exit status. */
export async function runCitusSpecs(extraArgs = []) {
  const cluster = await startCitus()
  try {
    const args = [
      '--experimental-vm-modules',
      'node_modules/jest/bin/jest.js',
      '-c',
      '__test__/jest.config.js',
      '--runInBand',
    ]
    // Every initialize() is followed by DISTRIBUTE_SQL (__test__/scale/citus/setup.ts).
    args.push('--setupFilesAfterEnv', '<rootDir>/scale/citus/setup.ts', '--testPathIgnorePatterns', '/node_modules/')
    // SmallTalk's two latency bounds (contract 37: a 100 KB save under 50 ms; 39: a batch of 10
    // within 1.2x ten single saves) are not claimed on Citus, where a cross-shard batch is a
    // two-phase commit (docs/scaling.md gives the figures); every other test of the suite runs,
    // its concurrent saves and gets (38) included.
    args.push('--testNamePattern', '^(?!.*\\((?:37|39)\\) )')
    args.push(
      ...extraArgs,
      '--',
      '__test__/contract.spec.ts',
      '__test__/batches.spec.ts',
      '__test__/conditional-reads.spec.ts',
      '__test__/scale/citus/',
    )
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...cluster.env },
    })
    return result.status ?? 1
  } finally {
    await cluster.stop()
    log('stopped the coordinator and the workers, removed their data directories')
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'build') log(`clusters run from ${ensureCitus()}`)
  else process.exit(await runCitusSpecs(process.argv.slice(2)))
}
