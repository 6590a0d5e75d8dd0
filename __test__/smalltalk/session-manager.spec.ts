// SmallTalk's SessionManager on this adapter: 8 addMessage loops race on one session, each reading
// version v, bumping to v + 1 and saving. SmallTalk retries a lost race only when the error is an
// instance of its own ConflictError, which is what `errorClasses` makes the adapter throw.
import { ConflictError as PackageConflictError, PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { dropTables, sql } from '../helpers.js'
import { postgresConnection } from './connection.js'
import { ConflictError } from './errors.js'
import { SessionManager } from './SessionManager.js'
import type { StorageAdapter } from './StorageAdapter.js'
import { StorageAdapterFactory } from './StorageAdapterFactory.js'

const LOOPS = 8
const MESSAGES_PER_LOOP = 5
// A save loses only to another loop's successful save, so no addMessage can lose more often than
// all the saves there are: with this many retries every loop finishes, however the race goes.
const ENOUGH_RETRIES = LOOPS * MESSAGES_PER_LOOP

let storage: StorageAdapter | undefined

beforeEach(dropTables)
afterEach(async () => {
  await storage?.close()
  storage = undefined
  await dropTables()
})

const message = (loop: number, index: number) => `loop ${loop} message ${index}`

interface LoopOutcome {
  /** Messages this loop added before it stopped. */
  added: number
  /** Why it stopped early, if it did. */
  error?: unknown
}

/** Starts the loops together; each adds its messages one after another and stops at its first error. */
function race(manager: SessionManager, sessionId: string): Promise<LoopOutcome[]> {
  return Promise.all(
    Array.from({ length: LOOPS }, async (_, loop): Promise<LoopOutcome> => {
      let added = 0
      try {
        for (; added < MESSAGES_PER_LOOP; added++) await manager.addMessage(sessionId, message(loop, added))
        return { added }
      } catch (error) {
        return { added, error }
      }
    }),
  )
}

/** The stored session and the version in its row. */
async function stored(sessionId: string) {
  const session = (await storage!.getSession(sessionId))!
  const [row] = await sql<{ version: number }>('SELECT version FROM sessions WHERE id = $1', [sessionId])
  return { session, rowVersion: row.version, messages: session.conversationHistory.map((turn) => turn.userMessage) }
}

/** The messages of one loop, in the order they appear in the history. */
const ofLoop = (messages: string[], loop: number) => messages.filter((text) => text.startsWith(`loop ${loop} `))

it('with errorClasses, 8 racing addMessage loops all finish: every conflict retried, no message lost', async () => {
  storage = await new StorageAdapterFactory(postgresConnection()).createAdapter('postgres')
  const manager = new SessionManager(storage, { maxRetries: ENOUGH_RETRIES })
  const { id } = await manager.createSession(['agent-a', 'agent-b'])

  const outcomes = await race(manager, id)

  expect(outcomes.filter((outcome) => outcome.error !== undefined)).toEqual([])
  expect(outcomes.map((outcome) => outcome.added)).toEqual(Array(LOOPS).fill(MESSAGES_PER_LOOP))
  expect(manager.retries).toBeGreaterThan(0) // the loops did race, and SmallTalk's instanceof caught it
  const { session, rowVersion, messages } = await stored(id)
  expect(manager.saves).toBe(1 + LOOPS * MESSAGES_PER_LOOP)
  expect(session.version).toBe(manager.saves)
  expect(rowVersion).toBe(manager.saves)
  expect(messages).toHaveLength(LOOPS * MESSAGES_PER_LOOP)
  expect(session.conversationHistory.map((turn) => turn.sequence)).toEqual(
    Array.from({ length: LOOPS * MESSAGES_PER_LOOP }, (_, index) => index + 1),
  )
  for (let loop = 0; loop < LOOPS; loop++) {
    expect(ofLoop(messages, loop)).toEqual(
      Array.from({ length: MESSAGES_PER_LOOP }, (_, index) => message(loop, index)),
    )
  }
})

it("without errorClasses, the first conflict of a loop escapes as the package's ConflictError, never retried", async () => {
  storage = new PostgresStorageAdapter(postgresConnection())
  await storage.initialize()
  const manager = new SessionManager(storage, { maxRetries: ENOUGH_RETRIES })
  const { id } = await manager.createSession(['agent-a', 'agent-b'])

  const outcomes = await race(manager, id)

  const stopped = outcomes.filter((outcome) => outcome.error !== undefined)
  expect(stopped.length).toBeGreaterThan(0)
  for (const { error } of stopped) {
    // Same name as SmallTalk's class, so only `instanceof` tells them apart, and it says "not ours".
    expect(error).toBeInstanceOf(PackageConflictError)
    expect(error).not.toBeInstanceOf(ConflictError)
    const conflict = error as PackageConflictError
    expect(conflict.name).toBe('ConflictError')
    expect(conflict.code).toBe('E_CONFLICT')
    expect(conflict.message).toMatch(/version/)
    const [attempted, inStore] = conflict.conflictingVersions!
    expect(attempted).toBeLessThanOrEqual(inStore)
  }
  expect(manager.retries).toBe(0)
  const { session, rowVersion, messages } = await stored(id)
  expect(session.version).toBe(manager.saves)
  expect(rowVersion).toBe(manager.saves)
  expect(messages).toHaveLength(manager.saves - 1)
  // What a loop saved before its conflict is all there, once and in order; nothing after it is.
  for (let loop = 0; loop < LOOPS; loop++) {
    expect(ofLoop(messages, loop)).toEqual(
      Array.from({ length: outcomes[loop].added }, (_, index) => message(loop, index)),
    )
  }
  const finished = outcomes.filter((outcome) => outcome.error === undefined)
  expect(finished.every((outcome) => outcome.added === MESSAGES_PER_LOOP)).toBe(true)
})
