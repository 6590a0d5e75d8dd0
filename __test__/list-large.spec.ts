// listSessions() with no limit at any size: the same summaries in the same order as one query,
// handed over and parsed a slice at a time, so the event loop never stalls long.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, sql } from './helpers.js'

let adapter: PostgresStorageAdapter

beforeAll(async () => {
  await dropTables()
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
  // 60k sessions, several per updated_at instant (ties are ordered by id), a few states.
  await sql(`INSERT INTO sessions (id, data, updated_at)
             SELECT 's-' || n, jsonb_build_object('state', (ARRAY['active','paused','closed'])[1 + n % 3],
                                                  'agentIds', jsonb_build_array('a', 'b')),
                    timestamp '2026-01-01' + (n / 3) * interval '1 ms'
             FROM generate_series(1, 60000) AS n`)
}, 60_000)

afterAll(async () => {
  await adapter.close()
  await dropTables()
})

/** The summaries as one query orders them. */
async function expected(where = '', limit = 'ALL', offset = 0) {
  const rows = await sql(
    `SELECT id, data->>'state' AS state, (extract(epoch FROM updated_at) * 1000)::float8 AS ms FROM sessions ${where}
     ORDER BY updated_at DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
  )
  return rows.map((row) => ({ id: row.id, state: row.state, updatedAt: Math.round(row.ms), agentCount: 2 }))
}

const plain = (summaries: Array<{ id: string; state: unknown; updatedAt: Date; agentCount: number }>) =>
  summaries.map((s) => ({ ...s, updatedAt: s.updatedAt.getTime() }))

it('lists 60k sessions in one call, as one query orders them, without stalling the event loop', async () => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const summaries = await adapter.listSessions()
  histogram.disable()
  const stall = histogram.max / 1e6
  console.log(`listSessions() of 60k sessions: longest event-loop stall ${stall.toFixed(1)} ms`)
  expect(plain(summaries)).toEqual(await expected())
  expect(stall).toBeLessThan(25)
}, 60_000)

it('keeps state, limit and offset across the slices', async () => {
  expect(plain(await adapter.listSessions('paused' as never))).toEqual(
    await expected(`WHERE data->>'state' = 'paused'`),
  )
  expect(plain(await adapter.listSessions(undefined, 4500, 1999))).toEqual(await expected('', '4500', 1999))
  expect(await adapter.listSessions('none' as never)).toEqual([])
})
