// Loaded before each spec of the Citus run (scripts/citus.mjs): after every successful
// initialize(), the tables it created are distributed with the documented step (DISTRIBUTE_SQL:
// sessions by id, key_value by key), as an operator does once after the first initialize(). The
// specs drop and recreate the tables around each test, so the step follows every initialize().
import pg from 'pg'
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { DISTRIBUTE_SQL } from '../../../scripts/citus.mjs'
import { contractConfig } from '../../helpers.js'

if (process.env.SMALLTALK_CITUS !== '1') throw new Error('setup.ts is for the Citus run (node scripts/citus.mjs)')

const initialize = PostgresStorageAdapter.prototype.initialize
PostgresStorageAdapter.prototype.initialize = async function (
  this: PostgresStorageAdapter,
  ...args: Parameters<typeof initialize>
) {
  await initialize.apply(this, args)
  const { host, port, database, user, password } = contractConfig()
  const client = new pg.Client({ host: host as string, port: port as number, database, user, password })
  await client.connect()
  try {
    await client.query(DISTRIBUTE_SQL)
  } finally {
    await client.end()
  }
}
