#!/usr/bin/env node
// `npm run bench`: this package (native, and native with coalescing off) against the reference
// adapter on `pg` (the original TypeScript adapter's SQL and JSON flow) and the same adapter on
// postgres.js, in one process, on the same database, data and concurrency; with, for each
// workload, pgbench running the adapter's SQL on the same rows (the limit) and the JSON work of
// one operation alone (the JS-thread floor) as contestants of the same interleaved rounds. Then
// the event-loop stall of large batches, the stale-statistics workload, the scale curve
// (--scale), and the memory check in a separate process (bench/memory.mjs). The report goes to
// stdout as Markdown, the progress line to stderr, everything to bench/results/latest.json.
// `npm run bench -- --help` lists the options; bench/README.md explains the method.
//
// It exits 1 when any operation's result failed its check (or the memory bound was exceeded);
// a missed performance target is reported, not an error.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PostgresStorageAdapter } from '../index.mjs'
import { provideDatabase, targetEnv } from '../scripts/postgres.mjs'
import { PgReferenceAdapter } from './reference-pg.mjs'
import { PostgresJsReferenceAdapter } from './reference-postgresjs.mjs'
import { RedisReferenceAdapter, startRedis } from './reference-redis.mjs'
import { CONVERSATIONS, measureConversations } from './lib/conversation.mjs'
import { largeSession, serializedBytes, typicalSession } from './lib/data.mjs'
import { measureKeyValue } from './lib/key-value.mjs'
import { BenchDatabase } from './lib/database.mjs'
import { BENCH_DIR, parseOptions, selected, usage } from './lib/options.mjs'
import { findPgbench } from './lib/pgbench.mjs'
import { Progress } from './lib/progress.mjs'
import { ADAPTER_NAMES, REDIS_NAME, evaluateTargets, formatReport } from './lib/report.mjs'
import { measureWorkload } from './lib/rounds.mjs'
import { measureScale } from './lib/scale.mjs'
import { measureStale } from './lib/stale.mjs'
import { measureStalls } from './lib/stall.mjs'
import { TYPICAL_ROWS, WORKLOADS } from './lib/workloads.mjs'

const progress = new Progress()

let options
try {
  options = parseOptions(
    process.argv.slice(2),
    process.env,
    [...WORKLOADS, ...CONVERSATIONS].map((workload) => workload.key),
  )
} catch (error) {
  process.stderr.write(`${error.message}\n\n${usage(WORKLOADS)}`)
  process.exit(2)
}
if (options.help) {
  process.stdout.write(usage(WORKLOADS))
  process.exit(0)
}

const workloads = WORKLOADS.filter((workload) => selected(options, workload.key))
const runMemory = options.memory && selected(options, 'memory')
const runConversation = (key) => selected(options, 'conversation') || selected(options, key)
const conversationsRun = CONVERSATIONS.some(({ key }) => runConversation(key))
const runStall = selected(options, 'stall')
const runStale = selected(options, 'stale-stats')
const runKeyValue = selected(options, 'key-value')
const runScale = options.scale && selected(options, 'scale')

let database
try {
  database = await provideDatabase({ defaultDatabase: 'smalltalk_bench' })
} catch (error) {
  process.stderr.write(`[bench] cannot provide a database: ${error.message}\n`)
  process.exit(1)
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    progress.note(`interrupted (${signal}); stopping`)
    await database.stop()
    process.exit(130)
  })
}

const target = database.target
const connection = {
  host: target.host,
  port: target.port,
  database: target.database,
  user: target.user,
  password: target.password,
}
const verificationDetails = []
const record = (detail) => {
  verificationDetails.push(detail)
  progress.note(`verification failed: ${detail}`)
}
let db
let tablesExisted = true
const adapters = []
let exitCode = 0

/** A fresh adapter of the kind `flag` (an --adapters name); `extra`: `{ schema, searchPath }` of a benchmark schema. */
function makeAdapter(flag, extra = {}) {
  const common = { ...connection, poolSize: options.poolSize }
  // Named, so the harness can see in pg_stat_activity which SQL the adapter runs.
  const native = {
    ...common,
    applicationName: `smalltalk-bench-${flag}`,
    ...(extra.schema ? { schema: extra.schema } : {}),
  }
  const reference = {
    ...common,
    saveFlow: options.referenceSaveFlow,
    ...(extra.searchPath ? { searchPath: extra.searchPath } : {}),
  }
  switch (flag) {
    case 'native':
      return new PostgresStorageAdapter(native)
    case 'native-coalesce-off':
      return new PostgresStorageAdapter({ ...native, coalesce: false })
    case 'native-no-cache':
      // The mode PgBouncer's transaction pooling needs: one-shot typed statements, nothing prepared.
      return new PostgresStorageAdapter({ ...native, statementCache: false })
    case 'native-no-read-cache':
      return new PostgresStorageAdapter({ ...native, readCacheBytes: 0 })
    case 'pg':
      return new PgReferenceAdapter(reference)
    case 'postgres.js':
      return new PostgresJsReferenceAdapter(reference)
    default:
      throw new Error(`unknown adapter ${flag}`)
  }
}

/**
 * The coalescing figures of a native adapter, from `getStats().metrics.operations`: per method
 * that served groups, `{ groups, groupedCalls, largestGroup }`; null for the references.
 */
async function coalescingOf(adapter) {
  if (!(adapter instanceof PostgresStorageAdapter)) return null
  const { operations } = (await adapter.getStats()).metrics
  const figures = {}
  for (const [method, { groups, groupedCalls, largestGroup }] of Object.entries(operations)) {
    if (typeof groups === 'number' && groups > 0) figures[method] = { groups, groupedCalls, largestGroup }
  }
  return figures
}

/** `after - before` for every number in a metrics object (anything else: as after). */
function change(after, before) {
  if (typeof after === 'number') return typeof before === 'number' ? after - before : after
  if (after !== null && typeof after === 'object' && !Array.isArray(after)) {
    return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, change(value, before?.[key])]))
  }
  return after
}

try {
  db = await BenchDatabase.connect(connection)
  const foreign = await db.foreignRows()
  if (foreign > 0) {
    throw new Error(
      `the database ${target.database} holds ${foreign} sessions that are not the benchmark's; ` +
        'point POSTGRES_DB (or DATABASE_URL) at a database of its own (the default is smalltalk_bench)',
    )
  }
  tablesExisted = await db.hasSessionsTable()
  await db.deleteBenchRows()

  const loadAverageStart = os.loadavg()
  const machine = await machineInfo(db, loadAverageStart)
  progress.note(
    `database: ${database.throwaway ? 'a throwaway server' : 'the configured server'} ${target.host}:${target.port}/${target.database} ` +
      `(PostgreSQL ${machine.postgres}, fsync=${machine.postgresSettings.fsync}, synchronous_commit=${machine.postgresSettings.synchronous_commit}` +
      `${machine.postgresSettings.fsync === 'off' ? ': flatters saves' : ''})`,
  )
  // The package creates the schema, once; the references find it there.
  for (const flag of options.adapters) adapters.push({ flag, name: ADAPTER_NAMES[flag], adapter: makeAdapter(flag) })
  for (const { adapter } of adapters) await adapter.initialize()
  const pgbench = options.pgbench ? findPgbench() : null
  if (options.pgbench && pgbench === null)
    progress.note('pgbench not found (PATH, /usr/lib/postgresql/*/bin): no limits (install postgresql-client)')

  const results = {
    label: options.quick
      ? 'quick smoke run (numbers not meaningful)'
      : options.only === null
        ? `full run${runScale ? ' with --scale' : ''}`
        : `partial run (--only ${options.only.join(',')})`,
    startedAt: new Date().toISOString(),
    commit: commitOf(),
    options: {
      quick: options.quick,
      only: options.only,
      adapters: options.adapters,
      rounds: options.rounds,
      roundSeconds: options.roundSeconds,
      warmupSeconds: options.warmupSeconds,
      poolSize: options.poolSize,
      pgbenchSeconds: options.pgbench ? options.pgbenchSeconds : null,
      pgbenchRounds: options.pgbench ? options.pgbenchRounds : null,
      pgbench,
      stallSessions: runStall ? options.stallSessions : null,
      staleChurnRounds: runStale ? options.staleChurnRounds : null,
      scaleSizes: runScale ? options.scaleSizes : null,
      memoryOps: runMemory ? options.memoryOps : null,
      referenceSaveFlow: options.referenceSaveFlow,
      gcBetweenRounds: typeof globalThis.gc === 'function',
    },
    machine,
    database: {
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      throwaway: database.throwaway,
    },
    data: {
      typicalBytes: serializedBytes(typicalSession('bench-typical-0')),
      largeBytes: serializedBytes(largeSession('bench-large-0')),
      listRows: TYPICAL_ROWS,
    },
    adapterNames: adapters.map(({ name }) => name),
    coalesceOptionKnown: false,
    sqlMirror: [],
    workloads: [],
    conversation: null,
    stall: null,
    staleStats: null,
    keyValue: null,
    scale: null,
    targets: [],
    memory: null,
    verification: null,
  }
  progress.note(
    `${workloads.length} workloads × ${adapters.length} adapters × (${options.warmupSeconds} s warm-up + ${options.rounds} × ${options.roundSeconds} s)` +
      `${pgbench ? `, pgbench ${options.pgbenchRounds} × ${options.pgbenchSeconds} s per limit` : ''}` +
      `${runStall ? `, stall (${options.stallSessions} sessions)` : ''}${runStale ? `, stale statistics (${options.staleChurnRounds} churn rounds)` : ''}` +
      `${runScale ? `, scale ${options.scaleSizes.join('/')}` : ''}`,
  )

  let checkedOps = 0
  let failures = 0
  for (const [index, workload] of workloads.entries()) {
    const step = `[${index + 1}/${workloads.length}] ${workload.title}`
    progress.update(`${step}: seeding`)
    await db.deleteBenchRows()
    const state = await workload.setup(db)
    const before = new Map()
    for (const { name, adapter } of adapters) before.set(name, await coalescingOf(adapter))
    const measured = await measureWorkload({
      workload,
      state,
      db,
      adapters,
      options,
      pgbench,
      target: connection,
      progress,
      step,
      record,
    })
    if (workload.mirror) {
      const seen = await db.lastStatements('smalltalk-bench-native')
      const matches = seen.includes(workload.mirror)
      results.sqlMirror.push({ workload: workload.key, matches, expected: workload.mirror, seen })
      if (!matches)
        progress.note(
          `${workload.key}: the adapter's statement is not bench/lib/sql.mjs' (update it): ${seen.join(' | ')}`,
        )
    }
    const coalescing = {}
    for (const { name, adapter } of adapters) {
      const after = await coalescingOf(adapter)
      if (after !== null) {
        results.coalesceOptionKnown = true
        coalescing[name] = change(after, before.get(name))
      }
    }
    checkedOps += measured.checkedOps
    failures += measured.failures
    results.workloads.push({
      key: workload.key,
      title: workload.title,
      concurrency: workload.concurrency,
      adapters: measured.adapters,
      limits: measured.limits,
      floor: measured.floor,
      coalescing,
    })
  }
  await db.deleteBenchRows()

  if (conversationsRun) {
    await db.deleteBenchRows()
    // The pg-backed contestants of SmallTalk's workload, plus Redis when a redis-server is there.
    const contestants = adapters.filter(({ flag }) =>
      ['native', 'native-no-read-cache', 'pg', 'postgres.js'].includes(flag),
    )
    const redis = await startRedis()
    let redisAdapter = null
    if (redis !== null) {
      redisAdapter = new RedisReferenceAdapter(redis)
      await redisAdapter.initialize()
      contestants.push({ flag: 'redis', name: REDIS_NAME, adapter: redisAdapter })
    } else {
      progress.note(
        'redis-server not found (PATH, /usr/bin): the conversation workload runs without the Redis reference',
      )
    }
    try {
      const measured = await measureConversations({
        adapters: contestants,
        db,
        options,
        progress,
        record,
        only: runConversation,
      })
      results.conversation = {
        adapterNames: contestants.map(({ name }) => name),
        redis: redis && { version: redis.version },
        redisSkipped: redis ? null : 'no redis-server on PATH or in /usr/bin',
        workloads: measured.workloads,
      }
      failures += measured.failures
      checkedOps += measured.checkedOps
    } finally {
      await redisAdapter?.close().catch(() => {})
      await redis?.stop()
    }
    await db.deleteBenchRows()
  }

  if (runStall) {
    await db.deleteBenchRows()
    const stallAdapters = adapters.filter(({ flag }) => ['native', 'pg', 'postgres.js'].includes(flag))
    results.stall = await measureStalls({
      adapters: stallAdapters,
      db,
      sessions: options.stallSessions,
      rounds: options.stallRounds,
      progress,
    })
    failures += results.stall.failures
    checkedOps += results.stall.rounds * stallAdapters.length * 2
    for (const detail of results.stall.details) verificationDetails.push(detail)
  }
  for (const { adapter } of adapters.splice(0)) await adapter.close()

  if (runStale) {
    const variants = options.adapters.map((flag) => ({
      name: ADAPTER_NAMES[flag],
      make: (extra) => makeAdapter(flag, extra),
    }))
    results.staleStats = await measureStale({
      db,
      connection,
      options,
      pgbench,
      target: connection,
      progress,
      record,
      variants,
    })
    failures += results.staleStats.failures
    checkedOps += results.staleStats.checkedOps
  }

  if (runKeyValue) {
    results.keyValue = await measureKeyValue({ db, connection, options, progress, record })
    failures += results.keyValue.failures
    checkedOps += results.keyValue.checkedOps
  }

  if (runScale) {
    results.scale = await measureScale({ db, connection, options, progress })
    failures += results.scale.failures
    checkedOps += results.scale.points.reduce(
      (sum, point) => sum + Object.values(point).reduce((calls, figures) => calls + (figures?.calls ?? 0), 0),
      0,
    )
    for (const detail of results.scale.details) verificationDetails.push(detail)
  }

  if (runMemory) {
    progress.update('memory check: starting')
    results.memory = await memoryInChild(connection, options)
    if (results.memory.error || !results.memory.withinBound || results.memory.failures > 0) exitCode = 1
  }
  results.targets = evaluateTargets(results)

  results.machine.loadAverageEnd = os.loadavg()
  results.finishedAt = new Date().toISOString()
  results.verification = { checkedOps, failures, details: verificationDetails }
  if (failures > 0) exitCode = 1

  fs.mkdirSync(path.dirname(options.output), { recursive: true })
  fs.writeFileSync(options.output, `${JSON.stringify(results, null, 2)}\n`)
  progress.clear()
  process.stdout.write(formatReport(results))
  process.stdout.write(`\nResults written to ${path.relative(process.cwd(), options.output) || options.output}\n`)
} catch (error) {
  progress.clear()
  process.stderr.write(`[bench] failed: ${error.stack ?? error}\n`)
  exitCode = 1
} finally {
  for (const { adapter } of adapters) await adapter.close().catch(() => {})
  if (db) {
    await db.deleteBenchRows().catch(() => {})
    if (!tablesExisted) await db.dropTablesIfEmpty().catch(() => {})
    else await db.compactIfEmpty().catch(() => {})
    await db.close().catch(() => {})
  }
  await database.stop()
}
process.exit(exitCode)

function commitOf() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: BENCH_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], {
      cwd: BENCH_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    return dirty ? `${head} (with local changes)` : head
  } catch {
    return null
  }
}

async function machineInfo(db, loadAverageStart) {
  const cpus = os.cpus()
  const settings = {}
  for (const name of [
    'server_version',
    'fsync',
    'synchronous_commit',
    'shared_buffers',
    'max_connections',
    'jit',
    'autovacuum',
  ]) {
    settings[name] = await db.setting(name)
  }
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: settings.server_version,
    postgresSettings: settings,
    loadAverageStart,
    loadAverageEnd: null,
  }
}

function memoryInChild(target, { memoryOps, poolSize }) {
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-bench-memory-')), 'memory.json')
  const args = [
    '--expose-gc',
    path.join(BENCH_DIR, 'memory.mjs'),
    '--ops',
    String(memoryOps),
    '--pool-size',
    String(poolSize),
    '--result-file',
    resultFile,
  ]
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...targetEnv(target) },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    child.on('error', (error) => resolve({ error: error.message }))
    child.on('exit', (code, signal) => {
      try {
        const result = JSON.parse(fs.readFileSync(resultFile, 'utf8'))
        resolve(result)
      } catch {
        resolve({ error: `bench/memory.mjs exited with ${code ?? signal} and wrote no result` })
      } finally {
        fs.rmSync(path.dirname(resultFile), { recursive: true, force: true })
      }
    })
  })
}
