// The scale curve (--scale): native's latency of single calls as the table grows from 10k to 100k
// to 1M to 10M sessions, in a schema of the benchmark's own (dropped at the end, so no bloat is
// left). Rows are seeded on the server (INSERT ... SELECT generate_series), each one a session in
// the serializer's format with its own id, state and updatedAt (typical sessions up to 1M rows,
// small ones beyond, which keeps 10M rows near 10 GB of disk), then VACUUM ANALYZE: the statistics
// are fresh here (the stale-statistics workload is the other case). At each size, 1 % more rows
// that have expired are seeded and deleteExpiredSessions() removes them.
import { performance } from 'node:perf_hooks'
import { PostgresStorageAdapter } from '../../index.mjs'
import { typicalSession } from './data.mjs'
import { median, quantile } from './measure.mjs'

export const SCALE_SCHEMA = 'bench_scale'
const TABLE = `${SCALE_SCHEMA}.sessions`
const PAGE = 100
const SEED_CHUNK = 100_000
const BASE = '2026-01-15 09:30:00'
const STATES = ['paused', 'closed', 'active', 'active', 'active', 'active', 'active', 'active', 'active', 'active']

/** What "flat" means for the calls that must not grow with the table: at most this growth, smallest to largest size. */
export const FLAT_GROWTH = 1.5
/** Rows from here on are small sessions (a few turns), to keep the disk in bounds. */
const SMALL_FROM = 1_000_000
/** The expiresAt of every session but the expired ones (deleteExpiredSessions must count only those). */
const FAR_FUTURE = '2999-01-01T00:00:00.000Z'

const scaleId = (index) => `bench-scale-${index}`
const stateOf = (index) => STATES[index % STATES.length]
const updatedMs = (index) => Date.parse(`${BASE.replace(' ', 'T')}Z`) + index * 1000

/** Drops the benchmark's schema `schema`, after checking it holds nothing but benchmark rows. */
export async function dropBenchSchema(db, schema) {
  const { rows } = await db.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${schema}.sessions`])
  if (rows[0].present) {
    const foreign = await db.query(`SELECT count(*)::int AS n FROM ${schema}.sessions WHERE left(id, 6) <> 'bench-'`)
    if (foreign.rows[0].n > 0)
      throw new Error(
        `schema ${schema} holds ${foreign.rows[0].n} sessions that are not the benchmark's; not touching it`,
      )
  }
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}

/** The serialized session seeded per row (typical, or small), with placeholders the server fills. */
function template(small, expiresAt) {
  const session = typicalSession('__ID__', 0)
  if (small) session.conversationHistory = session.conversationHistory.slice(0, 2)
  session.state = '__STATE__'
  session.expiresAt = new Date(expiresAt)
  const iso = session.updatedAt.toISOString()
  return JSON.stringify(session).replace(`"updatedAt":"${iso}"`, '"updatedAt":"__UPDATED__"')
}

/** Seeds rows `from` .. `to - 1` on the server, in chunks (one statement each); `expired` rows get other ids and an expiresAt in the past. */
async function seedRange(db, from, to, progress, expired = false) {
  for (let start = from; start < to; start += SEED_CHUNK) {
    const end = Math.min(to, start + SEED_CHUNK)
    const json = template(expired || start >= SMALL_FROM, expired ? '2001-01-01T00:00:00.000Z' : FAR_FUTURE)
    const prefix = expired ? 'bench-expired-' : 'bench-scale-'
    progress.update(
      `scale: seeding ${expired ? 'expired ' : ''}rows ${start.toLocaleString('en-US')}–${end.toLocaleString('en-US')}`,
    )
    await db.query(
      `INSERT INTO ${TABLE} (id, data, version, created_at, updated_at)
       SELECT '${prefix}' || g,
              replace(replace(replace($1::text, '__ID__', '${prefix}' || g), '__STATE__', (ARRAY[${STATES.map((state) => `'${state}'`).join(', ')}])[g % ${STATES.length} + 1]),
                      '__UPDATED__', to_char(t.updated, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::jsonb,
              1, t.updated - interval '1 minute', t.updated
       FROM generate_series($2::int, $3::int) AS g, LATERAL (SELECT timestamp '${BASE}' + g * interval '1 second' AS updated) AS t`,
      [json, start, end - 1],
    )
  }
}

/** `count` timed calls one after the other, after `warmup` untimed ones (checked all the same). */
async function sample(count, call, warmup = 3) {
  const latencies = []
  let failures = 0
  for (let index = 0; index < warmup; index++) {
    if (!(await call(index).catch(() => false))) failures++
  }
  for (let index = 0; index < count; index++) {
    const started = performance.now()
    let ok
    try {
      ok = await call(index)
    } catch {
      ok = false
    }
    latencies.push(performance.now() - started)
    if (!ok) failures++
  }
  latencies.sort((a, b) => a - b)
  return { calls: count, p50Ms: median(latencies), p99Ms: quantile(latencies, 0.99), failures }
}

/** One page of summaries/sessions is right when it is `ids`, in order. */
const pageIs = (page, firstIndex) =>
  Array.isArray(page) &&
  page.length === PAGE &&
  page.every(
    (summary, offset) =>
      summary.id === scaleId(firstIndex - offset) && summary.updatedAt.getTime() === updatedMs(firstIndex - offset),
  )

/**
 * Walks `iterateSessions({ batchSize: 100 })` over the whole table: the time of every page (of
 * 100 items), reported for the first pages and for the deepest 10 %. Every id must come once.
 */
export async function walkIterator(adapter, size) {
  const seen = new Set()
  const pageMs = []
  let itemsInPage = 0
  let pageStart = performance.now()
  let ok = true
  for await (const item of adapter.iterateSessions({ batchSize: PAGE })) {
    // Whether it yields sessions, summaries or whole pages: count each session once.
    for (const entry of Array.isArray(item) ? item : [item]) {
      if (typeof entry?.id !== 'string' || seen.has(entry.id)) ok = false
      seen.add(entry?.id)
      if (++itemsInPage === PAGE) {
        const now = performance.now()
        pageMs.push(now - pageStart)
        pageStart = now
        itemsInPage = 0
      }
    }
  }
  const deep = pageMs.slice(Math.floor(pageMs.length * 0.9))
  const first = pageMs.slice(0, Math.min(10, pageMs.length))
  return {
    pages: pageMs.length,
    firstPagesMs: first.length ? median(first) : NaN,
    p50Ms: deep.length ? median(deep) : NaN,
    p99Ms: deep.length
      ? quantile(
          deep.sort((a, b) => a - b),
          0.99,
        )
      : NaN,
    failures: ok && seen.size === size ? 0 : 1,
  }
}

/**
 * Runs the scale curve for `sizes` (ascending) and resolves to `{ sizes, points: [...], growth,
 * failures, details }`; the schema is dropped before and after.
 */
export async function measureScale({ db, connection, options, progress }) {
  const sizes = [...options.scaleSizes].sort((a, b) => a - b)
  const calls = options.scaleCalls
  const details = []
  let failures = 0
  await dropBenchSchema(db, SCALE_SCHEMA)
  const adapter = new PostgresStorageAdapter({ ...connection, poolSize: options.poolSize, schema: SCALE_SCHEMA })
  const points = []
  try {
    await adapter.initialize()
    await db.query(`ALTER TABLE ${TABLE} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)`)
    const versions = new Map()
    let seeded = 0
    for (const size of sizes) {
      await seedRange(db, seeded, size, progress)
      seeded = size
      progress.update(`scale: VACUUM ANALYZE at ${size.toLocaleString('en-US')} rows`)
      // The seeding appended one counter delta per row (see getStats' counters in the Schema of
      // docs/operations.md); the adapter folds them within seconds in the background. Fold them now, so that
      // getStats is measured as a health probe sees it in steady state.
      progress.update(`scale: folding the state counters' deltas at ${size.toLocaleString('en-US')} rows`)
      await db.query(`SELECT ${SCALE_SCHEMA}.smalltalk_fold_session_states()`)
      await db.query(
        `VACUUM ANALYZE ${TABLE}, ${SCALE_SCHEMA}.session_state_deltas, ${SCALE_SCHEMA}.session_state_counts`,
      )
      const { rows } = await db.query(`SELECT pg_total_relation_size($1::regclass) AS bytes`, [TABLE])
      let draw = size * 7 + 1
      const randomIndex = () => {
        draw = (draw * 1103515245 + 12345) % 2147483648
        return draw % size
      }
      const step = (what) => progress.update(`scale: ${size.toLocaleString('en-US')} rows · ${what}`)
      const point = { size, tableBytes: Number(rows[0].bytes) }

      step('getSession')
      point.get = await sample(calls, async () => {
        const index = randomIndex()
        const session = await adapter.getSession(scaleId(index))
        return session?.id === scaleId(index) && session.state === stateOf(index)
      })
      step('hasSession')
      point.has = await sample(calls, async () => (await adapter.hasSession(scaleId(randomIndex()))) === true)
      step('saveSession')
      point.save = await sample(calls, async () => {
        const index = randomIndex()
        const session = typicalSession(scaleId(index), index)
        session.state = stateOf(index)
        session.version = (versions.get(index) ?? 1) + 1
        session.updatedAt = new Date(updatedMs(index))
        session.expiresAt = new Date(FAR_FUTURE)
        versions.set(index, session.version)
        return (await adapter.saveSession(session)) === undefined
      })
      step('listSessions first page')
      point.listFirst = await sample(Math.max(3, Math.round(calls / 4)), async () =>
        pageIs(await adapter.listSessions(undefined, PAGE, 0), size - 1),
      )
      step('getStats')
      point.getStats = await sample(
        options.scaleSlowCalls,
        async () => (await adapter.getStats()).totalSessions === size,
        1,
      )
      const offset = Math.floor(size * 0.9)
      point.deepOffset = offset
      step(`listSessions at offset ${offset.toLocaleString('en-US')}`)
      point.listDeep = await sample(
        options.scaleSlowCalls,
        async () => pageIs(await adapter.listSessions(undefined, PAGE, offset), size - 1 - offset),
        1,
      )
      if (typeof adapter.iterateSessions === 'function') {
        step('iterateSessions({ batchSize: 100 }), every page')
        point.iterate = await walkIterator(adapter, size)
      } else {
        point.iterate = null
      }
      const expired = Math.max(1, Math.floor(size / 100))
      await seedRange(db, 0, expired, progress, true)
      step(`deleteExpiredSessions() of ${expired.toLocaleString('en-US')} expired sessions`)
      point.deleteExpired = await sample(1, async () => (await adapter.deleteExpiredSessions()) === expired, 0)
      for (const [what, figures] of Object.entries(point)) {
        if (figures?.failures > 0) {
          failures += figures.failures
          const detail = `scale · ${size} rows · ${what}: ${figures.failures} failed`
          details.push(detail)
          progress.note(`verification failed: ${detail}`)
        }
      }
      points.push(point)
    }
  } finally {
    await adapter.close().catch(() => {})
    progress.update('scale: dropping its schema')
    await dropBenchSchema(db, SCALE_SCHEMA)
  }
  const growth = {}
  if (points.length >= 2) {
    const [first, last] = [points[0], points.at(-1)]
    for (const what of ['get', 'has', 'save', 'listFirst', 'getStats', 'listDeep', 'iterate', 'deleteExpired']) {
      if (first[what] && last[what]) growth[what] = last[what].p50Ms / first[what].p50Ms
    }
  }
  return { sizes, calls, points, growth, flatGrowth: FLAT_GROWTH, failures, details }
}
