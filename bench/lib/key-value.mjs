// The key-value section (`--only key-value`), native only, in three schemas of the benchmark's
// own (dropped at the end), so that neither row runs on the other's dead rows:
//
// Batches: the same 100 keys through the batch calls (setValues, getValues, deleteValues: one
// statement each) and one by one (setValue, getValue, deleteValue, each awaited before the next),
// on normal tables. One cycle is set, get, delete of the 100 keys; each phase is timed on its own,
// the two ways take turns round after round, and every result is checked (the values read back,
// the count deleted).
//
// Unlogged: the same saves on tables created with `unlogged: { sessions: true, keyValue: true }`
// and on normal ones: saveSession of a typical session @16 (each caller its own 4 sessions,
// version + 1 each save) and setValue of a 0.3 KB value @16 (each caller its own 4 keys), both
// adapters in the same interleaved rounds; the stored versions and values are checked after
// every round.
import { performance } from 'node:perf_hooks'
import { PostgresStorageAdapter } from '../../index.mjs'
import { ids, typicalSession } from './data.mjs'
import { median, runRound, summarize } from './measure.mjs'
import { dropBenchSchema } from './scale.mjs'
import { rate, table } from './report.mjs'

export const KV_SCHEMAS = { batches: 'bench_kv_batches', logged: 'bench_kv_logged', unlogged: 'bench_kv_unlogged' }
/** The batch calls' target: at least this many times faster than the same keys one by one. */
export const BATCH_TARGET = 5
const KEYS = 100
const CALLERS = 16
const PER_CALLER = 4
const PHASES = ['set', 'get', 'delete']

const batchKey = (index) => `bench-kv-${String(index).padStart(3, '0')}`
/** A cache entry of about 0.3 KB (a user profile), stamped with `seq`. */
const entry = (index, seq = 0) => ({
  id: index,
  name: `user ${index}`,
  email: `user${index}@example.com`,
  roles: ['reader', 'editor'],
  preferences: { theme: 'dark', language: 'en', timezone: 'Europe/Paris', digest: 'weekly' },
  lastSeen: '2026-01-15T09:30:00.000Z',
  seq,
})

const sameEntry = (value, index) => value !== null && value.id === index && value.name === `user ${index}`

/** The two ways through the 100 keys: each phase resolves to whether its result was right. */
export const WAYS = {
  batch: {
    set: (adapter, keys, values) => adapter.setValues(keys.map((key, index) => [key, values[index]])).then(() => true),
    get: async (adapter, keys) => (await adapter.getValues(keys)).every(sameEntry),
    delete: async (adapter, keys) => (await adapter.deleteValues(keys)) === keys.length,
  },
  'one by one': {
    async set(adapter, keys, values) {
      for (let index = 0; index < keys.length; index++) await adapter.setValue(keys[index], values[index])
      return true
    },
    async get(adapter, keys) {
      let right = true
      for (let index = 0; index < keys.length; index++)
        right = sameEntry(await adapter.getValue(keys[index]), index) && right
      return right
    },
    async delete(adapter, keys) {
      let right = true
      for (const key of keys) right = (await adapter.deleteValue(key)) && right
      return right
    },
  },
}

/** Cycles of set, get, delete of the 100 keys for `seconds`; the time of each phase, summed. */
export async function runCycles(adapter, way, seconds) {
  globalThis.gc?.()
  const keys = Array.from({ length: KEYS }, (_, index) => batchKey(index))
  const values = keys.map((_, index) => entry(index))
  const ms = { set: 0, get: 0, delete: 0 }
  const errors = []
  let cycles = 0
  let failures = 0
  const deadline = performance.now() + seconds * 1000
  do {
    for (const phase of PHASES) {
      const started = performance.now()
      let right
      try {
        right = await way[phase](adapter, keys, values)
      } catch (error) {
        right = false
        if (errors.length < 3) errors.push(`${phase}: ${error?.message ?? error}`)
      }
      ms[phase] += performance.now() - started
      if (!right) failures++
    }
    cycles++
  } while (performance.now() < deadline)
  return { cycles, ms, failures, errors }
}

/** The batch row: `{ ways: { name: { msPer100: { set, get, delete, cycle }, cycles, failures } }, ratios }`. */
async function measureBatches({ adapter, options, progress, record }) {
  const rounds = Object.fromEntries(Object.keys(WAYS).map((name) => [name, []]))
  let failures = 0
  let checkedOps = 0
  const note = (name, round, result) => {
    checkedOps += result.cycles * PHASES.length
    failures += result.failures
    if (result.failures > 0)
      record(
        `key-value batches · ${name} · ${round}: ${result.failures} failed${result.errors.length ? ` (${result.errors.join('; ')})` : ''}`,
      )
  }
  const names = Object.keys(WAYS)
  for (const name of names) {
    progress.update(`key-value batches: warm-up · ${name}`)
    note(name, 'warm-up', await runCycles(adapter, WAYS[name], options.warmupSeconds || 0.01))
  }
  for (let round = 0; round < options.rounds; round++) {
    for (let turn = 0; turn < names.length; turn++) {
      const name = names[(round + turn) % names.length]
      progress.update(`key-value batches: round ${round + 1}/${options.rounds} · ${name}`)
      const result = await runCycles(adapter, WAYS[name], options.roundSeconds)
      rounds[name].push(result)
      note(name, `round ${round + 1}`, result)
    }
  }
  const ways = {}
  for (const name of names) {
    const perCycle = (phase) => median(rounds[name].map((result) => result.ms[phase] / result.cycles))
    const msPer100 = Object.fromEntries(PHASES.map((phase) => [phase, perCycle(phase)]))
    msPer100.cycle = median(
      rounds[name].map((result) => PHASES.reduce((sum, phase) => sum + result.ms[phase], 0) / result.cycles),
    )
    ways[name] = {
      msPer100,
      cycles: rounds[name].reduce((sum, result) => sum + result.cycles, 0),
      failures: rounds[name].reduce((sum, result) => sum + result.failures, 0),
    }
  }
  const ratios = Object.fromEntries(
    [...PHASES, 'cycle'].map((phase) => [phase, ways['one by one'].msPer100[phase] / ways.batch.msPer100[phase]]),
  )
  return { keys: KEYS, ways, ratios, failures, checkedOps }
}

/** saveSession typical @16 on `schema`'s sessions table: seeded rows, versions checked after each round. */
async function saveWorkload(db, schema) {
  const table = `${schema}.sessions`
  const sessions = Array.from({ length: CALLERS }, (_, worker) =>
    ids(`kv-save-${worker}`, PER_CALLER).map((id, index) => typicalSession(id, worker * 10 + index)),
  )
  await db.seed(sessions.flat(), { table })
  const versions = new Map(sessions.flat().map((session) => [session.id, session.version]))
  return {
    key: 'save-typical-16',
    title: `saveSession typical @${CALLERS}`,
    concurrency: CALLERS,
    input(_state, worker, k) {
      const session = sessions[worker][k % PER_CALLER]
      const version = versions.get(session.id) + 1
      versions.set(session.id, version)
      session.version = version
      session.updatedAt = new Date(session.createdAt.getTime() + version * 1000)
      return session
    },
    call: (adapter, session) => adapter.saveSession(session),
    check: (result) => result === undefined,
    async verifyRound() {
      const { rows } = await db.query(`SELECT id, version FROM ${table} WHERE id = ANY($1::text[])`, [
        [...versions.keys()],
      ])
      const stored = new Map(rows.map((row) => [row.id, row.version]))
      let wrong = 0
      for (const [id, version] of versions) if (stored.get(id) !== version) wrong++
      return wrong
    },
  }
}

/** setValue @16 of a 0.3 KB value on `schema`'s key_value table: each caller its own keys, the last value checked after each round. */
function setValueWorkload(db, schema) {
  const table = `${schema}.key_value`
  const last = new Map()
  return {
    key: 'set-value-16',
    title: `setValue 0.3 KB @${CALLERS}`,
    concurrency: CALLERS,
    input(_state, worker, k) {
      const key = `bench-kv-set-${worker}-${k % PER_CALLER}`
      const seq = (last.get(key) ?? 0) + 1
      last.set(key, seq)
      return { key, value: entry(worker, seq) }
    },
    call: (adapter, { key, value }) => adapter.setValue(key, value, { ttl: 3600 }),
    check: (result) => result === undefined,
    async verifyRound() {
      const { rows } = await db.query(
        `SELECT key, (value->>'seq')::int AS seq FROM ${table} WHERE key = ANY($1::text[])`,
        [[...last.keys()]],
      )
      const stored = new Map(rows.map((row) => [row.key, row.seq]))
      let wrong = 0
      for (const [key, seq] of last) if (stored.get(key) !== seq) wrong++
      return wrong
    },
  }
}

/** The unlogged row: per workload, `{ title, tables: { logged: figures, unlogged: figures }, ratio }`. */
async function measureUnlogged({ db, adapters, options, progress, record }) {
  const result = { workloads: [], failures: 0, checkedOps: 0 }
  for (const make of [saveWorkload, setValueWorkload]) {
    const workloads = {}
    for (const name of Object.keys(adapters)) workloads[name] = await make(db, KV_SCHEMAS[name])
    const { key, title } = workloads.logged
    const rounds = { logged: [], unlogged: [] }
    const note = (name, round, figures) => {
      result.checkedOps += figures.ops
      result.failures += figures.failures
      if (figures.failures > 0)
        record(
          `key-value ${key} · ${name} · ${round}: ${figures.failures} failed of ${figures.ops}${figures.errors.length ? ` (${figures.errors.join('; ')})` : ''}`,
        )
    }
    const run = (name, seconds) =>
      runRound({ adapter: adapters[name], workload: workloads[name], state: null, db, seconds })
    for (const name of Object.keys(adapters)) {
      progress.update(`key-value unlogged, ${title}: warm-up · ${name}`)
      note(name, 'warm-up', await run(name, options.warmupSeconds || 0.01))
    }
    const names = Object.keys(adapters)
    for (let round = 0; round < options.rounds; round++) {
      for (let turn = 0; turn < names.length; turn++) {
        const name = names[(round + turn) % names.length]
        progress.update(`key-value unlogged, ${title}: round ${round + 1}/${options.rounds} · ${name}`)
        const figures = await run(name, options.roundSeconds)
        rounds[name].push(figures)
        note(name, `round ${round + 1}`, figures)
      }
    }
    const tables = { logged: summarize(rounds.logged), unlogged: summarize(rounds.unlogged) }
    result.workloads.push({ key, title, tables, ratio: tables.unlogged.opsPerSec / tables.logged.opsPerSec })
  }
  return result
}

/**
 * Measures both rows; resolves to `{ batches, unlogged, settings, failures, checkedOps }`. Its
 * schemas are dropped before (when they hold only benchmark rows) and after.
 */
export async function measureKeyValue({ db, connection, options, progress, record }) {
  for (const schema of Object.values(KV_SCHEMAS)) await dropBenchSchema(db, schema)
  const adapter = (schema, extra = {}) =>
    new PostgresStorageAdapter({
      ...connection,
      poolSize: options.poolSize,
      schema,
      applicationName: `smalltalk-${schema.replaceAll('_', '-')}`,
      ...extra,
    })
  const batchAdapter = adapter(KV_SCHEMAS.batches)
  const adapters = {
    logged: adapter(KV_SCHEMAS.logged),
    unlogged: adapter(KV_SCHEMAS.unlogged, { unlogged: { sessions: true, keyValue: true } }),
  }
  try {
    for (const made of [batchAdapter, ...Object.values(adapters)]) await made.initialize()
    const { rows } = await db.query(
      `SELECT n.nspname AS schema, c.relname AS table, c.relpersistence AS persistence FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY($1::text[]) AND c.relname IN ('sessions', 'key_value') ORDER BY 1, 2`,
      [Object.values(KV_SCHEMAS)],
    )
    const persistence = rows.map(
      (row) => `${row.schema}.${row.table}: ${row.persistence === 'u' ? 'unlogged' : 'logged'}`,
    )
    const batches = await measureBatches({ adapter: batchAdapter, options, progress, record })
    const unlogged = await measureUnlogged({ db, adapters, options, progress, record })
    return {
      persistence,
      batches,
      unlogged,
      failures: batches.failures + unlogged.failures,
      checkedOps: batches.checkedOps + unlogged.checkedOps,
    }
  } finally {
    for (const made of [batchAdapter, ...Object.values(adapters)]) await made.close().catch(() => {})
    for (const schema of Object.values(KV_SCHEMAS)) await dropBenchSchema(db, schema)
  }
}

/** The targets of the section, as evaluateTargets lists them. */
export function keyValueTargets(keyValue) {
  return PHASES.map((phase) => {
    const ratio = keyValue.batches.ratios[phase]
    return {
      what: `key-value: ${phase}Values(${KEYS}) vs ${phase}Value one by one (${KEYS} awaited calls)`,
      required: `>= ${BATCH_TARGET.toFixed(1)}×`,
      measured: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–',
      met: ratio >= BATCH_TARGET,
    }
  })
}

const ms = (value) => (Number.isFinite(value) ? (value >= 10 ? value.toFixed(1) : value.toFixed(2)) : '–')
const times = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–')

/** The section as Markdown. */
export function keyValueSection(keyValue) {
  const { batches, unlogged } = keyValue
  const batch = batches.ways.batch.msPer100
  const single = batches.ways['one by one'].msPer100
  const calls = { set: 'setValues / setValue', get: 'getValues / getValue', delete: 'deleteValues / deleteValue' }
  const batchRows = [...PHASES, 'cycle'].map((phase) => [
    phase === 'cycle' ? 'the whole cycle' : calls[phase],
    ms(batch[phase]),
    ms(single[phase]),
    rate((batches.keys * 1000) / batch[phase]),
    rate((batches.keys * 1000) / single[phase]),
    times(batches.ratios[phase]),
  ])
  const unloggedRows = unlogged.workloads.map((workload) => [
    workload.title,
    rate(workload.tables.logged.opsPerSec),
    rate(workload.tables.unlogged.opsPerSec),
    times(workload.ratio),
    ms(workload.tables.logged.p50Ms),
    ms(workload.tables.unlogged.p50Ms),
  ])
  return [
    `Batches: the same ${batches.keys} keys (0.3 KB values) through the batch calls and one by one (each call awaited before the next), ` +
      `on normal tables (${KV_SCHEMAS.batches}), one caller; ms per ${batches.keys} keys, the median of the rounds (${batches.ways.batch.cycles} and ${batches.ways['one by one'].cycles} cycles of set, get, delete); target batch >= ${BATCH_TARGET}×.`,
    '',
    table(
      [
        'calls',
        `batch ms / ${batches.keys}`,
        `one by one ms / ${batches.keys}`,
        'batch keys/s',
        'one by one keys/s',
        'batch / one by one',
      ],
      batchRows,
    ),
    '',
    `Unlogged tables (\`unlogged: { sessions: true, keyValue: true }\`) against logged ones, the same saves in the same interleaved rounds (${keyValue.persistence.filter((line) => !line.startsWith(KV_SCHEMAS.batches)).join(', ')}):`,
    '',
    table(
      ['workload', 'logged ops/s', 'unlogged ops/s', 'unlogged / logged', 'logged p50 ms', 'unlogged p50 ms'],
      unloggedRows,
    ),
  ].join('\n')
}
