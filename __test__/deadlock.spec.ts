// Overlapping batches: two adapters saving batches that share ids in opposite
// orders, plus single saves on the same ids, must never surface a PostgreSQL deadlock (40P01) or
// serialization failure (40001): every call resolves or rejects with ConflictError. Sorting the
// rows must not change what a conflict reports (the first conflicting session in the caller's
// order), and a batch stays all-or-nothing. A throwaway cluster of our own.
import pg from 'pg'
import { ConflictError, PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig, Session } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { makeSession } from './helpers.js'

const ROUNDS = 100
const IDS = 20

let cluster: Throwaway
let config: PostgresConfig
let first: PostgresStorageAdapter
let second: PostgresStorageAdapter

beforeAll(async () => {
  // A short deadlock_timeout only makes today's deadlocks cheaper to detect; it does not cause them.
  cluster = await startThrowaway({ database: 'deadlock', settings: { deadlock_timeout: '100ms' } })
  config = { ...cluster.target, poolSize: 3 }
  first = new PostgresStorageAdapter({ ...config, applicationName: 'deadlock-spec-a' })
  second = new PostgresStorageAdapter({ ...config, applicationName: 'deadlock-spec-b' })
  await first.initialize()
  await second.initialize()
}, 60_000)

afterAll(async () => {
  await first?.close()
  await second?.close()
  await cluster?.stop()
})

async function storedVersions(ids: string[]): Promise<Map<string, number>> {
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT id, version FROM sessions WHERE id = ANY($1)', [ids])
    return new Map(rows.map((row) => [row.id as string, row.version as number]))
  } finally {
    await client.end()
  }
}

async function snapshot(ids: string[]): Promise<string> {
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    const { rows } = await client.query(
      'SELECT id, version, created_at, updated_at, data::text AS data FROM sessions WHERE id = ANY($1) ORDER BY id',
      [ids],
    )
    return JSON.stringify(rows)
  } finally {
    await client.end()
  }
}

/** Each session of `base` at the version `reader` sees plus one, in the order of `order`. */
async function bumped(reader: PostgresStorageAdapter, base: Map<string, Session>, order: string[]): Promise<Session[]> {
  const current = await reader.getSessions(order)
  return order.map((id) => ({ ...base.get(id)!, version: current.get(id)!.version + 1, updatedAt: new Date() }))
}

it(`${ROUNDS} rounds of batches sharing ${IDS} ids in opposite orders, plus single saves: no deadlock surfaces`, async () => {
  const run = `${process.pid}-${Date.now()}`
  const ids = Array.from({ length: IDS }, (_, index) => `overlap-${run}-${String(index).padStart(2, '0')}`)
  const base = new Map(ids.map((id) => [id, makeSession({ id, version: 1 })]))
  expect(await first.saveSessions([...base.values()])).toBe(IDS)
  const ascending = [...ids].sort()
  const descending = [...ascending].reverse()

  const counts = { resolved: 0, conflicts: 0, deadlocks: 0, batchesSaved: 0 }
  const unexpected: string[] = []
  const deadlockSamples: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const [batchA, batchB] = await Promise.all([bumped(first, base, ascending), bumped(second, base, descending)])
    const [singleA] = await bumped(first, base, [ids[IDS / 4]])
    const [singleB] = await bumped(second, base, [ids[(3 * IDS) / 4]])
    const calls: Array<[string, Promise<unknown>]> = [
      ['first.saveSessions (ascending)', first.saveSessions(batchA)],
      ['second.saveSessions (descending)', second.saveSessions(batchB)],
      ['first.saveSession', first.saveSession(singleA)],
      ['second.saveSession', second.saveSession(singleB)],
    ]
    const results = await Promise.allSettled(calls.map(([, call]) => call))
    const stored = await storedVersions(ids)
    results.forEach((result, index) => {
      const [name] = calls[index]
      if (result.status === 'fulfilled') {
        counts.resolved++
        if (index < 2) {
          counts.batchesSaved++
          // All of an acknowledged batch is stored (later writers only raise versions).
          for (const session of index === 0 ? batchA : batchB) {
            expect(stored.get(session.id)).toBeGreaterThanOrEqual(session.version)
          }
        }
        return
      }
      const error = result.reason as StorageError
      if (error instanceof ConflictError && error.code === 'E_CONFLICT') {
        counts.conflicts++
      } else if (['40P01', '40001'].includes(error?.sqlstate ?? '') || /deadlock/i.test(String(error?.message))) {
        counts.deadlocks++
        if (deadlockSamples.length < 3)
          deadlockSamples.push(
            `round ${round} ${name}: ${error.name} ${error.code} ${error.sqlstate}: ${error.message}`,
          )
      } else {
        unexpected.push(`round ${round} ${name}: ${error?.name} ${error?.code} ${error?.sqlstate}: ${error?.message}`)
      }
    })
  }
  console.log(
    `overlapping batches: ${ROUNDS} rounds, ${ROUNDS * 4} calls: ${counts.resolved} resolved (${counts.batchesSaved} batches), ` +
      `${counts.conflicts} ConflictError, ${counts.deadlocks} deadlocks surfaced\n${[...deadlockSamples, ...unexpected].join('\n')}`,
  )
  expect({ deadlocks: counts.deadlocks, deadlockSamples }).toEqual({ deadlocks: 0, deadlockSamples: [] })
  expect(unexpected).toEqual([])
  expect(counts.resolved + counts.conflicts).toBe(ROUNDS * 4)
  // Work gets done: conflicts are the optimistic lock at work, not everything failing.
  expect(counts.batchesSaved).toBeGreaterThan(0)
}, 120_000)

describe('a batch conflict after the rows are locked in id order', () => {
  it("names the first conflicting session in the caller's order and writes nothing of the batch", async () => {
    const run = `${process.pid}-${Date.now()}`
    // "zz" comes first in the caller's order but last in id order.
    const staleLast = makeSession({ id: `order-${run}-zz`, version: 5 })
    const staleFirst = makeSession({ id: `order-${run}-aa`, version: 7 })
    const existing = makeSession({ id: `order-${run}-mm`, version: 1 })
    await first.saveSessions([staleLast, staleFirst, existing])
    const fresh = makeSession({ id: `order-${run}-bb` })
    const ids = [staleLast.id, staleFirst.id, existing.id, fresh.id]
    const before = await snapshot(ids)

    const error = await first
      .saveSessions([
        { ...existing, version: 2, state: 'paused' },
        { ...staleLast, version: 5, state: 'paused' },
        fresh,
        { ...staleFirst, version: 3, state: 'paused' },
      ])
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConflictError)
    expect((error as ConflictError).code).toBe('E_CONFLICT')
    expect((error as ConflictError).message).toContain(staleLast.id)
    expect((error as ConflictError).message).not.toContain(staleFirst.id)
    expect((error as ConflictError).conflictingVersions).toEqual([5, 5])
    expect(await snapshot(ids)).toBe(before)
    expect(await first.hasSession(fresh.id)).toBe(false)
  })

  it('a batch in descending id order that conflicts on its last session writes none of it', async () => {
    const run = `${process.pid}-${Date.now()}`
    const sessions = Array.from({ length: 6 }, (_, index) => makeSession({ id: `desc-${run}-${index}`, version: 2 }))
    await second.saveSessions(sessions)
    const before = await snapshot(sessions.map((session) => session.id))
    const batch = [...sessions].reverse().map((session, index) => ({ ...session, version: index === 5 ? 2 : 3 }))
    const error = await second.saveSessions(batch).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConflictError)
    expect((error as ConflictError).message).toContain(batch[5].id)
    expect((error as ConflictError).conflictingVersions).toEqual([2, 2])
    expect(await snapshot(sessions.map((session) => session.id))).toBe(before)
  })
})
