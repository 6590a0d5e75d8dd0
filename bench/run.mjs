#!/usr/bin/env node
// `npm run bench`: this package (native) against the reference adapter on `pg` (the original
// TypeScript adapter's SQL and JSON flow) and the same adapter on postgres.js, in one process, on
// the same database, the same data and the same concurrency. For each workload every adapter runs
// a warm-up round, then interleaved measured rounds (the order rotates each round: A B C, B C A,
// C A B, ...). Then pgbench gives the machine's limit for the typical read, and a separate process
// runs the memory check (bench/memory.mjs). The table goes to stdout, the progress line to stderr,
// everything to bench/results/latest.json. `npm run bench -- --help` lists the options.
//
// It exits 1 when any operation's result failed its check (or the memory bound was exceeded);
// a missed performance target is reported, not an error.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PostgresStorageAdapter } from '../index.mjs'
import { provideDatabase, targetEnv } from '../scripts/postgres.mjs'
import { PgReferenceAdapter } from './reference-pg.mjs'
import { PostgresJsReferenceAdapter } from './reference-postgresjs.mjs'
import { largeSession, serializedBytes, typicalSession } from './lib/data.mjs'
import { BenchDatabase } from './lib/database.mjs'
import { runRound, summarize } from './lib/measure.mjs'
import { BENCH_DIR, parseOptions, usage } from './lib/options.mjs'
import { findPgbench, runPgbench } from './lib/pgbench.mjs'
import { Progress } from './lib/progress.mjs'
import { ADAPTERS, evaluateTargets, formatReport } from './lib/report.mjs'
import { TYPICAL_ROWS, WORKLOADS } from './lib/workloads.mjs'

const progress = new Progress()

let options
try {
  options = parseOptions(process.argv.slice(2), process.env, WORKLOADS.map((workload) => workload.key))
} catch (error) {
  process.stderr.write(`${error.message}\n\n${usage(WORKLOADS)}`)
  process.exit(2)
}
if (options.help) {
  process.stdout.write(usage(WORKLOADS))
  process.exit(0)
}

const workloads = options.only === null ? WORKLOADS : WORKLOADS.filter((workload) => options.only.includes(workload.key))
const runMemory = options.memory && (options.only === null || options.only.includes('memory'))

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
const connection = { host: target.host, port: target.port, database: target.database, user: target.user, password: target.password }
const verificationDetails = []
let db
let tablesExisted = true
const adapters = []
let exitCode = 0

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
  // The package creates the schema, once; the references find it there.
  adapters.push({ name: 'native', adapter: new PostgresStorageAdapter({ ...connection, poolSize: options.poolSize }) })
  // The mode PgBouncer's transaction pooling needs: one-shot typed statements, nothing prepared.
  adapters.push({
    name: 'native no-cache',
    adapter: new PostgresStorageAdapter({ ...connection, poolSize: options.poolSize, statementCache: false }),
  })
  adapters.push({
    name: 'pg',
    adapter: new PgReferenceAdapter({ ...connection, poolSize: options.poolSize, saveFlow: options.referenceSaveFlow }),
  })
  adapters.push({
    name: 'postgres.js',
    adapter: new PostgresJsReferenceAdapter({ ...connection, poolSize: options.poolSize, saveFlow: options.referenceSaveFlow }),
  })
  for (const { adapter } of adapters) await adapter.initialize()

  const results = {
    label: options.quick
      ? 'quick smoke run (numbers not meaningful)'
      : options.only === null
        ? 'full run'
        : `partial run (--only ${options.only.join(',')})`,
    startedAt: new Date().toISOString(),
    options: {
      quick: options.quick,
      only: options.only,
      rounds: options.rounds,
      roundSeconds: options.roundSeconds,
      warmupSeconds: options.warmupSeconds,
      poolSize: options.poolSize,
      pgbenchSeconds: options.pgbench ? options.pgbenchSeconds : null,
      memoryOps: runMemory ? options.memoryOps : null,
      referenceSaveFlow: options.referenceSaveFlow,
      gcBetweenRounds: typeof globalThis.gc === 'function',
    },
    machine: await machineInfo(db, loadAverageStart),
    database: { host: target.host, port: target.port, database: target.database, user: target.user, throwaway: database.throwaway },
    data: {
      typicalBytes: serializedBytes(typicalSession('bench-typical-0')),
      largeBytes: serializedBytes(largeSession('bench-large-0')),
      listRows: TYPICAL_ROWS,
    },
    workloads: [],
    pgbench: null,
    targets: [],
    memory: null,
    verification: null,
  }
  progress.note(
    `typical session ${results.data.typicalBytes} bytes, large session ${results.data.largeBytes} bytes serialized; ` +
      `${workloads.length} workloads × ${adapters.length} adapters × (${options.warmupSeconds} s warm-up + ${options.rounds} × ${options.roundSeconds} s)`,
  )

  let checkedOps = 0
  let failures = 0
  for (const [index, workload] of workloads.entries()) {
    const step = `[${index + 1}/${workloads.length}] ${workload.title}`
    progress.update(`${step}: seeding`)
    await db.deleteBenchRows()
    const state = await workload.setup(db)
    const rounds = Object.fromEntries(ADAPTERS.map((name) => [name, []]))
    const warmupFailures = Object.fromEntries(ADAPTERS.map((name) => [name, 0]))

    for (const { name, adapter } of adapters) {
      progress.update(`${step}: warm-up · ${name}`)
      const warmup = await runRound({ adapter, workload, state, db, seconds: options.warmupSeconds || 0.01 })
      warmupFailures[name] += warmup.failures
      checkedOps += warmup.ops
      recordErrors(workload, name, 'warm-up', warmup)
    }
    for (let round = 0; round < options.rounds; round++) {
      for (let turn = 0; turn < adapters.length; turn++) {
        const { name, adapter } = adapters[(round + turn) % adapters.length]
        progress.update(`${step}: round ${round + 1}/${options.rounds} · ${name}`)
        const result = await runRound({ adapter, workload, state, db, seconds: options.roundSeconds })
        rounds[name].push(result)
        checkedOps += result.ops
        recordErrors(workload, name, `round ${round + 1}`, result)
        progress.update(`${step}: round ${round + 1}/${options.rounds} · ${name} · ${Math.round(result.opsPerSec).toLocaleString('en-US')} ops/s`)
      }
    }

    const figures = Object.fromEntries(ADAPTERS.map((name) => [name, summarize(rounds[name])]))
    for (const name of ADAPTERS) {
      figures[name].ratio = figures[name].opsPerSec / figures.pg.opsPerSec
      figures[name].warmupFailures = warmupFailures[name]
      failures += figures[name].failures + warmupFailures[name]
    }
    results.workloads.push({
      key: workload.key,
      title: workload.title,
      concurrency: workload.concurrency,
      target: workload.target,
      adapters: figures,
    })

    if (workload.key === 'get-typical-16' && options.pgbench) {
      results.pgbench = await pgbenchLimit(connection, figures)
    }
  }
  await db.deleteBenchRows()
  for (const { adapter } of adapters.splice(0)) await adapter.close()
  results.targets = evaluateTargets(results)

  if (runMemory) {
    progress.update('memory check: starting')
    results.memory = await memoryInChild(connection, options)
    if (results.memory.error || !results.memory.withinBound || results.memory.failures > 0) exitCode = 1
  }

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
    await db.close().catch(() => {})
  }
  await database.stop()
}
process.exit(exitCode)

function recordErrors(workload, name, round, result) {
  if (result.failures === 0) return
  const detail = `${workload.key} · ${name} · ${round}: ${result.failures} failed of ${result.ops}${result.errors.length ? ` (${result.errors.join('; ')})` : ''}`
  verificationDetails.push(detail)
  progress.note(`verification failed: ${detail}`)
}

async function machineInfo(db, loadAverageStart) {
  const cpus = os.cpus()
  const settings = {}
  for (const name of ['server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections']) {
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

async function pgbenchLimit(target, figures) {
  const executable = findPgbench()
  if (executable === null) {
    progress.note('pgbench not found (PATH, /usr/lib/postgresql/*/bin): skipping the limit (install postgresql-client or the server package)')
    return { skipped: 'pgbench not found' }
  }
  progress.update(`pgbench limit: ${options.pgbenchSeconds} s, 16 clients`)
  try {
    const limit = await runPgbench({
      executable,
      target,
      idPrefix: 'bench-typical-',
      rows: TYPICAL_ROWS,
      seconds: options.pgbenchSeconds,
    })
    const share = (name) => (100 * figures[name].opsPerSec) / limit.tps
    return { ...limit, percentOfLimit: share('native'), pgPercentOfLimit: share('pg'), postgresJsPercentOfLimit: share('postgres.js') }
  } catch (error) {
    progress.note(`pgbench failed: ${error.message}`)
    return { skipped: `pgbench failed: ${error.message}` }
  }
}

function memoryInChild(target, { memoryOps, poolSize }) {
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-bench-memory-')), 'memory.json')
  const args = ['--expose-gc', path.join(BENCH_DIR, 'memory.mjs'), '--ops', String(memoryOps), '--pool-size', String(poolSize), '--result-file', resultFile]
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
