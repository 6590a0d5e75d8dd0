// @ts-check
// A PostgreSQL installation on this machine (initdb, pg_ctl, postgres), and running its programs:
// as an unprivileged account when this process is root, since initdb and postgres refuse root.

import { execFile, execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

/**
 * The PATH directory holding `name`, or null.
 * @param {string} name
 * @returns {string | null}
 */
function onPath(name) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter)
  const exe = process.platform === 'win32' ? `${name}.exe` : name
  for (const dir of dirs) {
    const candidate = path.join(dir, exe)
    if (dir && fs.existsSync(candidate)) return dir
  }
  return null
}

/**
 * `parent/<entry>/<suffix>` for each entry matching `pattern`, highest version first.
 * @param {string} parent
 * @param {RegExp} pattern
 * @param {string} [suffix]
 * @returns {string[]}
 */
function versionDirs(parent, pattern, suffix = 'bin') {
  if (!fs.existsSync(parent)) return []
  return fs
    .readdirSync(parent)
    .filter((entry) => pattern.test(entry))
    .sort((a, b) => Number.parseInt(b.replace(/\D+/g, ''), 10) - Number.parseInt(a.replace(/\D+/g, ''), 10))
    .map((entry) => path.join(parent, entry, suffix))
}

/**
 * The directory holding initdb, pg_ctl and postgres, or null.
 * @returns {string | null}
 */
export function findServerBinaries() {
  const exe = process.platform === 'win32' ? 'pg_ctl.exe' : 'pg_ctl'
  const candidates = /** @type {string[]} */ (
    [
      process.env.PG_BIN,
      onPath('pg_ctl'),
      ...versionDirs('/usr/lib/postgresql', /^\d+$/),
      ...versionDirs('/usr', /^pgsql-\d+$/),
      '/usr/local/pgsql/bin',
      ...versionDirs('/opt/homebrew/opt', /^postgresql(@\d+)?$/),
      ...versionDirs('/usr/local/opt', /^postgresql(@\d+)?$/),
      '/Applications/Postgres.app/Contents/Versions/latest/bin',
      ...versionDirs('C:\\Program Files\\PostgreSQL', /^\d+$/),
    ].filter(Boolean)
  )
  const found = candidates.find(
    (dir) => fs.existsSync(path.join(dir, exe)) && fs.existsSync(path.join(dir, exe.replace('pg_ctl', 'initdb'))),
  )
  // PATH entries are often symlinks (e.g. /usr/local/bin/pg_ctl): use the installation's own bin
  // directory, which also holds pg_basebackup and friends.
  return found === undefined ? null : path.dirname(fs.realpathSync(path.join(found, exe)))
}

/**
 * The account to run initdb and postgres as: null when this process is not root, else an
 * unprivileged one (postgres, else nobody).
 * @returns {string | null}
 */
export function unprivilegedUser() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null
  for (const name of ['postgres', 'nobody']) {
    const found = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    if (found.status === 0) return name
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as')
}

/**
 * Runs `file` as `user` (null: as this process), waiting for it.
 * @param {string | null} user
 * @param {string} file
 * @param {string[]} args
 * @param {import('node:child_process').ExecFileSyncOptions} [options]
 */
export function runAs(user, file, args, options = {}) {
  if (user === null) return execFileSync(file, args, { stdio: 'pipe', ...options })
  return execFileSync('runuser', ['-u', user, '--', file, ...args], { stdio: 'pipe', ...options })
}

// The same, without blocking the event loop (so a test's load keeps running during a restart).
const execFileAsync = promisify(execFile)

/**
 * runAs without blocking the event loop.
 * @param {string | null} user
 * @param {string} file
 * @param {string[]} args
 */
export function runAsAsync(user, file, args) {
  if (user === null) return execFileAsync(file, args)
  return execFileAsync('runuser', ['-u', user, '--', file, ...args])
}

/**
 * Writes `files` ({ name: text }) into `dataDir`, readable only by the server's account `user`.
 * @param {string} dataDir
 * @param {Record<string, string>} files
 * @param {string | null} user
 */
export function writeServerFiles(dataDir, files, user) {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dataDir, name)
    fs.writeFileSync(file, text, { mode: 0o600 })
    if (user !== null) execFileSync('chown', [user, file])
  }
}
