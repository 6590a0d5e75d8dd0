// SmallTalk's PostgreSQL integration test with only its adapter import swapped for this package:
// the 48 contract behaviours, typed by SmallTalk's own StorageAdapter interface and run under
// ts-jest with type-checking on (./tsconfig.json), as in SmallTalk. Both tables are dropped through
// a separate connection before and after every test, so every initialize() recreates the schema.
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { dropTables } from '../helpers.js'
import { postgresConnection } from './connection.js'
import { runStorageAdapterContractTests } from './contract.js'

const config = postgresConnection()

beforeEach(dropTables)
afterEach(dropTables)

describe('PostgresStorageAdapter behind SmallTalk types', () => {
  runStorageAdapterContractTests(() => new PostgresStorageAdapter(config))
})
