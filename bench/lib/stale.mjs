// The stale-statistics workload: listSessions(100) on a table whose planner statistics went stale,
// native against the references. In a schema of the benchmark's own, 2,000 typical sessions are
// inserted into the adapter's fresh table (never analyzed), then churned by the server (every row
// updated `churnRounds` times, as saves would: new version and updatedAt, so dead rows and a
// bloated heap and index pile up), with autovacuum off for that table and no ANALYZE. Then every
// adapter (and pgbench, with the adapter's SQL) lists the newest 100, interleaved as in the main
// table. The plans of both SQL texts are recorded. The schema is dropped at the end.
import { ids, typicalSession } from './data.mjs'
import { measureWorkload } from './rounds.mjs'
import { dropBenchSchema } from './scale.mjs'
import { LIST_SESSIONS } from './sql.mjs'
import { LIST_LIMIT_SPEC, isPage, newestPage } from './workloads.mjs'

export const STALE_SCHEMA = 'bench_stale'
const TABLE = `${STALE_SCHEMA}.sessions`
const ROWS = 2000
const LIMIT = 100
/** The bound: native's lists/s at least this share of the pg reference's on the stale table. */
export const STALE_TARGET = 0.9

/** The reference's list (the original adapter's: no tie-break), for its plan. */
const REFERENCE_LIST =
  "SELECT id, data->>'state' AS state, updated_at, jsonb_array_length(data->'agentIds') AS agent_count FROM sessions ORDER BY updated_at DESC LIMIT $1 OFFSET $2"

/** The plan's node chain (e.g. "Limit > Gather Merge > Incremental Sort > Index Scan"), JIT and time. */
function describePlan(explained) {
  const root = explained[0]
  const chain = []
  for (let node = root.Plan; node; node = node.Plans?.[0]) chain.push(node['Node Type'])
  return {
    nodes: chain.join(' > '),
    parallel: chain.includes('Gather') || chain.includes('Gather Merge'),
    jit: root.JIT ? { functions: root.JIT.Functions, totalMs: root.JIT.Timing?.Total ?? null } : null,
    totalCost: root.Plan['Total Cost'],
    executionMs: root['Execution Time'],
  }
}

async function plans(db) {
  const explain = (sql) => `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`
  await db.query(`SET search_path = ${STALE_SCHEMA}`)
  try {
    const adapterCustom = describePlan((await db.query(explain(LIST_SESSIONS), [LIMIT, 0])).rows[0]['QUERY PLAN'])
    // What a long-lived prepared statement may switch to after five runs: the generic plan.
    await db.query('SET plan_cache_mode = force_generic_plan')
    await db.query(`PREPARE bench_stale_list(int8, int8) AS ${LIST_SESSIONS}`)
    let adapterGeneric
    try {
      adapterGeneric = describePlan(
        (await db.query(explain(`EXECUTE bench_stale_list(${LIMIT}, 0)`))).rows[0]['QUERY PLAN'],
      )
    } finally {
      await db.query('DEALLOCATE bench_stale_list')
      await db.query('RESET plan_cache_mode')
    }
    const reference = describePlan((await db.query(explain(REFERENCE_LIST), [LIMIT, 0])).rows[0]['QUERY PLAN'])
    return { adapterCustom, adapterGeneric, reference }
  } finally {
    await db.query('RESET search_path')
  }
}

/**
 * Builds the stale table, measures `listSessions(100)` on it and resolves to the workload's
 * figures plus `{ table: { liveRows, deadRows, bytes, analyzed }, plans }`. `variants`:
 * `[{ name, make(extra) }]`, each making a fresh adapter with `extra` (`schema`, `searchPath`).
 */
export async function measureStale({ db, connection, options, pgbench, target, progress, record, variants }) {
  await dropBenchSchema(db, STALE_SCHEMA)
  const adapters = variants.map(({ name, make }) => ({
    name,
    adapter: make({ schema: STALE_SCHEMA, searchPath: STALE_SCHEMA }),
  }))
  try {
    progress.update('stale statistics: creating the table')
    for (const { adapter } of adapters) await adapter.initialize()
    await db.query(`ALTER TABLE ${TABLE} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)`)
    const sessions = ids('stale', ROWS).map((id, index) => typicalSession(id, index))
    await db.seed(sessions, { table: TABLE, analyze: false })
    for (let round = 0; round < options.staleChurnRounds; round++) {
      if (round % 10 === 0)
        progress.update(
          `stale statistics: churn ${round}/${options.staleChurnRounds} (${ROWS.toLocaleString('en-US')} updates each)`,
        )
      await db.query(`UPDATE ${TABLE} SET version = version + 1, updated_at = updated_at + interval '1 second'`)
    }
    for (const session of sessions)
      session.updatedAt = new Date(session.updatedAt.getTime() + options.staleChurnRounds * 1000)
    // The counters below are flushed lazily (PostgreSQL 15+: on request, when the backend goes idle).
    await db.query('SELECT pg_stat_force_next_flush()').catch(() => {})
    const { rows } = await db.query(
      `SELECT n_live_tup::int AS live, n_dead_tup::int AS dead, pg_total_relation_size(relid) AS bytes,
              last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed
       FROM pg_stat_user_tables WHERE relid = $1::regclass`,
      [TABLE],
    )
    const table = {
      liveRows: rows[0].live,
      deadRows: rows[0].dead,
      rowVersionsWritten: ROWS * (options.staleChurnRounds + 1),
      bytes: Number(rows[0].bytes),
      analyzed: rows[0].analyzed,
      churnRounds: options.staleChurnRounds,
    }
    progress.update('stale statistics: plans')
    const explained = await plans(db)

    const expected = newestPage(sessions, LIMIT)
    const workload = {
      key: 'list-stale',
      title: `listSessions(${LIMIT}) on a churned table, stale statistics`,
      concurrency: 1,
      searchPath: STALE_SCHEMA,
      input: () => expected,
      call: (adapter) => adapter.listSessions(undefined, LIMIT, 0),
      check: isPage,
      limits: [LIST_LIMIT_SPEC],
      floor: null,
    }
    const measured = await measureWorkload({
      workload,
      state: {},
      db,
      adapters,
      options,
      pgbench,
      target,
      progress,
      step: 'stale statistics',
      record,
    })
    return {
      key: workload.key,
      title: workload.title,
      concurrency: 1,
      table,
      plans: explained,
      targetRatio: STALE_TARGET,
      ...measured,
    }
  } finally {
    for (const { adapter } of adapters) await adapter.close().catch(() => {})
    progress.update('stale statistics: dropping its schema')
    await dropBenchSchema(db, STALE_SCHEMA)
  }
}
