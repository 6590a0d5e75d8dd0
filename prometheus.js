'use strict'
// The Prometheus entry (`@smalltalk-ai/postgres-storage/prometheus`): collectMetrics() puts an
// adapter's metrics on a prom-client Registry. Nothing runs per call: on each scrape the metrics
// read one native snapshot of the adapter's counters (counts, times against SmallTalk's latency
// bounds, coalesced groups, retries, the pool). prom-client is an optional peer dependency, loaded
// here only; the main entry never loads it.

const { METRICS_SNAPSHOT } = require('./lib/metrics-snapshot.js')

const client = loadPromClient()

function loadPromClient() {
  try {
    return require('prom-client')
  } catch (error) {
    if (error?.code !== 'MODULE_NOT_FOUND') throw error
    throw new Error(
      '@smalltalk-ai/postgres-storage/prometheus needs prom-client, an optional peer dependency that is not ' +
        'installed: npm install prom-client@^15.1.3',
      { cause: error },
    )
  }
}

/** SmallTalk's histogram (src/server/metrics.ts): its name, help text and labels. */
const HISTOGRAM = 'storage_operations_duration_seconds'
const HISTOGRAM_HELP = 'Duration of storage operations in seconds'
/** The label telling adapters apart on one registry. */
const ADAPTER_LABEL = 'adapter'
const DEFAULT_ADAPTER = 'postgres'
const RESULTS = ['ok', 'conflict', 'error']

/** The other metrics: name (before the prefix), type, help, labels. */
const METRICS = {
  operations: [
    'postgres_storage_operations_total',
    'counter',
    'Storage calls by operation and result',
    ['operation', 'result'],
  ],
  conflicts: [
    'postgres_storage_conflicts_total',
    'counter',
    'Calls refused by optimistic locking (ConflictError)',
    ['operation'],
  ],
  retries: ['postgres_storage_retries_total', 'counter', 'Calls run again on another connection after a lost one', []],
  groups: [
    'postgres_storage_coalesced_groups_total',
    'counter',
    'Groups of concurrent calls served by one statement',
    ['operation'],
  ],
  groupedCalls: [
    'postgres_storage_coalesced_calls_total',
    'counter',
    'Calls served in coalesced groups',
    ['operation'],
  ],
  largestGroup: [
    'postgres_storage_coalesced_largest_group',
    'gauge',
    'The largest coalesced group so far',
    ['operation'],
  ],
  poolMax: [
    'postgres_storage_pool_max',
    'gauge',
    'Pooled connections at most (poolSize); 0 while not initialized or closed',
    [],
  ],
  poolSize: ['postgres_storage_pool_size', 'gauge', 'Open pooled connections', []],
  poolIdle: ['postgres_storage_pool_idle', 'gauge', 'Idle pooled connections', []],
  poolWaiting: ['postgres_storage_pool_waiting', 'gauge', 'Calls waiting for a pooled connection', []],
}

/** What collectMetrics put on each registry, by registry and then by prefix. */
const collectors = new WeakMap()

/**
 * The metrics one prefix put on one registry, and the adapters they read. A scrape reads each
 * adapter's snapshot once: the first metric read in a scrape takes them, the others of the same
 * scrape (prom-client reads every metric in one synchronous pass) reuse them, so the histogram,
 * the counters and the gauges of one scrape agree.
 */
class Collector {
  #snapshots = null

  constructor(register, prefix, bounds) {
    this.register = register
    this.prefix = prefix
    this.bounds = bounds
    /** Adapter label value -> `{ adapter, results }`. */
    this.adapters = new Map()
    this.histogramName = prefix + HISTOGRAM
    const existing = register.getSingleMetric(this.histogramName)
    if (existing !== undefined) checkJoinable(existing, this.histogramName, bounds)
    const names = Object.values(METRICS).map(([name]) => prefix + name)
    const taken = names.filter((name) => register.getSingleMetric(name) !== undefined)
    if (taken.length > 0) {
      throw new Error(
        `collectMetrics: the registry already has ${taken.join(', ')}; pass another \`prefix\` to register the ` +
          "adapter's metrics under other names",
      )
    }
    // A Histogram can only be observed, not set, so the adapters' series are added to what it
    // reports: to SmallTalk's own histogram when the registry has it, else to one made here.
    this.joined = existing !== undefined
    this.histogram =
      existing ??
      new client.Histogram({
        name: this.histogramName,
        help: HISTOGRAM_HELP,
        labelNames: ['operation', 'result', ADAPTER_LABEL],
        buckets: bounds,
        registers: [register],
      })
    this.ownReport = Object.hasOwn(this.histogram, 'getForPromString') ? this.histogram.getForPromString : undefined
    const report = this.histogram.getForPromString
    const collector = this
    this.report = async function getForPromString() {
      const snapshots = collector.snapshots()
      const data = await report.call(this)
      data.values.push(...collector.series(snapshots))
      return data
    }
    this.histogram.getForPromString = this.report
    const read = (fill) =>
      function collect() {
        this.reset()
        for (const snapshot of collector.snapshots()) fill(this, snapshot)
      }
    const made = {}
    for (const [key, [name, type, help, labelNames]] of Object.entries(METRICS)) {
      const Type = type === 'counter' ? client.Counter : client.Gauge
      made[key] = { Type, name: prefix + name, help, labelNames: [...labelNames, ADAPTER_LABEL], read }
    }
    this.metrics = [
      metric(made.operations, register, (counter, { labels, operations, results }) => {
        for (const operation of operations)
          for (const latency of operation.results)
            counter.inc(labels(operation, results[latency.result]), countOf(latency))
      }),
      metric(made.conflicts, register, (counter, { labels, operations }) => {
        for (const operation of operations) {
          const conflicts = operation.results.find((latency) => latency.result === 'conflict')
          counter.inc(labels(operation), conflicts === undefined ? 0 : countOf(conflicts))
        }
      }),
      metric(made.retries, register, (counter, { labels, native }) => counter.inc(labels(), native.retries)),
      metric(made.groups, register, (counter, { labels, operations }) => {
        for (const operation of operations) if (operation.groups > 0) counter.inc(labels(operation), operation.groups)
      }),
      metric(made.groupedCalls, register, (counter, { labels, operations }) => {
        for (const operation of operations)
          if (operation.groups > 0) counter.inc(labels(operation), operation.groupedCalls)
      }),
      metric(made.largestGroup, register, (gauge, { labels, operations }) => {
        for (const operation of operations)
          if (operation.groups > 0) gauge.set(labels(operation), operation.largestGroup)
      }),
      metric(made.poolMax, register, (gauge, { labels, native }) => gauge.set(labels(), native.poolMaxSize)),
      metric(made.poolSize, register, (gauge, { labels, native }) => gauge.set(labels(), native.poolSize)),
      metric(made.poolIdle, register, (gauge, { labels, native }) => gauge.set(labels(), native.poolIdle)),
      metric(made.poolWaiting, register, (gauge, { labels, native }) => gauge.set(labels(), native.poolWaiting)),
    ]
    if (!this.joined) {
      this.histogram.registeredName = this.histogramName
      this.metrics.push(this.histogram)
    }
  }

  /** Every adapter's snapshot, taken once per scrape. */
  snapshots() {
    if (this.#snapshots === null) {
      this.#snapshots = [...this.adapters].map(([name, { adapter, results }]) => {
        const native = adapter[METRICS_SNAPSHOT]()
        const labels = (operation, result) => {
          const set = {}
          if (operation !== undefined) set.operation = operation.method
          if (result !== undefined) set.result = result
          set[ADAPTER_LABEL] = name
          return set
        }
        return { name, native, operations: native.operations, results, labels }
      })
      queueMicrotask(() => (this.#snapshots = null))
    }
    return this.#snapshots
  }

  /** The histogram's series of every adapter, as prom-client reports them (getForPromString). */
  series(snapshots) {
    const name = this.histogram.name
    const values = []
    for (const { operations, results, labels } of snapshots) {
      for (const operation of operations) {
        // Outcomes given one result label (the `results` option) make one series.
        const merged = new Map()
        for (const latency of operation.results) {
          const result = results[latency.result]
          const into = merged.get(result)
          if (into === undefined) {
            merged.set(result, { counts: [...latency.counts], sum: latency.sumSeconds })
          } else {
            latency.counts.forEach((count, index) => (into.counts[index] += count))
            into.sum += latency.sumSeconds
          }
        }
        for (const [result, { counts, sum }] of merged) {
          const sharedLabels = labels(operation, result)
          let cumulative = 0
          this.bounds.forEach((bound, index) => {
            cumulative += counts[index]
            values.push({ labels: { le: bound }, sharedLabels, value: cumulative, metricName: `${name}_bucket` })
          })
          const count = cumulative + counts[this.bounds.length]
          values.push(
            { labels: { le: '+Inf' }, sharedLabels, value: count, metricName: `${name}_bucket` },
            { labels: {}, sharedLabels, value: sum, metricName: `${name}_sum` },
            { labels: {}, sharedLabels, value: count, metricName: `${name}_count` },
          )
        }
      }
    }
    return values
  }

  /** Whether everything this collector registered is still on its registry (`registry.clear()` removes it all). */
  registered() {
    return (
      this.register.getSingleMetric(this.histogramName) === this.histogram &&
      this.histogram.getForPromString === this.report &&
      this.metrics.every((metric) => this.register.getSingleMetric(metric.registeredName) === metric)
    )
  }

  /** Takes every metric of this collector off the registry, and gives a joined histogram back its own report. */
  remove() {
    for (const metric of this.metrics) {
      if (this.register.getSingleMetric(metric.registeredName) === metric)
        this.register.removeSingleMetric(metric.registeredName)
    }
    if (this.histogram.getForPromString === this.report) {
      if (this.ownReport === undefined) delete this.histogram.getForPromString
      else this.histogram.getForPromString = this.ownReport
    }
  }
}

/** A counter or gauge read on scrape (`collect`) from every adapter's snapshot with `fill`. */
function metric({ Type, name, help, labelNames, read }, register, fill) {
  const made = new Type({ name, help, labelNames, registers: [register], collect: read(fill) })
  // prom-client renames counters on an OpenMetrics registry; the registry keys them by this name.
  made.registeredName = name
  return made
}

const countOf = (latency) => latency.counts.reduce((sum, count) => sum + count, 0)

/** A metric of the histogram's name that the adapters' series may join: SmallTalk's, or one like it. */
function checkJoinable(existing, name, bounds) {
  const refuse = (why) =>
    new Error(
      `collectMetrics: the registry already has ${name}, ${why}; pass a \`prefix\` to register the adapter's ` +
        'metrics under other names',
    )
  if (existing.type !== 'histogram' || typeof existing.getForPromString !== 'function')
    throw refuse(`a ${existing.type ?? 'metric'}, not a histogram`)
  const upper = existing.upperBounds ?? []
  if (upper.length !== bounds.length || upper.some((bound, index) => bound !== bounds[index]))
    throw refuse(
      `with buckets [${upper.join(', ')}]: the adapter counts its calls against [${bounds.join(', ')}] (SmallTalk's)`,
    )
  const labelNames = existing.labelNames ?? []
  for (const label of ['operation', 'result']) {
    if (!labelNames.includes(label)) throw refuse(`without the label "${label}"`)
  }
}

function checkedOptions(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw new TypeError('collectMetrics: options must be an object')
  const known = new Set(['register', 'prefix', 'adapter', 'results'])
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      throw new TypeError(`collectMetrics: unknown option "${key}" (known: ${[...known].join(', ')})`)
  }
  const register = options.register ?? client.register
  if (typeof register?.getSingleMetric !== 'function' || typeof register?.registerMetric !== 'function')
    throw new TypeError('collectMetrics: `register` must be a prom-client Registry')
  const prefix = options.prefix ?? ''
  if (typeof prefix !== 'string') throw new TypeError('collectMetrics: `prefix` must be a string')
  const name = options.adapter ?? DEFAULT_ADAPTER
  if (typeof name !== 'string' || name === '')
    throw new TypeError('collectMetrics: `adapter` must be a non-empty string (the `adapter` label)')
  const results = {}
  const given = options.results ?? {}
  if (typeof given !== 'object') throw new TypeError('collectMetrics: `results` must be an object')
  for (const key of Object.keys(given)) {
    if (!RESULTS.includes(key))
      throw new TypeError(`collectMetrics: results.${key} is not a result (known: ${RESULTS.join(', ')})`)
  }
  for (const result of RESULTS) {
    const value = given[result] ?? result
    if (typeof value !== 'string' || value === '')
      throw new TypeError(`collectMetrics: results.${result} must be a non-empty string`)
    results[result] = value
  }
  return { register, prefix, name, results }
}

/**
 * Registers `adapter`'s metrics on a prom-client registry (default: prom-client's global one),
 * read from the adapter at each scrape. Returns a function that takes them off again.
 *
 * `storage_operations_duration_seconds{operation,result,adapter}` is SmallTalk's histogram: when
 * the registry already has it (SmallTalk's `initializeMetrics()` makes it), the adapter's series
 * join it, else it is created with SmallTalk's buckets. The other metrics are `postgres_storage_*`.
 * `prefix` is put before every name; `adapter` is the `adapter` label's value (each adapter on one
 * registry needs its own); `results` renames the `result` label's values.
 */
function collectMetrics(adapter, options) {
  if (typeof adapter?.[METRICS_SNAPSHOT] !== 'function')
    throw new TypeError('collectMetrics: the first argument must be a PostgresStorageAdapter of this package')
  const { register, prefix, name, results } = checkedOptions(options)
  let byPrefix = collectors.get(register)
  if (byPrefix === undefined) collectors.set(register, (byPrefix = new Map()))
  let collector = byPrefix.get(prefix)
  if (collector !== undefined && !collector.registered()) {
    // The registry was cleared (or a metric removed) since: start again.
    collector.remove()
    byPrefix.delete(prefix)
    collector = undefined
  }
  if (collector !== undefined) {
    if (collector.adapters.has(name))
      throw new Error(
        `collectMetrics: an adapter labelled adapter="${name}" is already collected on this registry; give each ` +
          "adapter its own name: collectMetrics(adapter, { register, adapter: 'sessions' })",
      )
    for (const [other, entry] of collector.adapters) {
      if (entry.adapter === adapter)
        throw new Error(`collectMetrics: this adapter is already collected on this registry as adapter="${other}"`)
    }
  } else {
    collector = new Collector(register, prefix, adapter[METRICS_SNAPSHOT]().latencyBoundsSeconds)
    byPrefix.set(prefix, collector)
  }
  const entry = { adapter, results }
  collector.adapters.set(name, entry)
  const attached = collector
  return function stop() {
    if (attached.adapters.get(name) !== entry) return
    attached.adapters.delete(name)
    if (attached.adapters.size === 0) {
      attached.remove()
      if (byPrefix.get(prefix) === attached) byPrefix.delete(prefix)
    }
  }
}

module.exports = { collectMetrics }
