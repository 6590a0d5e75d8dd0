#!/usr/bin/env node
// Usage: node scripts/with-database.mjs [--default-database NAME] <command> [args...]
// Runs the command with POSTGRES_* and PG* pointing at a usable database: the configured server
// (creating the database if missing) or a throwaway one that is removed afterwards.

import { spawn } from 'node:child_process'
import { provideDatabase, targetEnv } from './postgres.mjs'

const argv = process.argv.slice(2)
let defaultDatabase = 'smalltalk_test'
if (argv[0] === '--default-database') {
  defaultDatabase = argv[1]
  argv.splice(0, 2)
}
const [command, ...args] = argv
if (!command || !defaultDatabase) {
  process.stderr.write('usage: node scripts/with-database.mjs [--default-database NAME] <command> [args...]\n')
  process.exit(2)
}

let database
try {
  database = await provideDatabase({ defaultDatabase })
} catch (error) {
  process.stderr.write(`[postgres] cannot provide a database: ${error.message}\n`)
  process.exit(1)
}

const child = spawn(command, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  env: { ...process.env, ...targetEnv(database.target), SMALLTALK_PG_THROWAWAY: database.throwaway ? '1' : '' },
})
const forward = (signal) => child.kill(signal)
process.on('SIGINT', forward)
process.on('SIGTERM', forward)
child.on('exit', async (code, signal) => {
  await database.stop()
  process.exit(code ?? (signal ? 1 : 0))
})
