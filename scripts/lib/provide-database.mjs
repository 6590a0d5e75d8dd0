// @ts-check
// The database a command runs on: the configured server (or an error naming host:port when it does
// not answer), else a throwaway one; the configured database, or one created for this run.

import { createTestDatabase, dropTestDatabase, ensureDatabase, reach } from './database.mjs'
import { configuredTarget, configuredVariables, describeTarget, log, onDatabase } from './environment.mjs'
import { startThrowaway } from './throwaway-server.mjs'

/** @typedef {import('./environment.mjs').Target} Target */
/** @typedef {import('./environment.mjs').Env} Env */

/**
 * The database to use. Where the user configured a server (any of CONNECTION_VARIABLES), that
 * server, or an error naming host:port when it does not answer; where nothing is configured, a
 * throwaway one. With `ownDatabase`, a database created for this run (`smalltalk_test_<random>`)
 * that stop() drops; otherwise the configured database (default `defaultDatabase`), created if
 * missing. Resolves to `{ target, throwaway, ownDatabase, stop() }`.
 * @param {{ defaultDatabase?: string, ownDatabase?: boolean, env?: Env }} [options]
 * @returns {Promise<{ target: Target, throwaway: boolean, ownDatabase: boolean, stop(): Promise<void> }>}
 */
export async function provideDatabase({
  defaultDatabase = 'smalltalk_test',
  ownDatabase = false,
  env = process.env,
} = {}) {
  const variables = configuredVariables(env)
  /** @type {Target} */
  let server
  let stopServer = async () => {}
  if (variables.length > 0) {
    const target = configuredTarget(env, defaultDatabase)
    const found = await reach(target, 5000).catch((error) => {
      throw new Error(
        `the PostgreSQL server you configured (${variables.join(', ')}) at ${describeTarget(target)} refused the connection: ${error.message}`,
      )
    })
    if (found.status !== 'ok') {
      throw new Error(
        `the PostgreSQL server you configured (${variables.join(', ')}) does not answer at ${describeTarget(target)} ` +
          `(${found.reason}). Start it or correct those settings; unset them all to run on a throwaway local server instead.`,
      )
    }
    server = target
  } else {
    log('no server configured (DATABASE_URL, POSTGRES_*, PG*): starting a throwaway PostgreSQL')
    const cluster = await startThrowaway({ database: ownDatabase ? 'postgres' : defaultDatabase })
    server = cluster.target
    stopServer = async () => {
      await cluster.stop()
      log(`removed the throwaway PostgreSQL on ${describeTarget(server)} (and its data directory ${cluster.dataDir})`)
    }
  }
  const throwaway = variables.length === 0
  if (!ownDatabase) {
    if (!throwaway) await ensureDatabase(server)
    log(`using ${server.user}@${describeTarget(server)}/${server.database}`)
    return { target: server, throwaway, ownDatabase: false, stop: stopServer }
  }
  /** @type {string} */
  let name
  try {
    name = await createTestDatabase(server)
  } catch (error) {
    await stopServer()
    throw error
  }
  const target = onDatabase(server, name)
  log(`created database ${name} for this run on ${server.user}@${describeTarget(server)}`)
  let stopped = false
  return {
    target,
    throwaway,
    ownDatabase: true,
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        if (await dropTestDatabase(server, name)) log(`dropped database ${name}`)
      } finally {
        await stopServer()
      }
    },
  }
}
