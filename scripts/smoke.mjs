#!/usr/bin/env node
// The smoke contract, run by `npm run test:node-matrix` under each supported Node line (and
// usable alone: `node scripts/with-database.mjs node scripts/smoke.mjs`): the package imported by
// its name from ESM, then save, get, conflict, list, getStats and close against POSTGRES_*, and a
// second process that never calls close() must exit by itself. Touches only its own rows
// (ids `smoke-<random>-...`), deleted at the end. Prints one JSON line; exits 1 on any failure.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { ConflictError, PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'

const env = process.env
const config = {
  host: env.POSTGRES_HOST ?? 'localhost',
  port: Number(env.POSTGRES_PORT ?? 5432),
  database: env.POSTGRES_DB ?? 'smalltalk_test',
  user: env.POSTGRES_USER ?? 'postgres',
  password: env.POSTGRES_PASSWORD ?? 'postgres',
  poolSize: 2,
}
const run = `smoke-${randomBytes(4).toString('hex')}`
const now = new Date()
const session = (id, version, state = 'active') => ({
  id,
  createdAt: now,
  updatedAt: new Date(now.getTime() + version),
  expiresAt: new Date(now.getTime() + 3_600_000),
  state,
  agentIds: ['agent-a'],
  agentStates: {},
  conversationHistory: [{ sequence: 1, timestamp: now, userMessage: 'hi', agentResponses: [] }],
  sharedContext: { node: process.version },
  metadata: { tags: ['smoke'] },
  version,
})

function check(condition, what) {
  if (!condition) throw new Error(`smoke: ${what}`)
}

const steps = []
const adapter = new PostgresStorageAdapter(config)
const ids = [`${run}-1`, `${run}-2`]
try {
  await adapter.initialize()
  await adapter.saveSession(session(ids[0], 1))
  await adapter.saveSession(session(ids[1], 1, 'paused'))
  steps.push('save')
  const read = await adapter.getSession(ids[0])
  check(
    read?.id === ids[0] && read.version === 1 && read.createdAt instanceof Date,
    'getSession reads back what was saved',
  )
  check(
    read.createdAt.getTime() === now.getTime() && read.sharedContext.node === process.version,
    'the session round-trips',
  )
  steps.push('get')
  const conflict = await adapter.saveSession(session(ids[0], 1)).then(
    () => null,
    (error) => error,
  )
  check(
    conflict instanceof ConflictError && conflict instanceof StorageError,
    'a stale save is refused with ConflictError',
  )
  check(
    conflict.code === 'E_CONFLICT' && JSON.stringify(conflict.conflictingVersions) === '[1,1]',
    'the conflict says [attempted, stored]',
  )
  steps.push('conflict')
  const listed = (await adapter.listSessions(undefined, 1000)).map((summary) => summary.id)
  const paused = (await adapter.listSessions('paused', 1000)).map((summary) => summary.id)
  check(
    ids.every((id) => listed.includes(id)) && paused.includes(ids[1]) && !paused.includes(ids[0]),
    'listSessions lists and filters by state',
  )
  steps.push('list')
  const stats = await adapter.getStats()
  check(
    stats.totalSessions >= 2 && stats.metrics.pausedCount >= 1 && stats.sizeBytes > 0,
    'getStats counts the sessions',
  )
  steps.push('getStats')
  for (const id of ids) check(await adapter.deleteSession(id), `deleteSession(${id})`)
} finally {
  await adapter.close()
}
steps.push('close')

// A process that uses the adapter and never closes it must still exit on its own, promptly.
const require = createRequire(import.meta.url)
const entry = require.resolve('@smalltalk-ai/postgres-storage')
const noClose = `
  const { PostgresStorageAdapter } = require(${JSON.stringify(entry)})
  const adapter = new PostgresStorageAdapter(${JSON.stringify(config)})
  adapter.initialize().then(() => adapter.getSession('${run}-none')).then((found) => console.log(found === null ? 'null' : 'found'))
`
const started = performance.now()
const child = spawnSync(process.execPath, ['-e', noClose], { encoding: 'utf8', timeout: 10_000 })
const exitMs = Math.round(performance.now() - started)
check(
  child.status === 0 && child.stdout.trim() === 'null',
  `a script without close() runs (exit ${child.status}: ${child.stderr})`,
)
check(exitMs < 3000, `a script without close() exits by itself (took ${exitMs} ms)`)
steps.push('exit without close')

console.log(JSON.stringify({ node: process.version, napi: process.versions.napi, steps, exitWithoutCloseMs: exitMs }))
