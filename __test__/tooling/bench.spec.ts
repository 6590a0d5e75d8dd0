// The benchmark harness (bench/): a quick run end to end in a child process, and the harness'
// own bookkeeping: a wrong result or a wrong stored version must count as a failure.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runFloor, runRound } from '../../bench/lib/measure.mjs'
import { WORKLOADS } from '../../bench/lib/workloads.mjs'
import { walkIterator } from '../../bench/lib/scale.mjs'
import { WAYS, runCycles } from '../../bench/lib/key-value.mjs'
import { bind } from '../../bench/lib/sql.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const ADAPTERS = ['native', 'native coalesce-off', 'pg', 'postgres.js']
function workload(key: string) {
  const found = WORKLOADS.find((candidate: { key: string }) => candidate.key === key)
  if (found === undefined)
    throw new Error(`the results name a workload bench/lib/workloads.mjs does not define: ${key}`)
  return found
}
const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value)

it('`npm run bench -- --quick --scale` runs every workload, limit, floor and section, and verifies every operation', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-spec-'))
  const output = path.join(dir, 'latest.json')
  try {
    // The test database from the environment (POSTGRES_*), as every suite here.
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', 'bench/run.mjs', '--quick', '--scale', '--memory-ops', '100', '--output', output],
      { cwd: root, encoding: 'utf8', timeout: 170_000, env: { ...process.env } },
    )
    if (run.status !== 0) throw new Error(`bench exited with ${run.status}\n${run.stderr}\n${run.stdout}`)

    const results = JSON.parse(fs.readFileSync(output, 'utf8'))
    expect(results.workloads.map((entry: { key: string }) => entry.key)).toEqual(
      WORKLOADS.map((entry: { key: string }) => entry.key),
    )
    for (const entry of results.workloads) {
      expect(Object.keys(entry.adapters).sort()).toEqual([...ADAPTERS].sort())
      for (const name of ADAPTERS) {
        const figures = entry.adapters[name]
        expect(figures.ops).toBeGreaterThan(0)
        expect(figures.rounds).toHaveLength(3)
        for (const value of [figures.opsPerSec, figures.p50Ms, figures.p99Ms, figures.busyUsPerOp])
          expect(finite(value)).toBe(true)
        expect(figures.failures + figures.warmupFailures).toBe(0)
      }
      const spec = workload(entry.key)
      expect(entry.limits.map((limit: { name: string }) => limit.name)).toEqual(
        spec.limits.map((limit: { name: string }) => limit.name),
      )
      // Where pgbench is installed (it comes with PostgreSQL's server and client packages), every limit ran.
      if (results.options.pgbench !== null)
        for (const limit of entry.limits) expect(finite(limit.tps) && limit.tps > 0).toBe(true)
      if (spec.floor) expect(finite(entry.floor.usPerOp) && entry.floor.usPerOp > 0).toBe(true)
      else expect(entry.floor).toBeNull()
    }
    expect(
      results.workloads
        .filter((entry: { limits: unknown[] }) => entry.limits.length > 0)
        .map((entry: { key: string }) => entry.key),
    ).toEqual(['get-typical-16', 'save-typical-16', 'get-sessions-100', 'list-100'])
    // The limits run the adapter's own SQL: bench/lib/sql.mjs must follow src/schema.rs (LIST_ORDER).
    expect(
      results.sqlMirror.map((mirror: { matches: boolean; seen: string[] }) => [mirror.matches, mirror.seen]),
    ).toEqual([[true, expect.anything()]])

    expect(Object.keys(results.stall.adapters).sort()).toEqual(['native', 'pg', 'postgres.js'])
    for (const figures of Object.values(results.stall.adapters) as Array<
      Record<string, { maxStallMs: number; ms: number }>
    >) {
      for (const call of [figures.save, figures.get]) expect(finite(call.maxStallMs) && call.ms > 0).toBe(true)
    }
    expect(results.staleStats.table.analyzed).toBe(false)
    expect(results.staleStats.table.deadRows).toBeGreaterThan(0)
    expect(Object.keys(results.staleStats.adapters).sort()).toEqual([...ADAPTERS].sort())
    expect(results.staleStats.plans.adapterCustom.nodes).toMatch(/^Limit/)
    const keyValue = results.keyValue
    expect(keyValue.persistence).toEqual([
      'bench_kv_batches.key_value: logged',
      'bench_kv_batches.sessions: logged',
      'bench_kv_logged.key_value: logged',
      'bench_kv_logged.sessions: logged',
      'bench_kv_unlogged.key_value: unlogged',
      'bench_kv_unlogged.sessions: unlogged',
    ])
    for (const phase of ['set', 'get', 'delete', 'cycle']) expect(finite(keyValue.batches.ratios[phase])).toBe(true)
    expect(keyValue.batches.ways.batch.cycles).toBeGreaterThan(0)
    expect(keyValue.batches.ways['one by one'].cycles).toBeGreaterThan(0)
    expect(keyValue.unlogged.workloads.map((entry: { key: string }) => entry.key)).toEqual([
      'save-typical-16',
      'set-value-16',
    ])
    for (const entry of keyValue.unlogged.workloads) {
      for (const figures of [entry.tables.logged, entry.tables.unlogged]) {
        expect(figures.ops).toBeGreaterThan(0)
        expect(figures.rounds).toHaveLength(3)
      }
      expect(finite(entry.ratio)).toBe(true)
    }
    expect(keyValue.failures).toBe(0)
    expect(results.scale.points.map((point: { size: number }) => point.size)).toEqual([1000, 3000])
    for (const point of results.scale.points) {
      for (const what of ['get', 'has', 'save', 'listFirst', 'getStats', 'listDeep'])
        expect(finite(point[what].p50Ms)).toBe(true)
    }

    expect(results.verification.failures).toBe(0)
    expect(results.verification.checkedOps).toBeGreaterThan(0)
    expect(results.memory.failures).toBe(0)
    expect(results.memory.withinBound).toBe(true)
    const targets = results.targets.map((target: { what: string }) => target.what).join('\n')
    for (const needle of [
      'native / limit',
      'JS-thread µs/op / floor',
      'native vs pg',
      'native vs postgres.js',
      'event-loop stall',
      'RSS growth',
      'stale statistics',
      'key-value: setValues(100) vs setValue',
      'scale:',
    ]) {
      expect(targets).toContain(needle)
    }
    expect(JSON.stringify(results)).not.toMatch(/password/i)
    expect(run.stdout).toContain('| workload')
    expect(run.stdout).toContain('### Key-value')
    expect(run.stdout).toContain('Verification:')
    expect(run.stdout).toContain('all correct')
    expect(run.stdout).toContain('Machine:')
    // Nothing left behind: no benchmark schema, no benchmark row.
    const left = spawnSync(process.execPath, ['-e', LEFTOVERS], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, BENCH_OUTPUT: output },
    })
    expect(left.stderr).toBe('')
    expect(left.stdout.trim()).toBe('0 0')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}, 180_000)

// Counts the benchmark's schemas and rows left in the database the run used (from its JSON).
const LEFTOVERS = `
const pg = require('pg')
const results = JSON.parse(require('fs').readFileSync(process.env.BENCH_OUTPUT, 'utf8'))
const { host, port, database, user } = results.database
const client = new pg.Client({ host, port, database, user, password: process.env.POSTGRES_PASSWORD ?? process.env.PGPASSWORD ?? 'postgres' })
client.connect().then(async () => {
  const schemas = await client.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('bench_stale', 'bench_scale', 'bench_kv_batches', 'bench_kv_logged', 'bench_kv_unlogged')")
  const table = await client.query("SELECT to_regclass('sessions') IS NOT NULL AS present")
  const rows = table.rows[0].present ? (await client.query("SELECT count(*)::int AS n FROM sessions WHERE id LIKE 'bench-%'")).rows[0].n : 0
  console.log(schemas.rows[0].n, rows)
  await client.end()
})
`

it('counts a wrong result as a failed operation, the same for any adapter', async () => {
  const getTypical = workload('get-typical-1')
  const state = { next: 0, ids: ['bench-typical-0'], versions: [3] }
  const session = (version: number) => ({ id: 'bench-typical-0', version, conversationHistory: [{}, {}, {}] })
  const right = await runRound({
    adapter: { getSession: async () => session(3) },
    workload: getTypical,
    state,
    db: null,
    seconds: 0.02,
  })
  expect(right.ops).toBeGreaterThan(0)
  expect(right.failures).toBe(0)
  const wrong = await runRound({
    adapter: { getSession: async () => session(2) },
    workload: getTypical,
    state,
    db: null,
    seconds: 0.02,
  })
  expect(wrong.failures).toBe(wrong.ops)
  const rejecting = await runRound({
    adapter: { getSession: async () => Promise.reject(new Error('boom')) },
    workload: getTypical,
    state,
    db: null,
    seconds: 0.02,
  })
  expect(rejecting.failures).toBe(rejecting.ops)
  expect(rejecting.errors[0]).toContain('boom')
})

it('counts stored versions that differ from the saved ones after a save round', async () => {
  const saveTypical = workload('save-typical-16')
  const sessions = Array.from({ length: 16 }, (_, worker) =>
    [0, 1, 2, 3].map((index) => ({ id: `s-${worker}-${index}`, version: 1, createdAt: new Date(0) })),
  )
  const state = { sessions, versions: new Map(sessions.flat().map((entry) => [entry.id, 1])) }
  const saved: string[] = []
  const adapter = { saveSession: async (entry: { id: string }) => void saved.push(entry.id) }
  // A database that "lost" every write: each session still at version 1.
  const db = { storedVersions: async (ids: string[]) => new Map(ids.map((id) => [id, 1])) }
  const round = await runRound({ adapter, workload: saveTypical, state, db, seconds: 0.02 })
  expect(saved.length).toBe(round.ops)
  const touched = new Set(saved).size
  expect(round.failures).toBe(touched)
  expect(round.errors.join(' ')).toContain('stored versions differ')
})

it('times the floor per operation and refuses an operation that returns nothing', () => {
  const floor = runFloor(() => JSON.parse('{"a":[1,2,3]}'), 0.02)
  expect(floor.ops).toBeGreaterThan(10)
  expect(floor.usPerOp).toBeGreaterThan(0)
  expect(() => runFloor(() => undefined, 0.01)).toThrow('returned nothing')
})

it('walks iterateSessions page by page and notices a missing or repeated session', async () => {
  const adapter = (ids: string[], pages = false) => ({
    async *iterateSessions({ batchSize }: { batchSize: number }) {
      for (let from = 0; from < ids.length; from += batchSize) {
        const page = ids.slice(from, from + batchSize).map((id) => ({ id }))
        if (pages) yield page
        else yield* page
      }
    },
  })
  const ids = Array.from({ length: 1000 }, (_, index) => `bench-scale-${index}`)
  for (const pages of [false, true]) {
    const walked = await walkIterator(adapter(ids, pages), ids.length)
    expect(walked.pages).toBe(10)
    expect(walked.failures).toBe(0)
    expect(finite(walked.p50Ms) && finite(walked.firstPagesMs)).toBe(true)
  }
  expect((await walkIterator(adapter(ids.slice(1)), ids.length)).failures).toBe(1)
  expect((await walkIterator(adapter([...ids, ids[0]]), ids.length)).failures).toBe(1)
})

it('checks every phase of the key-value cycles, batch and one by one: a lost write or a wrong count fails', async () => {
  // An in-memory store with the adapter's key-value calls; `lossy` drops every write.
  const store = (lossy: boolean) => {
    const entries = new Map<string, unknown>()
    const put = (key: string, value: unknown) => void (lossy || entries.set(key, value))
    return {
      setValue: async (key: string, value: unknown) => put(key, value),
      setValues: async (pairs: [string, unknown][]) => pairs.forEach(([key, value]) => put(key, value)),
      getValue: async (key: string) => entries.get(key) ?? null,
      getValues: async (keys: string[]) => keys.map((key) => entries.get(key) ?? null),
      deleteValue: async (key: string) => entries.delete(key),
      deleteValues: async (keys: string[]) => keys.filter((key) => entries.delete(key)).length,
    }
  }
  for (const way of Object.values(WAYS)) {
    const right = await runCycles(store(false), way, 0.02)
    expect(right.cycles).toBeGreaterThan(0)
    expect(right.failures).toBe(0)
    const lossy = await runCycles(store(true), way, 0.02)
    // get and delete fail every cycle; set cannot tell.
    expect(lossy.failures).toBe(2 * lossy.cycles)
  }
})

it("binds pgbench variables into the adapter's SQL, $10 before $1", () => {
  expect(bind('SELECT $1, $10, $2', [':a', ':b', '', '', '', '', '', '', '', ':j'])).toBe('SELECT :a, :j, :b')
})
