#!/usr/bin/env node
// Usage: node scripts/with-database.mjs [--default-database NAME] <command> [args...]
//
// Runs the command with DATABASE_URL (when you gave one), POSTGRES_* and PG* pointing at a
// database on the server you configured (DATABASE_URL / POSTGRES_URL, POSTGRES_* or PG*), or on
// a throwaway server when nothing is configured. A configured server that does not answer is an
// error naming host:port, never a silent throwaway.
//
// Without --default-database (`npm test`): the command runs in a database created for this run,
// `smalltalk_test_<random>`, named in SMALLTALK_TEST_DATABASE for the tests' table-dropping
// guard, and dropped at the end: after success, failure, or SIGINT/SIGTERM. The database you
// configured is never touched.
// With --default-database NAME (`npm start`): the configured database, or NAME when none is
// configured; created if missing.

import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { provideDatabase, TEST_DATABASE_VARIABLE, targetEnv } from './postgres.mjs'

const argv = process.argv.slice(2)
let defaultDatabase = null
if (argv[0] === '--default-database') {
  defaultDatabase = argv[1]
  argv.splice(0, 2)
}
const [command, ...args] = argv
if (!command || defaultDatabase === '') {
  process.stderr.write('usage: node scripts/with-database.mjs [--default-database NAME] <command> [args...]\n')
  process.exit(2)
}
const ownDatabase = defaultDatabase === null

// Signals that arrive while the database is being set up end the run after the setup, cleanly.
let interrupted = null
let child = null
const onSignal = (signal) => {
  interrupted ??= signal
  if (child !== null && child.exitCode === null) child.kill(signal)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal)

let database
try {
  database = await provideDatabase({ defaultDatabase: defaultDatabase ?? 'smalltalk_test', ownDatabase })
} catch (error) {
  process.stderr.write(`[postgres] cannot provide a database: ${error.message}\n`)
  process.exit(1)
}

const exitCode = (code, signal) => code ?? 128 + (constants.signals[signal] ?? 1)
let finishing = false
async function finish(code) {
  if (finishing) return
  finishing = true
  try {
    await database.stop()
  } catch (error) {
    process.stderr.write(`[postgres] cleaning up failed: ${error.message}\n`)
    code = code || 1
  }
  process.exit(code)
}

if (interrupted !== null) {
  await finish(exitCode(null, interrupted))
} else {
  const env = { ...process.env, ...targetEnv(database.target), SMALLTALK_PG_THROWAWAY: database.throwaway ? '1' : '' }
  if (ownDatabase) env[TEST_DATABASE_VARIABLE] = database.target.database
  else delete env[TEST_DATABASE_VARIABLE]
  // A URL of the user's is passed through whole; none is made up when they gave none.
  if (database.target.url === undefined) {
    delete env.DATABASE_URL
    delete env.POSTGRES_URL
  } else if (env.POSTGRES_URL !== undefined) {
    env.POSTGRES_URL = database.target.url
  }
  child = spawn(command, args, { stdio: 'inherit', shell: process.platform === 'win32', env })
  child.on('error', (error) => {
    process.stderr.write(`[postgres] cannot run ${command}: ${error.message}\n`)
    finish(127)
  })
  child.on('exit', (code, signal) => finish(exitCode(code, signal)))
}
