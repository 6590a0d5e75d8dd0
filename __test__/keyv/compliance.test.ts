// Keyv's own adapter compliance suite, @keyv/test-suite as published (API, values, namespaces and
// the iterator), under vitest, which it is written for, against the store on the real tables of
// the test run's database (in a schema of its own, dropped at the end).
import * as vitest from 'vitest'
import Keyv from 'keyv'
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import { KeyvPostgresStore } from '@smalltalk-ai/postgres-storage/keyv'
import { contractConfig, sql } from '../helpers.js'

const SCHEMA = 'keyv_compliance'

// The suite asks for a new store for every Keyv it makes (Keyv sets the store's namespace): each
// opens a small pool on first use, closed after every test.
const opened: KeyvPostgresStore[] = []
function store(): KeyvPostgresStore {
  const made = new KeyvPostgresStore({ ...contractConfig(), poolSize: 2, schema: SCHEMA })
  opened.push(made)
  return made
}
const disconnectAll = () => Promise.all(opened.splice(0).map((made) => made.disconnect()))

vitest.afterEach(disconnectAll)
vitest.afterAll(async () => {
  await disconnectAll()
  await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
})

vitest.describe('@keyv/test-suite: API, values and namespaces', () => keyvTestSuite(vitest, Keyv, store))
vitest.describe('@keyv/test-suite: iterator', () => keyvIteratorTests(vitest, Keyv, store))
