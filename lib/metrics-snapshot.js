'use strict'
// The key under which a PostgresStorageAdapter hands its native metrics to the Prometheus entry
// (prometheus.js). Not public API, hence a symbol; it lives here so that neither entry loads the
// other (the main entry never loads prom-client, the Prometheus one never loads the addon).

/** `adapter[METRICS_SNAPSHOT]()`: the native counters, read without a query (see `metricsSnapshot` in src/lib.rs). */
const METRICS_SNAPSHOT = Symbol('postgres-storage metrics snapshot')

module.exports = { METRICS_SNAPSHOT }
