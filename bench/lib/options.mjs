// Command-line flags and BENCH_* environment variables of `npm run bench` (flags win over the
// environment, which wins over --quick, which wins over the defaults).
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The adapters a run can compare (`--adapters`), by flag name: what each one is. */
export const ADAPTER_CHOICES = {
  native: 'this package, default options',
  'native-coalesce-off': 'this package with { coalesce: false }: no merging of concurrent calls',
  'native-no-cache': 'this package with { statementCache: false }: the PgBouncer mode',
  'native-no-read-cache': 'this package with { readCacheBytes: 0 }: every getSession reads the session whole',
  pg: "the original TypeScript adapter's SQL and JSON flow on pg (bench/reference-pg.mjs)",
  'postgres.js': 'the same on postgres.js (bench/reference-postgresjs.mjs)',
}
const DEFAULT_ADAPTERS = ['native', 'native-coalesce-off', 'pg', 'postgres.js']

/** Sections besides the main table, for --only. */
export const SECTIONS = ['conversation', 'stall', 'stale-stats', 'key-value', 'scale', 'memory']

/** The full run: about 10 minutes on 2 cores (without --scale); short rounds, many of them, for steadier medians. */
const DEFAULTS = {
  rounds: 5,
  roundSeconds: 1.5,
  warmupSeconds: 0.5,
  poolSize: 10,
  pgbenchSeconds: 1,
  pgbenchRounds: 5,
  memoryOps: 20_000,
  stallSessions: 1000,
  stallRounds: 2,
  staleChurnRounds: 300,
  scaleSizes: [10_000, 100_000, 1_000_000, 10_000_000],
  scaleCalls: 200,
  scaleSlowCalls: 3,
}

/** A smoke run: every workload, adapter, section and check, in well under a minute. */
const QUICK = {
  rounds: 3,
  roundSeconds: 0.1,
  warmupSeconds: 0.05,
  pgbenchSeconds: 1,
  pgbenchRounds: 1,
  memoryOps: 200,
  stallSessions: 100,
  stallRounds: 1,
  staleChurnRounds: 5,
  scaleSizes: [1_000, 3_000],
  scaleCalls: 20,
  scaleSlowCalls: 1,
}

const NUMERIC = {
  rounds: { flag: '--rounds', env: 'BENCH_ROUNDS', integer: true, min: 1 },
  roundSeconds: { flag: '--round-seconds', env: 'BENCH_ROUND_SECONDS', min: 0.01 },
  warmupSeconds: { flag: '--warmup-seconds', env: 'BENCH_WARMUP_SECONDS', min: 0 },
  poolSize: { flag: '--pool-size', env: 'BENCH_POOL_SIZE', integer: true, min: 1 },
  pgbenchSeconds: { flag: '--pgbench-seconds', env: 'BENCH_PGBENCH_SECONDS', integer: true, min: 1 },
  pgbenchRounds: { flag: '--pgbench-rounds', env: 'BENCH_PGBENCH_ROUNDS', integer: true, min: 1 },
  memoryOps: { flag: '--memory-ops', env: 'BENCH_MEMORY_OPS', integer: true, min: 10 },
  stallSessions: { flag: '--stall-sessions', env: 'BENCH_STALL_SESSIONS', integer: true, min: 1 },
  stallRounds: { flag: '--stall-rounds', env: 'BENCH_STALL_ROUNDS', integer: true, min: 1 },
  staleChurnRounds: { flag: '--stale-churn', env: 'BENCH_STALE_CHURN', integer: true, min: 0 },
  scaleCalls: { flag: '--scale-calls', env: 'BENCH_SCALE_CALLS', integer: true, min: 1 },
}

/** The --help text; `workloads` are `{ key, title }`. */
export const usage = (workloads) => `usage: npm run bench -- [options]

  --quick                  smoke run of everything (rounds of 0.1 s, 1 s of pgbench, small batches)
  --only <a,b,...>         run only these workloads and sections (lists below)
  --adapters <a,b,...>     adapters to compare (list below; default ${DEFAULT_ADAPTERS.join(',')})
  --rounds <n>             measured rounds per adapter and workload       (BENCH_ROUNDS, default 5)
  --round-seconds <s>      length of one round                            (BENCH_ROUND_SECONDS, default 1.5)
  --warmup-seconds <s>     unmeasured warm-up round per adapter           (BENCH_WARMUP_SECONDS, default 0.5)
  --pool-size <n>          connections per adapter, the same for all      (BENCH_POOL_SIZE, default 10)
  --pgbench-seconds <s>    length of one pgbench round                    (BENCH_PGBENCH_SECONDS, default 1)
  --pgbench-rounds <n>     rounds that include pgbench (at most --rounds) (BENCH_PGBENCH_ROUNDS, default 5)
  --no-pgbench             skip the limits
  --stall-sessions <n>     sessions (~69 KB) per batch of the stall section (BENCH_STALL_SESSIONS, default 1000)
  --stall-rounds <n>       rounds of the stall section                    (BENCH_STALL_ROUNDS, default 2)
  --stale-churn <n>        churn rounds (2,000 updates each) of the stale-statistics table
                                                                          (BENCH_STALE_CHURN, default 300)
  --scale                  also run the 10k / 100k / 1M / 10M scale curve (takes about an hour, ~12 GB of disk)
  --scale-sizes <a,b,...>  its table sizes (default 10000,100000,1000000,10000000)
  --scale-calls <n>        calls per measure and size (getStats and the deep offset: 3) (default 200)
  --memory-ops <n>         operations of the memory check                 (BENCH_MEMORY_OPS, default 20000)
  --no-memory              skip the memory check
  --reference-save-flow <string|parse>
                           how the references bind a saved session: the serialized string
                           parsed back for the driver to stringify, as the original (default),
                           or the serialized string itself (lighter)
  --output <file>          where to write the JSON results (default bench/results/latest.json)

Workloads (--only):
${workloads.map((workload) => `  ${workload.key.padEnd(22)} ${workload.title}`).join('\n')}
Sections (--only):
  ${'stall'.padEnd(22)} event-loop stall of saveSessions / getSessions of 1,000 x 69 KB
  ${'stale-stats'.padEnd(22)} listSessions(100) on a churned table with stale statistics
  ${'key-value'.padEnd(22)} 100 keys through the batch calls vs one by one; saves on unlogged vs logged tables
  ${'scale'.padEnd(22)} the scale curve (implies --scale)
  ${'memory'.padEnd(22)} the memory check (bench/memory.mjs)

Adapters (--adapters):
${Object.entries(ADAPTER_CHOICES)
  .map(([name, what]) => `  ${name.padEnd(22)} ${what}`)
  .join('\n')}

Database: DATABASE_URL, or POSTGRES_* / PG* variables (e.g. PGHOST=127.0.0.1); default database
smalltalk_bench, created if missing; with nothing configured, a throwaway PostgreSQL (fsync=off,
which flatters saves). The benchmark only writes rows whose id starts with "bench-", in the
sessions table and in its own schemas bench_stale, bench_scale, bench_kv_batches,
bench_kv_logged and bench_kv_unlogged (dropped at the end), and
refuses to run on a database holding other sessions.
`

/** Parses `argv` (without node and the script) and `env` into the run's options. */
export function parseOptions(argv, env = process.env, workloadKeys = []) {
  const given = {}
  const options = {
    quick: false,
    only: null,
    adapters: DEFAULT_ADAPTERS,
    pgbench: true,
    memory: true,
    scale: false,
    floor: true,
    referenceSaveFlow: env.BENCH_REFERENCE_SAVE_FLOW || 'parse',
    output: path.join(BENCH_DIR, 'results', 'latest.json'),
    help: false,
  }
  for (const [name, spec] of Object.entries(NUMERIC)) {
    if (env[spec.env] !== undefined && env[spec.env] !== '') given[name] = number(spec.env, env[spec.env], spec)
  }
  const list = (text) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined]
    const value = () => {
      if (inline !== undefined) return inline
      index += 1
      if (index >= argv.length) throw new Error(`${flag} needs a value`)
      return argv[index]
    }
    const numeric = Object.entries(NUMERIC).find(([, spec]) => spec.flag === flag)
    if (numeric) {
      given[numeric[0]] = number(flag, value(), numeric[1])
      continue
    }
    switch (flag) {
      case '--quick':
        options.quick = true
        break
      case '--only':
        options.only = list(value())
        break
      case '--adapters':
        options.adapters = list(value())
        break
      case '--no-pgbench':
        options.pgbench = false
        break
      case '--no-memory':
        options.memory = false
        break
      case '--scale':
        options.scale = true
        break
      case '--scale-sizes':
        given.scaleSizes = list(value()).map((size) => number('--scale-sizes', size, { integer: true, min: 200 }))
        break
      case '--reference-save-flow':
        options.referenceSaveFlow = value()
        break
      case '--output':
        options.output = path.resolve(value())
        break
      case '--help':
      case '-h':
        options.help = true
        break
      default:
        throw new Error(`unknown option ${arg}`)
    }
  }
  if (!['string', 'parse'].includes(options.referenceSaveFlow)) {
    throw new Error(`--reference-save-flow must be "string" or "parse" (got ${options.referenceSaveFlow})`)
  }
  const unknownAdapters = options.adapters.filter((name) => !(name in ADAPTER_CHOICES))
  if (unknownAdapters.length > 0)
    throw new Error(`unknown adapter ${unknownAdapters.join(', ')}; known: ${Object.keys(ADAPTER_CHOICES).join(', ')}`)
  for (const required of ['native', 'pg']) {
    if (!options.adapters.includes(required))
      throw new Error(`--adapters must include ${required} (the ratios are native's against pg's)`)
  }
  if (options.only !== null) {
    const known = new Set([...workloadKeys, ...SECTIONS])
    const unknown = options.only.filter((key) => !known.has(key))
    if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}; known: ${[...known].join(', ')}`)
    if (options.only.includes('scale')) options.scale = true
  }
  const merged = { ...DEFAULTS, ...(options.quick ? QUICK : {}), ...given, ...options }
  merged.pgbenchRounds = Math.min(merged.pgbenchRounds, merged.rounds)
  return merged
}

/** Whether a section (or workload) runs, given --only. */
export const selected = (options, key) => options.only === null || options.only.includes(key)

function number(name, text, { integer = false, min }) {
  const value = Number(text)
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got ${text})`)
  }
  return value
}
