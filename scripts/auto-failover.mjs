// A throwaway pg_auto_failover formation for `npm run test:scale`: a monitor, a primary and a
// secondary (pg_autoctl, Debian's postgresql-<major>-auto-failover) on free loopback ports, in a
// temporary directory removed by stop().
//
// pg_autoctl refuses to run as root: as root every pg_autoctl call runs as the `postgres` account
// (runuser), which owns the directory. Every call gets the same XDG_CONFIG_HOME / XDG_DATA_HOME /
// XDG_RUNTIME_DIR (pg_autoctl keeps each node's configuration, state and pid files there; calls
// that disagree do not find their node). Each instance gets shared_buffers = 128MB in
// postgresql.auto.conf, which is read after pg_autoctl's tuning file (that one asks for 25 % of
// the machine's memory per instance); the monitor listens on 127.0.0.1 only.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { findServerBinaries, freePort } from './postgres.mjs'

const execFileAsync = promisify(execFile)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (message) => process.stderr.write(`[pg_auto_failover] ${message}\n`)

/** The pg_autoctl executable, or null. */
export function findPgAutoctl() {
  for (const candidate of [process.env.PG_AUTOCTL, '/usr/bin/pg_autoctl', '/usr/local/bin/pg_autoctl']) {
    if (candidate && fs.existsSync(candidate)) return candidate
  }
  const which = spawnSync('which', ['pg_autoctl'], { encoding: 'utf8' })
  return which.status === 0 ? which.stdout.trim() : null
}

/**
 * The monitor's health checks, shortened so that an unplanned failover takes seconds rather than
 * the defaults' ~30 s (20 s before a silent node is unhealthy, 30 s for a primary to demote).
 */
export const FAST_HEALTH_CHECKS = Object.freeze({
  'pgautofailover.health_check_period': '1s',
  'pgautofailover.health_check_timeout': '1s',
  'pgautofailover.health_check_max_retries': '1',
  'pgautofailover.health_check_retry_delay': '500ms',
  'pgautofailover.node_considered_unhealthy_timeout': '3s',
  'pgautofailover.primary_demote_timeout': '3s',
  'pgautofailover.startup_grace_period': '2s',
})

/**
 * Starts a monitor and `nodes` (default 2) Postgres nodes in formation `default`, creating
 * `database` on the primary; resolves once one node is `primary` and the others `secondary`.
 */
export async function startFormation({
  database = 'smalltalk',
  nodes: nodeCount = 2,
  monitorSettings = FAST_HEALTH_CHECKS,
} = {}) {
  const autoctl = findPgAutoctl()
  if (autoctl === null)
    throw new Error('pg_autoctl is not installed (Debian/Ubuntu: apt-get install postgresql-15-auto-failover)')
  const binDir = findServerBinaries()
  if (binDir === null) throw new Error('pg_auto_failover needs a local PostgreSQL installation (pg_ctl)')
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-autofailover-'))
  const env = {
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_RUNTIME_DIR: path.join(dir, 'run'),
    // Only directories the postgres account can read: pg_autoctl looks for pg_ctl on PATH.
    PATH: [binDir, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    PG_CONFIG: path.join(binDir, 'pg_config'),
    LANG: 'C.UTF-8',
  }
  for (const name of ['config', 'data', 'run']) fs.mkdirSync(path.join(dir, name), { mode: 0o700 })
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir])
  const command = (args) =>
    asRoot
      ? [
          'runuser',
          ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), autoctl, ...args],
        ]
      : [autoctl, args]
  // libpq's PG* variables (a test run sets PGDATABASE, PGPORT...) would redirect pg_autoctl's own
  // connections: none reaches it. As root the rest travels through `env` (runuser is on root's PATH).
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')))
  const options = { cwd: dir, env: asRoot ? inherited : { ...inherited, ...env } }
  /** Runs one pg_autoctl command to its end, without blocking the event loop. */
  const autoctlRun = async (args, timeoutMs = 120_000) => {
    const [file, argv] = command(args)
    try {
      return (await execFileAsync(file, argv, { ...options, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })).stdout
    } catch (error) {
      throw new Error(
        `pg_autoctl ${args.join(' ')} failed: ${error.message}\n${String(error.stderr ?? '')
          .split('\n')
          .slice(-15)
          .join('\n')}`,
      )
    }
  }
  const services = new Map() // pgdata -> child running `pg_autoctl run`
  const runService = (pgdata, args = ['run', '--pgdata', pgdata]) => {
    const [file, argv] = command(args)
    const out = fs.openSync(`${pgdata}.log`, 'a')
    const child = spawn(file, argv, { ...options, detached: true, stdio: ['ignore', out, out] })
    fs.closeSync(out)
    child.exited = new Promise((resolve) => child.once('exit', resolve))
    services.set(pgdata, child)
    return child
  }
  const appendAutoConf = (pgdata, lines) =>
    fs.appendFileSync(path.join(pgdata, 'postgresql.auto.conf'), `${lines.join('\n')}\n`)

  const monitorPort = await freePort()
  const monitor = { name: 'monitor', pgdata: path.join(dir, 'monitor'), port: monitorPort }
  const monitorUrl = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`
  const nodes = []
  let stopped = false

  const query = async (port, dbname, text, params = []) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: dbname,
      connectionTimeoutMillis: 3000,
    })
    client.on('error', () => {})
    await client.connect()
    try {
      return (await client.query(text, params)).rows
    } finally {
      await client.end().catch(() => {})
    }
  }
  /** Each node as the monitor sees it: `{ name, port, reported, assigned }`. */
  const state = async () =>
    (
      await query(
        monitorPort,
        'pg_auto_failover',
        `SELECT nodename AS name, nodeport AS port, reportedstate::text AS reported, goalstate::text AS assigned
           FROM pgautofailover.node ORDER BY nodeid`,
      )
    ).map((row) => ({ ...row, node: nodes.find((node) => node.port === row.port) }))
  /** Waits until one node is primary and every other one secondary, reported and assigned. */
  const waitForSteadyState = async (timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs
    let last = []
    while (Date.now() < deadline) {
      last = await state().catch(() => [])
      const settled = last.length === nodeCount && last.every((node) => node.reported === node.assigned)
      const primaries = last.filter((node) => node.reported === 'primary')
      const secondaries = last.filter((node) => node.reported === 'secondary')
      if (settled && primaries.length === 1 && secondaries.length === nodeCount - 1) {
        // The primary waits for a standby's confirmation on every commit only once it lists one.
        const [{ names }] = await query(primaries[0].port, database, 'SHOW synchronous_standby_names').then((rows) =>
          rows.map((row) => ({ names: row.synchronous_standby_names })),
        )
        if (names !== '') return { primary: primaries[0].node, secondaries: secondaries.map((node) => node.node) }
      }
      await sleep(250)
    }
    throw new Error(
      `the formation did not settle within ${timeoutMs} ms: ${JSON.stringify(last.map(({ node, ...rest }) => rest))}`,
    )
  }

  const stopNow = () => {
    if (stopped) return
    stopped = true
    for (const pgdata of [...nodes.map((node) => node.pgdata), monitor.pgdata]) {
      const [file, argv] = command(['stop', '--immediate', '--pgdata', pgdata])
      spawnSync(file, argv, { ...options, stdio: 'ignore', timeout: 10_000 })
    }
    for (const child of services.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
    // A postmaster that outlived its keeper (pg_autoctl stop --immediate normally stops it).
    for (const pgdata of [...nodes.map((node) => node.pgdata), monitor.pgdata]) {
      const pidFile = path.join(pgdata, 'postmaster.pid')
      if (!fs.existsSync(pidFile)) continue
      const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10)
      try {
        if (pid > 0) process.kill(pid, 'SIGQUIT')
      } catch {
        // Already gone.
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stopNow)

  try {
    const started = Date.now()
    await autoctlRun([
      'create',
      'monitor',
      '--pgdata',
      monitor.pgdata,
      '--pgport',
      String(monitorPort),
      '--hostname',
      '127.0.0.1',
      '--auth',
      'trust',
      '--no-ssl',
    ])
    await autoctlRun(['config', 'set', '--pgdata', monitor.pgdata, 'postgresql.listen_addresses', '127.0.0.1'])
    appendAutoConf(monitor.pgdata, [
      "shared_buffers = '128MB'",
      ...Object.entries(monitorSettings).map(([name, value]) => `${name} = '${value}'`),
    ])
    runService(monitor.pgdata)
    for (let i = 0; ; i++) {
      const ready = await query(monitorPort, 'pg_auto_failover', 'SELECT 1').then(
        () => true,
        () => false,
      )
      if (ready) break
      if (i > 200) throw new Error('the monitor did not start')
      await sleep(100)
    }
    for (let i = 1; i <= nodeCount; i++) {
      const node = { name: `node${i}`, pgdata: path.join(dir, `node${i}`), port: await freePort() }
      nodes.push(node)
      const create = [
        'create',
        'postgres',
        '--pgdata',
        node.pgdata,
        '--pgport',
        String(node.port),
        '--hostname',
        '127.0.0.1',
      ]
      create.push(
        '--listen',
        '127.0.0.1',
        '--auth',
        'trust',
        '--no-ssl',
        '--monitor',
        monitorUrl,
        '--dbname',
        database,
        '--name',
        node.name,
      )
      if (i === 1) {
        // The first node initdb's and registers as primary, then stops: give it its settings, run it.
        await autoctlRun(create)
        appendAutoConf(node.pgdata, ["shared_buffers = '128MB'"])
        runService(node.pgdata)
        await waitForNodeState(state, node, 'single')
      } else {
        // A secondary is a pg_basebackup of the primary (postgresql.auto.conf included), made
        // while the primary's keeper runs: create and run it in one process.
        runService(node.pgdata, [...create, '--run'])
      }
    }
    const steady = await waitForSteadyState()
    log(
      `formation up in ${((Date.now() - started) / 1000).toFixed(1)} s: monitor :${monitorPort}, ${nodes.map((n) => `${n.name} :${n.port}`).join(', ')}`,
    )
    void steady
  } catch (error) {
    const logs = [monitor, ...nodes]
      .map((node) => `${node.pgdata}.log`)
      .filter((file) => fs.existsSync(file))
      .map((file) => `--- ${path.basename(file)}\n${fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n')}`)
      .join('\n')
    stopNow()
    throw new Error(`${error.message}\n${logs}`)
  }

  return {
    dir,
    database,
    monitor,
    nodes,
    state,
    waitForSteadyState,
    /** The formation's URL: every node, `target_session_attrs=read-write`. */
    uri: async () => (await autoctlRun(['show', 'uri', '--formation', 'default', '--pgdata', monitor.pgdata])).trim(),
    /** Rows of `text` on `node`'s server (a plain `pg` client, database `database`). */
    query: (node, text, params) => query(node.port, database, text, params),
    /** A planned failover: the monitor demotes the primary and promotes the secondary. */
    performFailover: () =>
      autoctlRun(['perform', 'failover', '--formation', 'default', '--pgdata', monitor.pgdata, '--wait', '60']),
    /** Stops `node`'s keeper and its Postgres (fast shutdown): an unplanned loss of that node. */
    stopFast: async (node) => {
      await autoctlRun(['stop', '--fast', '--pgdata', node.pgdata])
      await services.get(node.pgdata)?.exited
    },
    /** Starts `node`'s keeper again (it rejoins as a secondary). */
    restart: (node) => {
      runService(node.pgdata)
    },
    stop: async () => {
      process.removeListener('exit', stopNow)
      if (stopped) return
      // Graceful first (keepers stop their Postgres), then stopNow() for anything left.
      await Promise.all(
        [...services.entries()].map(async ([pgdata, child]) => {
          if (child.exitCode !== null || child.signalCode !== null) return
          await autoctlRun(['stop', '--fast', '--pgdata', pgdata], 20_000).catch(() => {})
          let timer
          await Promise.race([child.exited, new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))])
          clearTimeout(timer)
        }),
      )
      stopNow()
    },
  }
}

async function waitForNodeState(state, node, wanted, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = (await state().catch(() => [])).find((row) => row.port === node.port)
    if (found?.reported === wanted) return
    await sleep(200)
  }
  throw new Error(`${node.name} did not reach ${wanted} within ${timeoutMs} ms`)
}
