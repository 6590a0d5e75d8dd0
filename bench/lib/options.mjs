// Command-line flags and BENCH_* environment variables of `npm run bench` (flags win over the
// environment, which wins over --quick, which wins over the defaults).
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The full run: about 4 minutes of measurement on 2 cores, plus seeding, pgbench and memory. */
const DEFAULTS = {
  rounds: 3,
  roundSeconds: 2,
  warmupSeconds: 0.5,
  poolSize: 10,
  pgbenchSeconds: 10,
  memoryOps: 20_000,
}

/** A smoke run: every workload, every adapter, every check, in about 20 seconds. */
const QUICK = {
  rounds: 3,
  roundSeconds: 0.1,
  warmupSeconds: 0.05,
  pgbenchSeconds: 1,
  memoryOps: 200,
}

const NUMERIC = {
  rounds: { flag: '--rounds', env: 'BENCH_ROUNDS', integer: true, min: 1 },
  roundSeconds: { flag: '--round-seconds', env: 'BENCH_ROUND_SECONDS', min: 0.01 },
  warmupSeconds: { flag: '--warmup-seconds', env: 'BENCH_WARMUP_SECONDS', min: 0 },
  poolSize: { flag: '--pool-size', env: 'BENCH_POOL_SIZE', integer: true, min: 1 },
  pgbenchSeconds: { flag: '--pgbench-seconds', env: 'BENCH_PGBENCH_SECONDS', integer: true, min: 1 },
  memoryOps: { flag: '--memory-ops', env: 'BENCH_MEMORY_OPS', integer: true, min: 10 },
}

/** The --help text; `workloads` are `{ key, title }`. */
export const usage = (workloads) => `usage: npm run bench -- [options]

  --quick                  short smoke run (rounds of 0.1 s, 1 s of pgbench, 200 memory ops)
  --only <a,b,...>         run only these workloads (see the list below; "memory" = only the memory check)
  --rounds <n>             measured rounds per adapter and workload       (BENCH_ROUNDS, default 3)
  --round-seconds <s>      length of one round                            (BENCH_ROUND_SECONDS, default 2)
  --warmup-seconds <s>     unmeasured warm-up round per adapter           (BENCH_WARMUP_SECONDS, default 0.5)
  --pool-size <n>          connections per adapter, the same for all      (BENCH_POOL_SIZE, default 10)
  --pgbench-seconds <s>    length of the pgbench limit run                (BENCH_PGBENCH_SECONDS, default 10)
  --memory-ops <n>         operations of the memory check                 (BENCH_MEMORY_OPS, default 20000)
  --no-pgbench             skip the pgbench limit
  --no-memory              skip the memory check
  --reference-save-flow <string|parse>
                           how the references bind a saved session: the serialized string
                           parsed back for the driver to stringify, as the original (default),
                           or the serialized string itself (lighter)
  --output <file>          where to write the JSON results (default bench/results/latest.json)

Workloads (--only):
${workloads.map((workload) => `  ${workload.key.padEnd(22)} ${workload.title}`).join('\n')}
  ${'memory'.padEnd(22)} the memory check (bench/memory.mjs)

Database: DATABASE_URL, or POSTGRES_* / PG* variables; default database smalltalk_bench, created if
missing; a throwaway PostgreSQL when no server answers. The benchmark only writes rows whose id starts
with "bench-" and refuses to run on a database holding other sessions.
`

/** Parses `argv` (without node and the script) and `env` into the run's options. */
export function parseOptions(argv, env = process.env, workloadKeys = []) {
  const given = {}
  const options = {
    quick: false,
    only: null,
    pgbench: true,
    memory: true,
    referenceSaveFlow: env.BENCH_REFERENCE_SAVE_FLOW || 'parse',
    output: path.join(BENCH_DIR, 'results', 'latest.json'),
    help: false,
  }
  for (const [name, spec] of Object.entries(NUMERIC)) {
    if (env[spec.env] !== undefined && env[spec.env] !== '') given[name] = number(spec.env, env[spec.env], spec)
  }
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
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
        options.only = value()
          .split(',')
          .map((key) => key.trim())
          .filter(Boolean)
        break
      case '--no-pgbench':
        options.pgbench = false
        break
      case '--no-memory':
        options.memory = false
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
  if (options.only !== null) {
    const known = new Set([...workloadKeys, 'memory'])
    const unknown = options.only.filter((key) => !known.has(key))
    if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}; known: ${[...known].join(', ')}`)
  }
  return { ...DEFAULTS, ...(options.quick ? QUICK : {}), ...given, ...options }
}

function number(name, text, { integer = false, min }) {
  const value = Number(text)
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got ${text})`)
  }
  return value
}
