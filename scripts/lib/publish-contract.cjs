'use strict'
// The smoke contract scripts/test-publish.mjs runs inside the app that installed the package from
// the registry, on x64 (ESM and CommonJS entries) and on arm64 under qemu: the package as its
// entry point loaded it (`api`), then save, get, a stale save refused with ConflictError, list,
// getStats and close against POSTGRES_*, on rows of its own (`publish-<random>-...`, deleted at
// the end). Prints one JSON line: the steps passed, the machine, and which native binary the
// process loaded (from require.cache: the file napi's loader required). Exits 1 on any failure.
const { randomBytes } = require('node:crypto')

function check(condition, what) {
  if (!condition) throw new Error(`contract: ${what}`)
}

async function run(api, entry) {
  const { ConflictError, PostgresStorageAdapter, StorageError } = api
  check(typeof PostgresStorageAdapter === 'function', `the ${entry} entry exports PostgresStorageAdapter`)
  const env = process.env
  const adapter = new PostgresStorageAdapter({
    host: env.POSTGRES_HOST ?? 'localhost',
    port: Number(env.POSTGRES_PORT ?? 5432),
    database: env.POSTGRES_DB ?? 'smalltalk_test',
    user: env.POSTGRES_USER ?? 'postgres',
    password: env.POSTGRES_PASSWORD ?? 'postgres',
    poolSize: 2,
  })
  const prefix = `publish-${entry}-${process.arch}-${randomBytes(4).toString('hex')}`
  const ids = [`${prefix}-1`, `${prefix}-2`]
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
    sharedContext: { arch: process.arch, entry },
    metadata: { tags: ['publish'] },
    version,
  })
  const steps = []
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
      read.createdAt.getTime() === now.getTime() && read.sharedContext.arch === process.arch,
      'the session round-trips',
    )
    check((await adapter.getSession(`${prefix}-missing`)) === null, 'a missing session reads as null')
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
    check(
      (await adapter.getSession(ids[0])).updatedAt.getTime() === now.getTime() + 1,
      'the refused save wrote nothing',
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
      stats.backendType === 'postgres' && stats.totalSessions >= 2 && stats.metrics.pausedCount >= 1,
      'getStats counts the sessions',
    )
    steps.push('getStats')
    for (const id of ids) check(await adapter.deleteSession(id), `deleteSession(${id})`)
  } finally {
    await adapter.close()
  }
  const afterClose = await adapter.getSession(ids[0]).then(
    () => null,
    (error) => error,
  )
  check(
    afterClose?.code === 'E_CLOSED',
    `a call after close() fails with E_CLOSED (got ${afterClose?.code ?? 'no error'})`,
  )
  steps.push('close')
  const binaries = Object.keys(require.cache).filter((file) => file.endsWith('.node'))
  process.stdout.write(`${JSON.stringify({ entry, arch: process.arch, node: process.version, steps, binaries })}\n`)
}

function main(api, entry) {
  return run(api, entry).catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`)
    process.exit(1)
  })
}

module.exports = { main }
