// What a caller is told is what happened. A write that rejects with E_TIMEOUT has written nothing,
// now or later: its deadline reaches the server, which stops the statement and rolls it back. A
// member of a coalesced group that waits for a locked row costs only its own caller. Saves of one
// id are applied in the order they were called. Every test checks that the rows in the table are
// exactly the acknowledged writes, a while after every lock is gone.
import pg from 'pg'
import { ConflictError, PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, makeSession, rawClient, sleep, sql } from './helpers.js'

/** The deadline under test; after a lock is released, a late commit would show within this. */
const DEADLINE_MS = 1000
const LATE_COMMIT_WINDOW_MS = 2000

let adapter: PostgresStorageAdapter | undefined
let locker: pg.Client | undefined

beforeEach(async () => {
  await dropTables()
})

afterEach(async () => {
  await locker?.query('ROLLBACK').catch(() => undefined)
  await locker?.end()
  locker = undefined
  await adapter?.close()
  adapter = undefined
  await dropTables()
})

async function open(options: PostgresConfig): Promise<PostgresStorageAdapter> {
  adapter = new PostgresStorageAdapter({ ...contractConfig(), queryTimeoutMs: DEADLINE_MS, ...options })
  await adapter.initialize()
  return adapter
}

/** A second client holding row locks in an open transaction, as an admin or another app would. */
async function lockRows(statements: Array<[string, unknown[]]>): Promise<pg.Client> {
  locker = await rawClient()
  await locker.query('BEGIN')
  for (const [text, params] of statements) await locker.query(text, params)
  return locker
}

async function release(): Promise<void> {
  await locker!.query('COMMIT')
}

/** Every stored session as `id -> version`. */
async function storedVersions(): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; version: number }>('SELECT id, version FROM sessions')
  return new Map(rows.map((row) => [row.id, row.version]))
}

function expectTimeout(outcome: PromiseSettledResult<unknown>, what: string): void {
  const seen = outcome.status === 'rejected' ? `${outcome.reason?.name} ${outcome.reason?.code}` : 'resolved'
  expect({ what, seen }).toEqual({ what, seen: 'StorageError E_TIMEOUT' })
  expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StorageError)
}

/**
 * Both statement modes; through PgBouncer in transaction pooling (`npm run test:scale`, which sets
 * SMALLTALK_TEST_STATEMENT_CACHE=false) only the mode PgBouncer supports.
 */
const statementModes: Array<[string, boolean]> =
  process.env.SMALLTALK_TEST_STATEMENT_CACHE === 'false'
    ? [['statement cache off', false]]
    : [
        ['statement cache on', true],
        ['statement cache off', false],
      ]

describe.each(statementModes)('a write blocked by a row lock past its deadline (%s)', (_label, statementCache) => {
  it('rejects E_TIMEOUT and never commits: saveSession, saveSessions, deleteSession, setValue', async () => {
    const store = await open({ statementCache, poolSize: 6, coalesce: false })
    const locked = makeSession({ version: 1 })
    const batchLocked = makeSession({ version: 1 })
    const doomed = makeSession({ version: 1 })
    await store.saveSessions([locked, batchLocked, doomed])
    await store.setValue('locked-key', { v: 1 })
    const batchFresh = makeSession({ version: 1 })

    await lockRows([
      ['SELECT 1 FROM sessions WHERE id = ANY($1) FOR UPDATE', [[locked.id, batchLocked.id, doomed.id]]],
      ['SELECT 1 FROM key_value WHERE key = $1 FOR UPDATE', ['locked-key']],
    ])
    const started = performance.now()
    const outcomes = await Promise.allSettled([
      store.saveSession({ ...locked, version: 2, metadata: { late: true } }),
      store.saveSessions([batchFresh, { ...batchLocked, version: 2 }]),
      store.deleteSession(doomed.id),
      store.setValue('locked-key', { v: 2 }),
    ])
    const elapsed = performance.now() - started
    ;['saveSession', 'saveSessions', 'deleteSession', 'setValue'].forEach((what, index) =>
      expectTimeout(outcomes[index], what),
    )
    expect((outcomes[0] as PromiseRejectedResult).reason.message).toMatch(/cancelled .*: nothing was written/)
    // The server's own deadline stopped them: the verdict came by the caller's deadline.
    expect(elapsed).toBeLessThan(DEADLINE_MS + 500)

    await release()
    await sleep(LATE_COMMIT_WINDOW_MS)
    expect(await storedVersions()).toEqual(
      new Map([
        [locked.id, 1],
        [batchLocked.id, 1],
        [doomed.id, 1],
      ]),
    )
    expect(await store.getValue('locked-key')).toEqual({ v: 1 })
    // The adapter is whole afterwards: the same writes now go through.
    await store.saveSession({ ...locked, version: 2 })
    expect(await store.deleteSession(doomed.id)).toBe(true)
    expect(await storedVersions()).toEqual(
      new Map([
        [locked.id, 2],
        [batchLocked.id, 1],
      ]),
    )
  })

  it('a coalesced group with one locked member: only that member rejects, the rest resolve in their usual time', async () => {
    const store = await open({ statementCache, poolSize: 2, queryTimeoutMs: 1500 })
    const sessions = Array.from({ length: 33 }, (_, index) =>
      makeSession({ id: `member-${String(index).padStart(2, '0')}` }),
    )
    await store.saveSessions(sessions)
    const lockedIndex = 16
    await lockRows([['SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [sessions[lockedIndex].id]]])

    const started = performance.now()
    const took: number[] = []
    const outcomes = await Promise.allSettled(
      sessions.map(async (session, index) => {
        await store.saveSession({ ...session, version: 2, updatedAt: new Date() })
        took[index] = performance.now() - started
      }),
    )
    outcomes.forEach((outcome, index) => {
      if (index === lockedIndex) expectTimeout(outcome, `member ${index} (locked)`)
      else expect({ index, status: outcome.status }).toEqual({ index, status: 'fulfilled' })
    })
    const slowest = Math.max(...took.filter((_, index) => index !== lockedIndex))
    console.log(
      `one locked member in 33 concurrent saves (pool 2): the other 32 resolved within ${Math.round(slowest)} ms`,
    )
    expect(slowest).toBeLessThan(750)
    const saves = (await store.getStats()).metrics.operations.saveSession
    expect(saves.groups).toBeGreaterThan(0)

    await release()
    await sleep(LATE_COMMIT_WINDOW_MS)
    const acknowledged = new Map(sessions.map((session, index) => [session.id, index === lockedIndex ? 1 : 2]))
    expect(await storedVersions()).toEqual(acknowledged)
  })
})

describe.each([
  ['coalescing on', true],
  ['coalescing off', false],
])('back-to-back saves of one id, not awaited (%s)', (_label, coalesce) => {
  it('are applied in call order: every one resolves and the last version is stored', async () => {
    const store = await open({ poolSize: 4, coalesce, queryTimeoutMs: 10_000 })
    const hot = makeSession({ version: 1 })
    const others = Array.from({ length: 12 }, () => makeSession({ version: 1 }))
    await store.saveSessions([hot, ...others])
    for (let round = 0; round < 5; round++) {
      const base = 1 + round * 20
      const calls: Promise<unknown>[] = []
      for (let step = 1; step <= 20; step++) {
        calls.push(store.saveSession({ ...hot, version: base + step, metadata: { step } }))
        // Other sessions' saves keep the pool busy, so that the hot id's saves are grouped too.
        calls.push(store.saveSession({ ...others[step % others.length], version: base + step }))
      }
      const outcomes = await Promise.allSettled(calls)
      const rejected = outcomes.flatMap((outcome, index) =>
        outcome.status === 'rejected' && index % 2 === 0 ? [`${index / 2 + 1}: ${outcome.reason?.name}`] : [],
      )
      expect(rejected).toEqual([])
      expect((await store.getSession(hot.id))!.version).toBe(base + 20)
    }
    // A stale save still conflicts: order is kept, versions still guard.
    await expect(store.saveSession({ ...hot, version: 50 })).rejects.toBeInstanceOf(ConflictError)
    expect((await storedVersions()).get(hot.id)).toBe(101)
  })
})

it('a save and a delete of one id, not awaited, apply in call order', async () => {
  const store = await open({ poolSize: 4 })
  const session = makeSession({ version: 1 })
  const outcomes = await Promise.all([
    store.saveSession(session),
    store.deleteSession(session.id),
    store.saveSession({ ...session, version: 2 }),
    store.saveSession({ ...session, version: 3 }),
    store.deleteSession(session.id),
  ])
  expect(outcomes).toEqual([undefined, true, undefined, undefined, true])
  expect((await storedVersions()).has(session.id)).toBe(false)
})
