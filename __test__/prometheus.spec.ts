// The Prometheus entry: collectMetrics() puts an adapter's metrics on a prom-client registry, read
// from the adapter's native counters at each scrape. Scraped as Prometheus scrapes (the text of
// registry.metrics()) after known workloads against the test database.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'
import client from 'prom-client'
import { ConflictError, PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import { collectMetrics } from '@smalltalk-ai/postgres-storage/prometheus'
import { adapterPerTest, contractConfig, makeSession, rawClient } from './helpers.js'

const { Counter, Histogram, Registry } = client
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** SmallTalk's histogram (its src/server/metrics.ts). */
const HISTOGRAM = 'storage_operations_duration_seconds'
const BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5]
const LE = [...BUCKETS.map(String), '+Inf']

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  return samples
}

/** A scrape: the registry's text, parsed, with lookups. */
async function scrape(registry: InstanceType<typeof Registry>) {
  const text = await registry.metrics()
  const samples = parse(text)
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
  /** The one sample of `name` with exactly these labels (undefined when there is none). */
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = samples.filter(
      (sample) =>
        sample.name === name &&
        Object.keys(sample.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([key, label]) => sample.labels[key] === label),
    )
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
    return found[0]?.value
  }
  /** One histogram series: its cumulative buckets by `le`, sum and count. */
  const histogram = (labels: Record<string, string>, name = HISTOGRAM) => {
    const buckets = matching(`${name}_bucket`, labels).filter(
      (sample) => Object.keys(sample.labels).length === Object.keys(labels).length + 1,
    )
    return {
      le: buckets.map((sample) => sample.labels.le),
      buckets: buckets.map((sample) => sample.value),
      sum: value(`${name}_sum`, labels),
      count: value(`${name}_count`, labels),
    }
  }
  /** The `[operation, result]` pairs of the histogram's series carrying these labels. */
  const series = (labels: Record<string, string>, name = HISTOGRAM) =>
    matching(`${name}_count`, labels)
      .map((sample) => `${sample.labels.operation} ${sample.labels.result}`)
      .sort()
  return { text, samples, value, histogram, series }
}

/** Every series' buckets are SmallTalk's, cumulative, and end at the count. */
function expectWellFormed(series: { le: string[]; buckets: number[]; count?: number }) {
  expect(series.le).toEqual(LE)
  series.buckets.forEach((count, index) => expect(count).toBeGreaterThanOrEqual(series.buckets[index - 1] ?? 0))
  expect(series.buckets.at(-1)).toBe(series.count)
}

/** The adapter's snapshot method (not public API), to count how often a scrape reads it. */
function snapshotKey(): symbol {
  const keys = Object.getOwnPropertySymbols(PostgresStorageAdapter.prototype)
  expect(keys).toHaveLength(1)
  return keys[0]
}

const adapter = adapterPerTest({ poolSize: 3 })

it('a scrape after a known workload has the exact counts, buckets, sums, conflicts and pool figures', async () => {
  const registry = new Registry()
  collectMetrics(adapter(), { register: registry })
  const sessions = Array.from({ length: 5 }, () => makeSession())
  for (const session of sessions) await adapter().saveSession(session)
  for (let i = 0; i < 3; i++) {
    await expect(adapter().saveSession(sessions[0])).rejects.toBeInstanceOf(ConflictError) // version 1 again
  }
  for (let i = 0; i < 7; i++) expect((await adapter().getSession(sessions[i % 5].id))?.id).toBe(sessions[i % 5].id)
  await expect(adapter().hasSession('')).rejects.toThrow() // refused in JS: never reaches Rust, not counted

  // A slow call: deleteSession waits for a row lock held while the server sleeps 200 ms.
  const locker = await rawClient()
  let wall: number
  try {
    await locker.query('BEGIN')
    await locker.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [sessions[4].id])
    const started = performance.now()
    const deleting = adapter().deleteSession(sessions[4].id)
    await locker.query('SELECT pg_sleep(0.2)')
    await locker.query('COMMIT')
    expect(await deleting).toBe(true)
    wall = (performance.now() - started) / 1000
  } finally {
    await locker.end()
  }

  const { text, value, histogram, series } = await scrape(registry)
  expect(text.match(new RegExp(`^# TYPE ${HISTOGRAM} histogram$`, 'gm'))).toHaveLength(1)
  const adapterLabel = { adapter: 'postgres' }
  expect(series(adapterLabel)).toEqual([
    'deleteSession ok',
    'getSession ok',
    'initialize ok',
    'saveSession conflict',
    'saveSession ok',
  ])
  const expected = { 'saveSession ok': 5, 'saveSession conflict': 3, 'getSession ok': 7, 'initialize ok': 1 }
  for (const [pair, count] of Object.entries(expected)) {
    const [operation, result] = pair.split(' ')
    const labels = { operation, result, ...adapterLabel }
    const one = histogram(labels)
    expectWellFormed(one)
    expect({ pair, count: one.count }).toEqual({ pair, count })
    expect(one.sum).toBeGreaterThan(0)
    expect(value('postgres_storage_operations_total', labels)).toBe(count)
  }

  // The slow call: past 10 ms (and the 200 ms it waited), within the wall time around it, and in
  // exactly the buckets its time falls in.
  const slow = histogram({ operation: 'deleteSession', result: 'ok', ...adapterLabel })
  expectWellFormed(slow)
  expect(slow.count).toBe(1)
  expect(slow.sum).toBeGreaterThanOrEqual(0.2)
  expect(slow.sum).toBeLessThanOrEqual(wall)
  expect(slow.buckets).toEqual([...BUCKETS.map((bound) => (slow.sum! <= bound ? 1 : 0)), 1])
  expect(slow.buckets.slice(0, 4)).toEqual([0, 0, 0, 0]) // not within 1, 10, 50 or 100 ms

  expect(value('postgres_storage_conflicts_total', { operation: 'saveSession', ...adapterLabel })).toBe(3)
  expect(value('postgres_storage_conflicts_total', { operation: 'getSession', ...adapterLabel })).toBe(0)
  expect(value('postgres_storage_retries_total', adapterLabel)).toBe(0)
  expect(value('postgres_storage_pool_max', adapterLabel)).toBe(3)
  const size = value('postgres_storage_pool_size', adapterLabel)!
  expect(size).toBeGreaterThanOrEqual(1)
  expect(size).toBeLessThanOrEqual(3)
  expect(value('postgres_storage_pool_idle', adapterLabel)).toBeLessThanOrEqual(size)
  expect(value('postgres_storage_pool_waiting', adapterLabel)).toBe(0)

  // The same counters as getStats(): its mean is the histogram's sum over its count.
  const { operations } = (await adapter().getStats()).metrics
  const gets = histogram({ operation: 'getSession', result: 'ok', ...adapterLabel })
  expect(operations.getSession.meanMs * 7).toBeCloseTo(gets.sum! * 1000, 6)
  expect(operations.saveSession).toMatchObject({ ok: 5, conflicts: 3, errors: 0 })
})

it("joins SmallTalk's own histogram: one family, SmallTalk's series untouched, and the JSON view too", async () => {
  // As SmallTalk's initializeMetrics() builds its registry.
  const registry = new Registry()
  client.collectDefaultMetrics({ register: registry })
  new Counter({ name: 'sessions_total', help: 'Total number of sessions created', registers: [registry] })
  const smalltalk = new Histogram({
    name: HISTOGRAM,
    help: 'Duration of storage operations in seconds',
    labelNames: ['operation', 'result'],
    buckets: BUCKETS,
    registers: [registry],
  })
  smalltalk.observe({ operation: 'save', result: 'success' }, 0.02)
  const stop = collectMetrics(adapter(), { register: registry })
  const session = makeSession()
  await adapter().saveSession(session)
  await adapter().saveSession({ ...session, version: 2 })
  await adapter().getSession(session.id)
  smalltalk.observe({ operation: 'save', result: 'success' }, 0.2)

  const joined = await scrape(registry)
  expect(joined.text.match(new RegExp(`^# TYPE ${HISTOGRAM} histogram$`, 'gm'))).toHaveLength(1)
  expect(joined.text).toMatch(/^process_cpu_user_seconds_total /m)
  const own = joined.histogram({ operation: 'save', result: 'success' })
  expect(own).toEqual({ le: LE, buckets: [0, 0, 1, 1, 2, 2, 2, 2], sum: 0.22, count: 2 })
  expect(joined.series({ adapter: 'postgres' })).toEqual(['getSession ok', 'initialize ok', 'saveSession ok'])
  const saves = joined.histogram({ operation: 'saveSession', result: 'ok', adapter: 'postgres' })
  expectWellFormed(saves)
  expect(saves.count).toBe(2)

  // prom-client's JSON view (getMetricsAsJSON, as its cluster aggregation reads) has them too.
  const json = (await registry.getMetricsAsJSON()).find((metric) => metric.name === HISTOGRAM)!
  const values = json.values as Array<{ labels: object; value: number; metricName?: string }>
  const counts = values.filter((sample) => sample.metricName === `${HISTOGRAM}_count`)
  expect(counts.map(({ labels, value }) => ({ labels, value }))).toEqual([
    { labels: { operation: 'save', result: 'success' }, value: 2 },
    { labels: { operation: 'initialize', result: 'ok', adapter: 'postgres' }, value: 1 },
    { labels: { operation: 'saveSession', result: 'ok', adapter: 'postgres' }, value: 2 },
    { labels: { operation: 'getSession', result: 'ok', adapter: 'postgres' }, value: 1 },
  ])

  // Taken off: SmallTalk's histogram reports only its own series again, the rest is gone.
  stop()
  stop() // a second call does nothing
  const after = await scrape(registry)
  expect(after.series({})).toEqual(['save success'])
  expect(after.text).not.toMatch(/postgres_storage_/)
  expect(Object.hasOwn(smalltalk, 'getForPromString')).toBe(false)
  expect(registry.getSingleMetric(HISTOGRAM)).toBe(smalltalk)
})

it('results renames the result label; outcomes given one name are summed into one series', async () => {
  const registry = new Registry()
  collectMetrics(adapter(), { register: registry, results: { ok: 'success', conflict: 'failure', error: 'failure' } })
  const session = makeSession()
  await adapter().saveSession(session)
  await adapter().saveSession({ ...session, version: 2 })
  await expect(adapter().saveSession(session)).rejects.toBeInstanceOf(ConflictError)
  await adapter().close()
  await expect(adapter().saveSession({ ...session, version: 3 })).rejects.toMatchObject({ code: 'E_CLOSED' })

  const { value, histogram, series } = await scrape(registry)
  expect(series({ adapter: 'postgres' })).toEqual(['initialize success', 'saveSession failure', 'saveSession success'])
  const failures = histogram({ operation: 'saveSession', result: 'failure', adapter: 'postgres' })
  expectWellFormed(failures)
  expect(failures.count).toBe(2)
  expect(histogram({ operation: 'saveSession', result: 'success', adapter: 'postgres' }).count).toBe(2)
  expect(
    value('postgres_storage_operations_total', { operation: 'saveSession', result: 'failure', adapter: 'postgres' }),
  ).toBe(2)
  // The conflicts stay counted as such.
  expect(value('postgres_storage_conflicts_total', { operation: 'saveSession', adapter: 'postgres' })).toBe(1)
  // Closed: the pool reads 0.
  expect(value('postgres_storage_pool_max', { adapter: 'postgres' })).toBe(0)
  expect(value('postgres_storage_pool_size', { adapter: 'postgres' })).toBe(0)

  expect(() => collectMetrics(adapter(), { register: new Registry(), results: { success: 'ok' } as never })).toThrow(
    /results\.success is not a result/,
  )
})

it('another metric of a name it needs is refused, registering nothing; a prefix registers under other names', async () => {
  const expectRefused = (registry: InstanceType<typeof Registry>, message: RegExp) => {
    const before = registry.getMetricsAsArray().map((metric) => metric.name)
    expect(() => collectMetrics(adapter(), { register: registry })).toThrow(message)
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(before)
  }
  const counter = new Registry()
  new Counter({ name: HISTOGRAM, help: 'x', registers: [counter] })
  expectRefused(counter, /already has storage_operations_duration_seconds, a counter, not a histogram; pass a `prefix`/)
  const buckets = new Registry()
  new Histogram({
    name: HISTOGRAM,
    help: 'x',
    labelNames: ['operation', 'result'],
    buckets: [0.1, 1],
    registers: [buckets],
  })
  expectRefused(buckets, /with buckets \[0\.1, 1\]: the adapter counts its calls against \[0\.001, 0\.01, 0\.05/)
  const labels = new Registry()
  new Histogram({ name: HISTOGRAM, help: 'x', labelNames: ['operation'], buckets: BUCKETS, registers: [labels] })
  expectRefused(labels, /without the label "result"/)
  const taken = new Registry()
  new Counter({ name: 'postgres_storage_pool_size', help: 'x', registers: [taken] })
  expectRefused(taken, /already has postgres_storage_pool_size; pass another `prefix`/)

  collectMetrics(adapter(), { register: counter, prefix: 'pg_' })
  await adapter().getSession('absent')
  const { value, histogram } = await scrape(counter)
  const gets = histogram({ operation: 'getSession', result: 'ok', adapter: 'postgres' }, `pg_${HISTOGRAM}`)
  expectWellFormed(gets)
  expect(gets.count).toBe(1)
  expect(
    value('pg_postgres_storage_operations_total', { operation: 'getSession', result: 'ok', adapter: 'postgres' }),
  ).toBe(1)
  expect(value(HISTOGRAM)).toBe(0) // the counter that was there, untouched

  expect(() => collectMetrics({} as PostgresStorageAdapter)).toThrow(TypeError)
  expect(() => collectMetrics(adapter(), { register: {} as never })).toThrow(/must be a prom-client Registry/)
  expect(() => collectMetrics(adapter(), { registry: new Registry() } as never)).toThrow(/unknown option "registry"/)
  expect(() => collectMetrics(adapter(), { register: new Registry(), adapter: '' })).toThrow(/non-empty string/)
})

it('several adapters share a registry, told apart by the adapter label; a name or an adapter twice is refused', async () => {
  const registry = new Registry()
  const cache = new PostgresStorageAdapter(contractConfig())
  const third = new PostgresStorageAdapter(contractConfig())
  try {
    await cache.initialize()
    const stopSessions = collectMetrics(adapter(), { register: registry })
    const stopCache = collectMetrics(cache, { register: registry, adapter: 'cache' })
    expect(() => collectMetrics(third, { register: registry })).toThrow(
      /an adapter labelled adapter="postgres" is already collected on this registry; give each adapter its own name/,
    )
    expect(() => collectMetrics(adapter(), { register: registry, adapter: 'again' })).toThrow(
      /this adapter is already collected on this registry as adapter="postgres"/,
    )
    for (let i = 0; i < 2; i++) await adapter().getSession('absent')
    for (let i = 0; i < 3; i++) await cache.getValue('absent')

    const both = await scrape(registry)
    expect(both.series({ adapter: 'postgres' })).toEqual(['getSession ok', 'initialize ok'])
    expect(both.series({ adapter: 'cache' })).toEqual(['getValue ok', 'initialize ok'])
    expect(both.histogram({ operation: 'getSession', result: 'ok', adapter: 'postgres' }).count).toBe(2)
    expect(both.histogram({ operation: 'getValue', result: 'ok', adapter: 'cache' }).count).toBe(3)
    expect(both.value('postgres_storage_pool_max', { adapter: 'postgres' })).toBe(3)
    expect(both.value('postgres_storage_pool_max', { adapter: 'cache' })).toBe(contractConfig().poolSize)

    stopCache()
    const one = await scrape(registry)
    expect(one.series({})).toEqual(['getSession ok', 'initialize ok'])
    expect(one.value('postgres_storage_pool_max', { adapter: 'cache' })).toBeUndefined()
    // The name is free again.
    const stopThird = collectMetrics(third, { register: registry, adapter: 'cache' })
    stopThird()
    stopSessions()
    expect(registry.getMetricsAsArray()).toEqual([])
  } finally {
    await cache.close()
    await third.close()
  }
})

it('coalesced groups are reported as getStats() reports them', async () => {
  const registry = new Registry()
  collectMetrics(adapter(), { register: registry })
  const session = makeSession()
  await adapter().saveSession(session)
  const got = await Promise.all(Array.from({ length: 120 }, () => adapter().getSession(session.id)))
  expect(got.every((found) => found?.id === session.id)).toBe(true)
  const { value } = await scrape(registry)
  const stats = (await adapter().getStats()).metrics.operations.getSession
  expect(stats.groups).toBeGreaterThan(0)
  const labels = { operation: 'getSession', adapter: 'postgres' }
  expect(value('postgres_storage_coalesced_groups_total', labels)).toBe(stats.groups)
  expect(value('postgres_storage_coalesced_calls_total', labels)).toBe(stats.groupedCalls)
  expect(value('postgres_storage_coalesced_largest_group', labels)).toBe(stats.largestGroup)
  // Methods that were never grouped have no such series.
  expect(
    value('postgres_storage_coalesced_groups_total', { operation: 'initialize', adapter: 'postgres' }),
  ).toBeUndefined()
})

it('reads each adapter once per scrape and never between scrapes; works before initialize() and after close()', async () => {
  const key = snapshotKey()
  const fresh = new PostgresStorageAdapter(contractConfig()) as PostgresStorageAdapter & Record<symbol, () => unknown>
  const read = fresh[key].bind(fresh)
  let reads = 0
  fresh[key] = () => {
    reads++
    return read()
  }
  const registry = new Registry()
  try {
    collectMetrics(fresh, { register: registry })
    reads = 0
    const before = await scrape(registry)
    expect(reads).toBe(1)
    expect(before.value('postgres_storage_pool_max', { adapter: 'postgres' })).toBe(0)
    expect(before.series({})).toEqual([])
    await expect(fresh.getSession('x')).rejects.toBeInstanceOf(StorageError) // E_NOT_INITIALIZED, counted
    await fresh.initialize()
    for (let i = 0; i < 50; i++) await fresh.hasSession('absent')
    expect(reads).toBe(1)
    const open = await scrape(registry)
    expect(reads).toBe(2)
    expect(open.series({})).toEqual(['getSession error', 'hasSession ok', 'initialize ok'])
    expect(open.value('postgres_storage_pool_max', { adapter: 'postgres' })).toBe(contractConfig().poolSize)
    await fresh.close()
    const closed = await scrape(registry)
    expect(closed.value('postgres_storage_pool_max', { adapter: 'postgres' })).toBe(0)
    expect(closed.histogram({ operation: 'hasSession', result: 'ok', adapter: 'postgres' }).count).toBe(50)
    expect(reads).toBe(3)
  } finally {
    await fresh.close()
  }
})

it('a cleared registry can be collected on again', async () => {
  const registry = new Registry()
  collectMetrics(adapter(), { register: registry })
  registry.clear() // as SmallTalk's resetMetrics() does
  collectMetrics(adapter(), { register: registry })
  await adapter().getSession('absent')
  const { histogram } = await scrape(registry)
  expect(histogram({ operation: 'getSession', result: 'ok', adapter: 'postgres' }).count).toBe(1)
})

// --- the entries as modules -------------------------------------------------------------------------

const require = createRequire(import.meta.url)

/** A folder under node_modules/.cache (so that the package resolves by name), removed afterwards. */
function workFolder(): string {
  fs.mkdirSync(path.join(root, 'node_modules', '.cache'), { recursive: true })
  return fs.mkdtempSync(path.join(root, 'node_modules', '.cache', 'prometheus-'))
}

function runNode(args: string[], cwd: string) {
  const run = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  return JSON.parse(run.stdout)
}

it('CommonJS and ESM give the same collectMetrics; the main entry never loads prom-client', () => {
  expect(require('@smalltalk-ai/postgres-storage/prometheus').collectMetrics).toBe(collectMetrics)
  const work = workFolder()
  try {
    fs.writeFileSync(
      path.join(work, 'loads.cjs'),
      `const loaded = () => Object.keys(require.cache).filter((file) => /[\\\\/]prom-client[\\\\/]/.test(file)).length
const main = require('@smalltalk-ai/postgres-storage')
const afterMain = loaded()
const prometheus = require('@smalltalk-ai/postgres-storage/prometheus')
import('@smalltalk-ai/postgres-storage/prometheus').then((esm) => {
  console.log(JSON.stringify({
    main: typeof main.PostgresStorageAdapter,
    afterMain,
    afterPrometheus: loaded() > 0,
    prometheus: Object.keys(prometheus),
    esm: Object.keys(esm).filter((key) => key !== 'default'),
    same: esm.collectMetrics === prometheus.collectMetrics,
  }))
})
`,
    )
    expect(runNode(['loads.cjs'], work)).toEqual({
      main: 'function',
      afterMain: 0,
      afterPrometheus: true,
      prometheus: ['collectMetrics'],
      esm: ['collectMetrics'],
      same: true,
    })
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})

it('with prom-client not installed, the main entry loads and works; the Prometheus entry says what to install', () => {
  const work = workFolder()
  try {
    // prom-client is hidden from require (CommonJS resolution) and import (an ESM resolve hook).
    fs.writeFileSync(
      path.join(work, 'hide.cjs'),
      `const Module = require('node:module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'prom-client' || request.startsWith('prom-client/'))
    throw Object.assign(new Error(\`Cannot find module '\${request}'\`), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}
`,
    )
    fs.writeFileSync(
      path.join(work, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {
  if (specifier === 'prom-client' || specifier.startsWith('prom-client/'))
    throw Object.assign(new Error(\`Cannot find package '\${specifier}'\`), { code: 'ERR_MODULE_NOT_FOUND' })
  return next(specifier, context)
}
`,
    )
    fs.writeFileSync(
      path.join(work, 'hide.mjs'),
      `import { register } from 'node:module'
register('./hooks.mjs', import.meta.url)
`,
    )
    fs.writeFileSync(
      path.join(work, 'check.mjs'),
      `import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const code = (run) => { try { run(); return 'loaded' } catch (error) { return error.code } }
const cjs = code(() => require('prom-client'))
const esm = await import('prom-client').then(() => 'loaded', (error) => error.code)
const main = await import('@smalltalk-ai/postgres-storage')
const required = require('@smalltalk-ai/postgres-storage')
const adapter = new main.PostgresStorageAdapter(${JSON.stringify(contractConfig())})
await adapter.initialize()
const healthy = (await adapter.healthCheck()).healthy
await adapter.close()
const failure = (error) => error.message
const prometheusEsm = await import('@smalltalk-ai/postgres-storage/prometheus').then(() => 'loaded', failure)
let prometheusCjs = 'loaded'
try { require('@smalltalk-ai/postgres-storage/prometheus') } catch (error) { prometheusCjs = failure(error) }
console.log(JSON.stringify({ cjs, esm, same: required.PostgresStorageAdapter === main.PostgresStorageAdapter, healthy, prometheusEsm, prometheusCjs }))
`,
    )
    const missing =
      '@smalltalk-ai/postgres-storage/prometheus needs prom-client, an optional peer dependency that is not ' +
      'installed: npm install prom-client@^15.1.3'
    const hidden = runNode(
      ['--require', './hide.cjs', '--import', pathToFileURL(path.join(work, 'hide.mjs')).href, 'check.mjs'],
      work,
    )
    expect(hidden).toEqual({
      cjs: 'MODULE_NOT_FOUND',
      esm: 'ERR_MODULE_NOT_FOUND',
      same: true,
      healthy: true,
      prometheusEsm: missing,
      prometheusCjs: missing,
    })
    // The same check without the hiding: prom-client is installed here, so only the hiding made it absent.
    expect(runNode(['check.mjs'], work)).toMatchObject({ cjs: 'loaded', esm: 'loaded', prometheusEsm: 'loaded' })
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})
