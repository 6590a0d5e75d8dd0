// `npm run test:scale`: the contract suite and the truthful-outcome specs (deadlines cancel on
// the server through PgBouncer too) through PgBouncer in transaction pooling mode (with
// statementCache: false), then the specs in __test__/scale (PgBouncer, primary/standby failover).
// Runs under scripts/with-database.mjs, which provides POSTGRES_* for the test database.
import { spawnSync } from 'node:child_process'
import { configuredTarget } from './postgres.mjs'
import { startPgbouncer } from './pgbouncer.mjs'

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
  status = jest(['__test__/contract.spec.ts', '__test__/truthful-outcomes.spec.ts'], throughBouncer)
  if (status === 0)
    status = jest(['--testPathIgnorePatterns', '/node_modules/', '--', '__test__/scale'], throughBouncer)
} finally {
  await bouncer.stop()
}
process.exit(status ?? 1)
