// On Citus (scripts/citus.mjs: a coordinator and two workers, tables distributed by id / key after
// every initialize(), see setup.ts): the optimistic lock under racing adapters, all-or-nothing
// batches across shards and workers, counts across shards, and what differs from one PostgreSQL
// (getStats().sizeBytes is the coordinator's empty shell; the counts come from the table).
import { ConflictError, PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, makeSession, sql } from '../../helpers.js'

const adapter = adapterPerTest()

/** The worker (host:port) holding `id`'s shard of `table`. */
async function workerOf(table: string, id: string): Promise<string> {
  const [row] = await sql(
    `SELECT p.nodename || ':' || p.nodeport AS worker FROM pg_dist_shard_placement p
      WHERE p.shardid = get_shard_id_for_distribution_column($1::regclass, $2::text)`,
    [table, id],
  )
  return row.worker
}

it('runs on a coordinator with two workers, sessions distributed by id and key_value by key', async () => {
  const nodes = await sql(
    `SELECT nodename || ':' || nodeport AS node FROM pg_dist_node WHERE noderole = 'primary' AND shouldhaveshards`,
  )
  expect(nodes.map((row) => row.node).sort()).toEqual(process.env.SMALLTALK_CITUS_WORKERS!.split(',').sort())
  const tables = await sql(
    `SELECT logicalrelid::text AS name, partmethod, column_to_column_name(logicalrelid, partkey) AS column,
            (SELECT count(*)::int FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid) AS shards
       FROM pg_dist_partition p ORDER BY 1`,
  )
  expect(tables).toEqual([
    { name: 'key_value', partmethod: 'h', column: 'key', shards: 32 },
    { name: 'sessions', partmethod: 'h', column: 'id', shards: 32 },
  ])
})

it('racing saves of the same ids from four adapters: exactly one winner per version, the rest ConflictError', async () => {
  const racers = Array.from({ length: 4 }, () => new PostgresStorageAdapter(contractConfig()))
  await Promise.all(racers.map((racer) => racer.initialize()))
  try {
    const sessions = Array.from({ length: 16 }, (_, index) => makeSession({ id: `race-${index}` }))
    const versions = 5
    for (let version = 1; version <= versions; version++) {
      const outcomes = await Promise.all(
        sessions.flatMap((session) =>
          racers.map((racer, index) =>
            racer.saveSession({ ...session, version, metadata: { winner: index } }).then(
              () => ({ id: session.id, won: index }),
              (error: unknown) => {
                if (!(error instanceof ConflictError)) throw error
                expect(error.code).toBe('E_CONFLICT')
                return { id: session.id, won: -1 }
              },
            ),
          ),
        ),
      )
      for (const session of sessions) {
        const winners = outcomes.filter((outcome) => outcome.id === session.id && outcome.won >= 0)
        expect({ id: session.id, version, winners: winners.length }).toEqual({ id: session.id, version, winners: 1 })
        const stored = await adapter().getSession(session.id)
        expect(stored!.version).toBe(version)
        expect(stored!.metadata).toEqual({ winner: winners[0].won })
      }
    }
    // The ids spread over both workers: the races ran on more than one node.
    expect(new Set(await Promise.all(sessions.map((session) => workerOf('sessions', session.id)))).size).toBe(2)
  } finally {
    await Promise.all(racers.map((racer) => racer.close()))
  }
})

it('racing batches over the same ids, in opposite orders, from two adapters: all settle, one winner per version', async () => {
  const racers = [new PostgresStorageAdapter(contractConfig()), new PostgresStorageAdapter(contractConfig())]
  await Promise.all(racers.map((racer) => racer.initialize()))
  try {
    const sessions = Array.from({ length: 20 }, (_, index) => makeSession({ id: `batch-race-${index}` }))
    for (let version = 1; version <= 5; version++) {
      const batches = [sessions, [...sessions].reverse()].map((batch) =>
        batch.map((session) => ({ ...session, version })),
      )
      const outcomes = await Promise.allSettled(racers.map((racer, index) => racer.saveSessions(batches[index])))
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConflictError)
      }
      const stored = await adapter().getSessions(sessions.map((session) => session.id))
      expect([...stored.values()].every((session) => session.version === version)).toBe(true)
    }
  } finally {
    await Promise.all(racers.map((racer) => racer.close()))
  }
})

it('a batch across both workers is all or nothing: one stale session refuses it, no shard keeps a row', async () => {
  const sessions = Array.from({ length: 12 }, (_, index) => makeSession({ id: `atomic-${index}` }))
  const workers = new Set(await Promise.all(sessions.map((session) => workerOf('sessions', session.id))))
  expect(workers.size).toBe(2)
  await adapter().saveSession({ ...sessions[11], version: 3 })
  // sessions[11] at version 1 is stale: the whole batch is refused, on every shard it touched.
  await expect(adapter().saveSessions(sessions)).rejects.toBeInstanceOf(ConflictError)
  expect(await sql(`SELECT id, version FROM sessions ORDER BY id`)).toEqual([{ id: 'atomic-11', version: 3 }])
  expect(await adapter().saveSessions(sessions.slice(0, 11))).toBe(11)
  expect((await sql(`SELECT count(*)::int AS n FROM sessions`))[0].n).toBe(12)
})

it('getStats counts every shard; sizeBytes is the size of the coordinator shell, not of the shards', async () => {
  const sessions: Session[] = Array.from({ length: 300 }, (_, index) => makeSession({ id: `stats-${index}` }))
  await adapter().saveSessions(sessions)
  await adapter().setValue('stats-key', { big: 'x'.repeat(1000) })
  const stats = await adapter().getStats()
  expect(stats.totalSessions).toBe(300)
  // No trigger-kept counters on a distributed table: the shards are counted.
  expect(stats.metrics.countedBy).toBe('table')
  const [sizes] = await sql(
    `SELECT pg_total_relation_size('sessions') + pg_total_relation_size('key_value') AS shell,
            citus_total_relation_size('sessions') + citus_total_relation_size('key_value') AS total`,
  )
  // The adapter reports pg_total_relation_size of the coordinator's tables, which hold no rows
  // on Citus: a few empty pages, far below what the 300 sessions take on the workers.
  expect(stats.sizeBytes).toBe(Number(sizes.shell))
  expect(stats.sizeBytes).toBeLessThan(Number(sizes.total) / 4)
})

it('key-value batches span the shards: one snapshot, all or nothing, keys in code-point order across workers', async () => {
  const keys = Array.from({ length: 40 }, (_, index) => `kv:${String(index).padStart(2, '0')}`)
  const workers = new Set(await Promise.all(keys.map((key) => workerOf('key_value', key))))
  expect(workers.size).toBe(2)
  await adapter().setValues(keys.map((key, index) => [key, { index }] as const))
  await adapter().setValue('other:1', 1)
  expect(await adapter().getValues([keys[39], 'missing', keys[0]])).toEqual([{ index: 39 }, null, { index: 0 }])
  const walked: string[] = []
  for await (const [key] of adapter().iterateValues({ prefix: 'kv:', batchSize: 7 })) walked.push(key)
  expect(walked).toEqual(keys)
  // A refused entry refuses the batch on every shard it touched.
  await sql(`ALTER TABLE key_value ADD CONSTRAINT no_poison CHECK (key <> 'kv:poison')`)
  await expect(
    adapter().setValues([...keys.map((key) => [key, 'changed'] as const), ['kv:poison', 1]]),
  ).rejects.toThrow()
  expect(await adapter().getValues([keys[0], keys[39]])).toEqual([{ index: 0 }, { index: 39 }])
  expect(await adapter().deleteValues(keys.slice(0, 10))).toBe(10)
  expect(await adapter().clearValues({ prefix: 'kv:' })).toBe(30)
  expect((await sql(`SELECT key FROM key_value`)).map((row) => row.key)).toEqual(['other:1'])
})
