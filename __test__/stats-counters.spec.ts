// getStats() at any table size: per-state counters kept by triggers, exact against count(*) while
// the adapter, a plain pg client (as SmallTalk's TypeScript adapter writes) and rolled-back
// transactions change the table; the table counted instead (and said so) when the triggers are
// gone; counters made for a table that already holds rows start exact.
import { ConflictError, PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import type pg from 'pg'
import { contractConfig, dropTables, makeSession, rawClient, sql } from './helpers.js'

const STATES = ['active', 'paused', 'expired', 'invalidated_pending_cleanup', 'closed'] as const
/** States the counters count one by one, a state they count only in the total, and none. */
const ANY_STATE = [...STATES, 'archived', undefined]

let adapter: PostgresStorageAdapter
let client: pg.Client

beforeEach(async () => {
  await dropTables()
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
  client = await rawClient()
})

afterEach(async () => {
  await client.end()
  await adapter.close()
  await dropTables()
})

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

/** The counts as count(*) gives them, in getStats()' shape. */
async function counted(): Promise<Record<string, number>> {
  const [row] = await sql(
    `SELECT count(*)::int AS total, ${STATES.map((s) => `count(*) FILTER (WHERE data->>'state' = '${s}')::int AS "${s}"`).join(', ')}
     FROM sessions`,
  )
  return row
}

/** getStats()' counts, in count(*)'s shape, and where they came from. */
async function stats(): Promise<{ counts: Record<string, number>; countedBy: string }> {
  const { totalSessions, metrics } = await adapter.getStats()
  return {
    countedBy: metrics.countedBy,
    counts: {
      total: totalSessions,
      active: metrics.activeCount,
      paused: metrics.pausedCount,
      expired: metrics.expiredCount,
      invalidated_pending_cleanup: metrics.invalidatedPendingCleanupCount,
      closed: metrics.closedCount,
    },
  }
}

function withState(session: Session, state: string | undefined): Session {
  const copy: Record<string, unknown> = { ...session }
  if (state === undefined) delete copy.state
  else copy.state = state
  return copy as unknown as Session
}

it('counts from the counters, exact against count(*) through a randomized mix of writers', async () => {
  const next = random(20261204)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]
  const stored = new Map<string, Session>()
  // Writers race on the same ids: a save that loses gets a ConflictError and writes nothing.
  const save = (session: Session) =>
    adapter.saveSession(session).then(
      () => void stored.set(session.id, session),
      (error) => {
        if (!(error instanceof ConflictError)) throw error
      },
    )
  for (let round = 0; round < 12; round++) {
    const work: Array<Promise<unknown>> = []
    for (let step = 0; step < 25; step++) {
      const ids = [...stored.keys()]
      const existing = ids.length > 0 ? stored.get(pick(ids))! : undefined
      const kind = Math.floor(next() * 10)
      if (kind <= 2 || !existing) {
        work.push(save(withState(makeSession(), pick(ANY_STATE))))
      } else if (kind === 3) {
        stored.delete(existing.id)
        const changed = { ...withState(existing, pick(ANY_STATE)), version: existing.version + 1 }
        work.push(save(changed))
      } else if (kind === 4) {
        // A stale save is refused and counts nothing.
        work.push(save({ ...withState(existing, 'closed'), version: existing.version }))
      } else if (kind === 5) {
        stored.delete(existing.id)
        work.push(adapter.deleteSession(existing.id))
      } else if (kind === 6) {
        const batch = [0, 1, 2].map(() => withState(makeSession(), pick(ANY_STATE)))
        work.push(adapter.saveSessions(batch).then(() => batch.forEach((s) => stored.set(s.id, s))))
      } else if (kind === 7) {
        // As SmallTalk's TypeScript adapter writes: its own SQL through pg, state in the JSON.
        stored.delete(existing.id)
        work.push(
          client.query(
            `UPDATE sessions SET data = jsonb_set(data, '{state}', to_jsonb($2::text)), version = version + 1 WHERE id = $1`,
            [existing.id, pick(STATES)],
          ),
        )
      } else if (kind === 8) {
        const fresh = withState(makeSession(), pick(ANY_STATE))
        work.push(
          client.query(
            `INSERT INTO sessions (id, data, version, created_at, updated_at) VALUES ($1, $2, 1, now(), now())`,
            [fresh.id, JSON.stringify(fresh)],
          ),
        )
      } else {
        stored.delete(existing.id)
        work.push(client.query('DELETE FROM sessions WHERE id = $1', [existing.id]))
      }
    }
    await Promise.all(work)
    // Rolled back: an insert and a state change that never happened.
    await client.query('BEGIN')
    await client.query(`INSERT INTO sessions (id, data) VALUES ('rolled-back', '{"state":"active"}')`)
    await client.query(`UPDATE sessions SET data = jsonb_set(data, '{state}', '"paused"')`)
    await client.query('ROLLBACK')
    const { counts, countedBy } = await stats()
    expect(countedBy).toBe('counters')
    expect(counts).toEqual(await counted())
  }
  expect((await counted()).total).toBeGreaterThan(50)
  // TRUNCATE (no row triggers) resets the counters too.
  await sql('TRUNCATE sessions')
  expect(await stats()).toEqual({ countedBy: 'counters', counts: await counted() })
})

it('a session with another state, or none, counts in the total only', async () => {
  await adapter.saveSessions([withState(makeSession(), 'archived'), withState(makeSession(), undefined), makeSession()])
  const { counts } = await stats()
  expect(counts).toEqual({ ...(await counted()), total: 3, active: 1 })
})

it('with a trigger gone, counts the table and says so; initialize() makes the counters again, exact', async () => {
  await adapter.saveSessions([makeSession(), withState(makeSession(), 'paused')])
  await sql('DROP TRIGGER smalltalk_session_states_insert_delete ON sessions')
  await client.query(`INSERT INTO sessions (id, data) VALUES ('uncounted', '{"state":"closed"}')`)
  expect(await stats()).toEqual({ countedBy: 'table', counts: await counted() })
  await adapter.initialize()
  expect(await stats()).toEqual({ countedBy: 'counters', counts: await counted() })
  await adapter.deleteSession('uncounted')
  expect(await stats()).toEqual({ countedBy: 'counters', counts: await counted() })
})

it('counters made for a table that already holds rows start from its exact counts', async () => {
  await adapter.close()
  await dropTables()
  // The original adapter's schema and rows, written before this adapter ever ran.
  await sql(`CREATE TABLE sessions (id TEXT PRIMARY KEY, data JSONB NOT NULL, version INTEGER NOT NULL DEFAULT 1,
             created_at TIMESTAMP NOT NULL DEFAULT NOW(), updated_at TIMESTAMP NOT NULL DEFAULT NOW())`)
  await sql(`INSERT INTO sessions (id, data)
             SELECT 'pre-' || n, jsonb_build_object('state', (ARRAY['active','paused','closed','archived'])[1 + n % 4])
             FROM generate_series(1, 2000) AS n`)
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
  const { counts, countedBy } = await stats()
  expect(countedBy).toBe('counters')
  expect(counts).toEqual(await counted())
  expect(counts.total).toBe(2000)
  expect(counts.active).toBe(500)
})

it('getStats reads the counters, not the table: at 100k sessions it is far cheaper than count(*)', async () => {
  await sql(`INSERT INTO sessions (id, data) SELECT 'bulk-' || n, jsonb_build_object('state', 'active', 'pad', repeat('x', 200))
             FROM generate_series(1, 100000) AS n`)
  const median = async (run: () => Promise<unknown>) => {
    const times: number[] = []
    for (let i = 0; i < 15; i++) {
      const started = performance.now()
      await run()
      times.push(performance.now() - started)
    }
    return times.sort((a, b) => a - b)[7]
  }
  const viaCounters = await median(() => adapter.getStats())
  const viaTable = await median(() => client.query(`SELECT count(*) FROM sessions WHERE data->>'state' = 'active'`))
  console.log(
    `getStats at 100k sessions: ${viaCounters.toFixed(2)} ms; one count(*) of a state: ${viaTable.toFixed(2)} ms`,
  )
  expect((await stats()).counts.total).toBe(100000)
  expect(viaCounters).toBeLessThan(viaTable)
}, 60_000)
