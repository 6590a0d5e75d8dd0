// Starts a throwaway PgBouncer (transaction pooling) in front of a PostgreSQL target, for the
// scale tests and the benchmark. Needs the `pgbouncer` binary (Debian/Ubuntu: apt-get install pgbouncer).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './postgres.mjs'

/** The pgbouncer executable, or null. */
export function findPgbouncer() {
  for (const candidate of [
    process.env.PGBOUNCER_BIN,
    '/usr/sbin/pgbouncer',
    '/usr/bin/pgbouncer',
    '/usr/local/bin/pgbouncer',
    '/opt/homebrew/bin/pgbouncer',
  ]) {
    if (candidate && fs.existsSync(candidate)) return candidate
  }
  const which = spawnSync('which', ['pgbouncer'], { encoding: 'utf8' })
  return which.status === 0 ? which.stdout.trim() : null
}

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`pgbouncer did not listen on ${port} within ${timeoutMs} ms`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

/**
 * Starts PgBouncer in `poolMode` (default transaction) forwarding every database to `target`.
 * Resolves to `{ target, stop() }`, where `target` is the bouncer's address with the same
 * database and credentials.
 */
export async function startPgbouncer(target, { poolMode = 'transaction', poolSize = 5 } = {}) {
  const binary = findPgbouncer()
  if (binary === null) {
    throw new Error(
      'pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer; macOS: brew install pgbouncer)',
    )
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-pgbouncer-'))
  const port = await freePort()
  const quote = (text) => `"${String(text).replaceAll('"', '""')}"`
  fs.writeFileSync(path.join(dir, 'users.txt'), `${quote(target.user)} ${quote(target.password)}\n`)
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${target.host} port=${target.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      `pool_mode = ${poolMode}`,
      'max_client_conn = 500',
      `default_pool_size = ${poolSize}`,
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  )
  // PgBouncer refuses to run as root.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (asRoot) execFileSync('chown', ['-R', 'nobody', dir])
  const command = asRoot ? 'runuser' : binary
  const args = asRoot
    ? ['-u', 'nobody', '--', binary, path.join(dir, 'pgbouncer.ini')]
    : [path.join(dir, 'pgbouncer.ini')]
  const child = spawn(command, args, { stdio: 'ignore' })
  child.unref()
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  try {
    await waitForPort(port, 10_000)
  } catch (error) {
    const log = fs.existsSync(path.join(dir, 'pgbouncer.log'))
      ? fs.readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8')
      : ''
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    throw new Error(`${error.message}\n${log}`)
  }
  // Signal pgbouncer itself (by its pidfile): a runuser wrapper would not pass the signal on.
  const pidFile = path.join(dir, 'pgbouncer.pid')
  const pid = () => {
    try {
      return Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10)
    } catch {
      return null
    }
  }
  const alive = (id) => {
    try {
      process.kill(id, 0)
      return true
    } catch {
      return false
    }
  }
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    const id = pid()
    if (id !== null && alive(id)) {
      process.kill(id, 'SIGINT')
      const deadline = Date.now() + 3000
      while (alive(id) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      if (alive(id)) process.kill(id, 'SIGKILL')
    }
    if (!exited) child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', () => {
    const id = pid()
    if (!stopped && id !== null && alive(id)) process.kill(id, 'SIGKILL')
  })
  return { target: { ...target, host: '127.0.0.1', port }, stop, logFile: path.join(dir, 'pgbouncer.log') }
}
