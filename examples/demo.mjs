// The main job (`npm start`): a short demonstration of the adapter against PostgreSQL. It saves,
// reads, lists and conflicts sessions and prints what happened, then times a few hundred calls.
// Connection: the library's own resolution, as an app would rely on it: DATABASE_URL, else the PG*
// variables (scripts/with-database.mjs passes on what you configured). It only touches its own
// rows (ids starting with "demo-") and deletes them at the end.
import { randomUUID } from 'node:crypto'
import { ConflictError, PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'

const env = process.env
const config = { poolSize: 8 }
// Where it connects, for the log: never the URL itself (it may hold a password).
const where = env.DATABASE_URL
  ? 'the server in DATABASE_URL'
  : `${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? 5432}/${env.PGDATABASE ?? 'smalltalk'}`
const run = randomUUID().slice(0, 8)
const say = (text) => console.log(text)
const step = (title) => console.log(`\n== ${title}`)

function turn(sequence, text) {
  const timestamp = new Date()
  return {
    sequence,
    timestamp,
    userMessage: text,
    agentResponses: [
      { agentId: 'planner', response: `Planner's answer to "${text}"`, timestamp },
      { agentId: 'critic', response: `Critic's note on "${text}"`, timestamp },
    ],
  }
}

function newSession(id, state = 'active') {
  const now = new Date()
  return {
    id,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 3_600_000),
    state,
    agentIds: ['planner', 'critic'],
    agentStates: {
      planner: { config: { model: 'gpt-4o' }, context: {}, messageHistory: [] },
      critic: { config: { model: 'gpt-4o-mini' }, context: {}, messageHistory: [] },
    },
    conversationHistory: [turn(1, 'Plan a trip to Lisbon'), turn(2, 'Add a day in Sintra'), turn(3, 'Budget?')],
    sharedContext: { destination: 'Lisbon', days: 4 },
    metadata: { userId: 'demo-user', tags: ['demo', run] },
    version: 1,
  }
}

const adapter = new PostgresStorageAdapter(config)
const demoIds = []
try {
  step('initialize')
  const started = performance.now()
  await adapter.initialize()
  say(`connected to ${where} in ${(performance.now() - started).toFixed(1)} ms`)
  say(`healthCheck: ${JSON.stringify(await adapter.healthCheck())}`)

  step('save and read a session')
  const id = `demo-${run}-trip`
  demoIds.push(id)
  await adapter.saveSession(newSession(id))
  const read = await adapter.getSession(id)
  say(
    `saved ${id} (version ${read.version}, ${read.conversationHistory.length} turns, agents ${read.agentIds.join(', ')})`,
  )
  say(`updatedAt came back as a ${read.updatedAt.constructor.name}: ${read.updatedAt.toISOString()}`)

  step('update it (version 1 -> 2)')
  read.conversationHistory.push(turn(4, 'Book the hotel'))
  read.version = 2
  read.updatedAt = new Date()
  await adapter.saveSession(read)
  say(`now version ${(await adapter.getSession(id)).version} with ${read.conversationHistory.length} turns`)

  step('a stale writer (still at version 2) is refused')
  try {
    await adapter.saveSession({ ...read, state: 'closed' })
    say('UNEXPECTED: the stale save was accepted')
    process.exitCode = 1
  } catch (error) {
    const kind = error instanceof ConflictError ? 'ConflictError' : error.name
    say(`${kind}: ${error.message} (conflictingVersions ${JSON.stringify(error.conflictingVersions)})`)
    say(`stored state is still "${(await adapter.getSession(id)).state}"`)
  }

  step('two writers race from version 2 to 3')
  const results = await Promise.allSettled(
    ['writer A', 'writer B'].map((writer) =>
      adapter.saveSession({ ...read, version: 3, metadata: { ...read.metadata, lastWriter: writer } }),
    ),
  )
  results.forEach((result, index) =>
    say(
      `writer ${'AB'[index]}: ${result.status === 'fulfilled' ? 'saved' : `${result.reason.name} ${JSON.stringify(result.reason.conflictingVersions)}`}`,
    ),
  )
  say(`stored lastWriter: ${(await adapter.getSession(id)).metadata.lastWriter}`)

  step('batch save, list, get many')
  const batch = Array.from({ length: 20 }, (_, index) =>
    newSession(`demo-${run}-batch-${String(index).padStart(2, '0')}`, index % 4 === 0 ? 'paused' : 'active'),
  )
  demoIds.push(...batch.map((session) => session.id))
  say(`saveSessions(20) -> ${await adapter.saveSessions(batch)} saved in one transaction`)
  const paused = await adapter.listSessions('paused', 3)
  say(`listSessions('paused', 3): ${paused.map((summary) => summary.id).join(', ')}`)
  const many = await adapter.getSessions([batch[0].id, batch[1].id, 'demo-missing'])
  say(`getSessions of 3 ids (one missing) -> Map of ${many.size}`)

  step('key-value')
  const key = `demo-${run}-settings`
  await adapter.setValue(key, { theme: 'dark', limits: [1, 2, 3] })
  say(`getValue -> ${JSON.stringify(await adapter.getValue(key))}; deleteValue -> ${await adapter.deleteValue(key)}`)

  step('timing (this machine, this server)')
  for (const concurrency of [1, 16]) {
    const calls = 800
    let next = 0
    const begin = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const target = batch[next++ % batch.length].id
          const session = await adapter.getSession(target)
          if (session?.id !== target) throw new Error(`read ${session?.id} for ${target}`)
        }
      }),
    )
    const seconds = (performance.now() - begin) / 1000
    say(`getSession x${calls} at concurrency ${concurrency}: ${Math.round(calls / seconds)} ops/s`)
  }

  const stats = await adapter.getStats()
  step('stats')
  say(`totalSessions ${stats.totalSessions}, sizeBytes ${stats.sizeBytes}, pool ${JSON.stringify(stats.metrics.pool)}`)
} catch (error) {
  console.error(`demo failed: ${error.name}: ${error.message}`)
  process.exitCode = 1
} finally {
  if (demoIds.length > 0) {
    const removed = await adapter.deleteSessions(demoIds).catch(() => 0)
    say(`\ncleaned up ${removed} demo sessions`)
  }
  await adapter.close()
}
