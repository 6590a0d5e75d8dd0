// `npm run test:scale`: the contract suite, the truthful-outcome specs (deadlines cancel on
// the server through PgBouncer too) and the conditional reads (never stale) through PgBouncer in transaction pooling mode (with
// statementCache: false), then the specs in __test__/scale (PgBouncer, primary/standby failover,
// pg_auto_failover: the failover specs start servers of their own and ignore the bouncer), then
// the Citus run (scripts/citus.mjs: contract, batches, conditional reads and __test__/scale/citus on a coordinator
// with two workers). Runs under scripts/with-database.mjs, which provides POSTGRES_* for the test
// database. Each part prints its time; SMALLTALK_SCALE_SKIP_CITUS=1 leaves the Citus run out.
import { spawnSync } from 'node:child_process'
import { configuredTarget } from './postgres.mjs'
import { startPgbouncer } from './pgbouncer.mjs'
import { runCitusSpecs } from './citus.mjs'

const jest = (args, env) =>
  spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      'node_modules/jest/bin/jest.js',
      '-c',
      '__test__/jest.config.js',
      '--runInBand',
      ...args,
    ],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  ).status

const timings = []
const timed = async (name, work) => {
  const started = Date.now()
  const status = await work()
  timings.push(
    `${String(Math.round((Date.now() - started) / 1000)).padStart(5)}s  ${name}${status === 0 ? '' : ' (failed)'}`,
  )
  return status
}

const direct = configuredTarget(process.env)
const bouncer = await startPgbouncer(direct, { poolMode: 'transaction', poolSize: 5 })
let status = 1
try {
  process.stderr.write(
    `[scale] PgBouncer (transaction pooling) on 127.0.0.1:${bouncer.target.port} -> ${direct.host}:${direct.port}\n`,
  )
  const throughBouncer = {
    POSTGRES_HOST: bouncer.target.host,
    POSTGRES_PORT: String(bouncer.target.port),
    SMALLTALK_TEST_STATEMENT_CACHE: 'false',
    PGBOUNCER_HOST: bouncer.target.host,
    PGBOUNCER_PORT: String(bouncer.target.port),
  }
  status = await timed('contract and truthful outcomes through PgBouncer', () =>
    jest(
      ['__test__/contract.spec.ts', '__test__/truthful-outcomes.spec.ts', '__test__/conditional-reads.spec.ts'],
      throughBouncer,
    ),
  )
  if (status === 0) {
    status = await timed('__test__/scale: PgBouncer, failover, pg_auto_failover', () =>
      jest(['--testPathIgnorePatterns', '/node_modules/', '/scale/citus/', '--', '__test__/scale'], throughBouncer),
    )
  }
} finally {
  await bouncer.stop()
}
if (status === 0 && process.env.SMALLTALK_SCALE_SKIP_CITUS !== '1') {
  status = await timed('Citus: build (cached), contract, batches, __test__/scale/citus', () => runCitusSpecs())
}
process.stderr.write(`[scale] timings\n${timings.join('\n')}\n`)
process.exit(status ?? 1)
