// The StorageAdapter contract's 48 behaviours (docs/contract.md, written once in
// smalltalk/contract.ts), fed an adapter declared with this package's own type only, as a user
// without SmallTalk builds it, and with this suite's connection settings (POSTGRES_*, pool 5; also
// `statementCache: false` when `npm run test:scale` runs it through PgBouncer). Tables are dropped
// through a separate connection before and after every test. smalltalk/postgres.spec.ts runs the
// same behaviours exactly as SmallTalk's own test does; types/standalone.ts checks the package's
// precise types.
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables } from './helpers.js'
import { runStorageAdapterContractTests } from './smalltalk/contract.js'

beforeEach(dropTables)
afterEach(dropTables)

const factory = (): PostgresStorageAdapter => new PostgresStorageAdapter(contractConfig())

describe('PostgresStorageAdapter with its own types', () => {
  runStorageAdapterContractTests(factory)
})
