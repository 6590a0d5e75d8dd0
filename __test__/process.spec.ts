// The package as other processes see it: CommonJS require, ESM import, prompt exit without
// close(), and timestamps that do not depend on the process' TZ.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esm from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, sql } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const config = JSON.stringify(contractConfig())

/** Runs a script with node in the package root; returns its exit status, output and wall time. */
function runNode(args: string[], env: Record<string, string> = {}) {
  const start = performance.now()
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  })
  return { ...result, ms: performance.now() - start }
}

const sessionSource = `
  const now = new Date('2026-03-04T05:06:07.089Z')
  const session = (id, updatedAt = now) => ({
    id, createdAt: now, updatedAt, expiresAt: new Date(now.getTime() + 3600e3), state: 'active',
    agentIds: ['a'], agentStates: {}, conversationHistory: [], sharedContext: {}, metadata: {}, version: 1,
  })
`

beforeEach(dropTables)
afterAll(dropTables)

it('CommonJS require exposes the same API as the ESM import and works', () => {
  const script = `
    const api = require('@smalltalk-ai/postgres-storage')
    ${sessionSource}
    ;(async () => {
      const adapter = new api.PostgresStorageAdapter(${config})
      await adapter.initialize()
      await adapter.saveSession(session('cjs-1'))
      const read = await adapter.getSession('cjs-1')
      await adapter.close()
      console.log(JSON.stringify({ keys: Object.keys(api).sort(), id: read.id, isDate: read.updatedAt instanceof Date }))
    })().catch((error) => { console.error(error); process.exit(1) })
  `
  const result = runNode(['-e', script])
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
  const output = JSON.parse(result.stdout)
  expect(output.keys).toEqual(
    Object.keys(esm)
      .filter((key) => key !== 'default')
      .sort(),
  )
  expect(output.id).toBe('cjs-1')
  expect(output.isDate).toBe(true)
})

it('an ESM import in plain Node works', () => {
  const script = `
    import { PostgresStorageAdapter, ConflictError } from '@smalltalk-ai/postgres-storage'
    ${sessionSource}
    const adapter = new PostgresStorageAdapter(${config})
    await adapter.initialize()
    await adapter.saveSession(session('esm-1'))
    const error = await adapter.saveSession(session('esm-1')).catch((e) => e)
    await adapter.close()
    console.log(JSON.stringify({ conflict: error instanceof ConflictError, versions: error.conflictingVersions }))
  `
  const result = runNode(['--input-type=module', '-e', script])
  expect(result.status).toBe(0)
  expect(JSON.parse(result.stdout)).toEqual({ conflict: true, versions: [1, 1] })
})

it('a script that never calls close() exits within 2 s', () => {
  const script = `
    const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
    ${sessionSource}
    const idle = new PostgresStorageAdapter(${config})
    const adapter = new PostgresStorageAdapter(${config})
    adapter.initialize()
      .then(() => adapter.saveSession(session('no-close')))
      .then(() => adapter.getSession('no-close'))
      .then((read) => console.log(read.id))
  `
  const result = runNode(['-e', script])
  expect(result.status).toBe(0)
  expect(result.stdout.trim()).toBe('no-close')
  expect(result.ms).toBeLessThan(2000)
})

it('a script that only constructs an adapter exits at once', () => {
  const result = runNode(['-e', `new (require('@smalltalk-ai/postgres-storage').PostgresStorageAdapter)(${config})`])
  expect(result.status).toBe(0)
  expect(result.ms).toBeLessThan(2000)
})

it('timestamp columns hold UTC wall time whatever TZ the process has', async () => {
  const writer = (id: string) => `
    const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
    ${sessionSource}
    ;(async () => {
      const adapter = new PostgresStorageAdapter(${config})
      await adapter.initialize()
      await adapter.saveSession(session('${id}', new Date('2026-07-08T23:30:00.250Z')))
      const listed = await adapter.listSessions()
      await adapter.close()
      console.log(JSON.stringify(listed.map((s) => [s.id, s.updatedAt.toISOString()])))
    })().catch((error) => { console.error(error); process.exit(1) })
  `
  const tokyo = runNode(['-e', writer('tz-tokyo')], { TZ: 'Asia/Tokyo' })
  expect(tokyo.status).toBe(0)
  const newYork = runNode(['-e', writer('tz-new-york')], { TZ: 'America/New_York' })
  expect(newYork.status).toBe(0)
  const tokyoAgain = runNode(['-e', writer('tz-tokyo-2')], { TZ: 'Asia/Tokyo' })
  expect(tokyoAgain.status).toBe(0)
  // Processes in either zone read back every row, whoever wrote it, with the instant written.
  for (const output of [newYork.stdout, tokyoAgain.stdout]) {
    const listed = JSON.parse(output)
    expect(listed.length).toBeGreaterThanOrEqual(2)
    for (const [, updatedAt] of listed) expect(updatedAt).toBe('2026-07-08T23:30:00.250Z')
  }
  const rows = await sql(
    `SELECT id, to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS created,
            to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS updated FROM sessions ORDER BY id`,
  )
  expect(rows).toEqual([
    { id: 'tz-new-york', created: '2026-03-04T05:06:07.089', updated: '2026-07-08T23:30:00.250' },
    { id: 'tz-tokyo', created: '2026-03-04T05:06:07.089', updated: '2026-07-08T23:30:00.250' },
    { id: 'tz-tokyo-2', created: '2026-03-04T05:06:07.089', updated: '2026-07-08T23:30:00.250' },
  ])
})

// Threads are counted from /proc (Linux); elsewhere the calls must still work with either setting.
it('the native work runs on one runtime thread, unless TOKIO_WORKER_THREADS asks for more', () => {
  const script = `
    const fs = require('node:fs')
    const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
    ;(async () => {
      const adapter = new PostgresStorageAdapter(${config})
      await adapter.initialize()
      await Promise.all(Array.from({ length: 20 }, (_, index) => adapter.hasSession('runtime-' + index)))
      const tasks = fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task') : null
      const names = (tasks ?? []).map((task) => fs.readFileSync('/proc/self/task/' + task + '/comm', 'utf8').trim())
      await adapter.close()
      console.log(tasks === null ? (process.env.TOKIO_WORKER_THREADS ?? 1) : names.filter((name) => name === 'tokio-rt-worker').length)
    })().catch((error) => { console.error(error); process.exit(1) })
  `
  const workers = (env: Record<string, string>) => {
    const result = runNode(['-e', script], env)
    expect(result.stderr).toBe('')
    return Number(result.stdout.trim())
  }
  expect(workers({})).toBe(1)
  expect(workers({ TOKIO_WORKER_THREADS: '3' })).toBe(3)
})
