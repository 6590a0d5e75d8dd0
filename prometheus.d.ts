// Types of the Prometheus entry, `@smalltalk-ai/postgres-storage/prometheus` (prometheus.js).
// prometheus.d.mts re-exports this file for the ESM entry. Needs prom-client (an optional peer
// dependency) installed, as the entry itself does.
import type { Registry, RegistryContentType } from 'prom-client'
import type { PostgresStorageAdapter } from './index.js'

/** The `result` label's values: how a call ended. */
export type MetricsResult = 'ok' | 'conflict' | 'error'

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** The registry the metrics go on. Default: prom-client's global `register`. */
  register?: Registry<RegistryContentType>
  /**
   * Put before every metric name, e.g. `'pg_'` gives `pg_storage_operations_duration_seconds`
   * and `pg_postgres_storage_operations_total`. Default `''`: the histogram is then SmallTalk's
   * `storage_operations_duration_seconds`, joined when the registry has it.
   */
  prefix?: string
  /**
   * The value of the `adapter` label on every series of this adapter; each adapter collected on
   * one registry (with one prefix) needs its own. Default `'postgres'`.
   */
  adapter?: string
  /**
   * The `result` label's value for each outcome. Default: `ok`, `conflict`, `error`. Outcomes given
   * the same value are summed into one series, e.g. `{ ok: 'success', conflict: 'failure', error:
   * 'failure' }` for SmallTalk's `recordStorageOperation` values.
   */
  results?: Partial<Record<MetricsResult, string>>
}

/**
 * Registers `adapter`'s metrics on a prom-client registry, read from the adapter (its native
 * counters, no query) when the registry is scraped; nothing runs per call. Returns a function that
 * takes this adapter's series off again (and the metrics, once no adapter is left).
 *
 * - `storage_operations_duration_seconds{operation,result,adapter}`: SmallTalk's histogram, buckets
 *   `[0.001, 0.01, 0.05, 0.1, 0.5, 1, 5]` counted exactly (a call of exactly 10 ms is in
 *   `le="0.01"`), `_sum` and `_count`. `operation` is the method's name (`getSession`, ...). When the
 *   registry already has a histogram of that name with those buckets and the labels `operation` and
 *   `result` (SmallTalk's `initializeMetrics()` makes one), the adapter's series are added to it;
 *   any other metric of that name is refused (pass a `prefix`).
 * - `postgres_storage_operations_total{operation,result,adapter}`,
 *   `postgres_storage_conflicts_total{operation,adapter}`, `postgres_storage_retries_total{adapter}`,
 *   `postgres_storage_coalesced_groups_total` / `_coalesced_calls_total` / `_coalesced_largest_group`
 *   `{operation,adapter}`, and the gauges `postgres_storage_pool_max` / `_pool_size` / `_pool_idle` /
 *   `_pool_waiting{adapter}` (0 before `initialize()` and after `close()`).
 *
 * Throws `TypeError` for a bad argument, and `Error` when a name is taken by another metric or the
 * adapter (or its `adapter` label) is already collected on that registry.
 */
export declare function collectMetrics(adapter: PostgresStorageAdapter, options?: CollectMetricsOptions): () => void
