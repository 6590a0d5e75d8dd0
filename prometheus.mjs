// ESM entry of `@smalltalk-ai/postgres-storage/prometheus`: the same export as the CommonJS one
// (prometheus.js, the same module instance). Loaded with require, not a static import: when
// prom-client is missing, prometheus.js throws, and Node 20 reports a CommonJS module that throws
// under a static import as uncaught even when the import() was caught.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export const { collectMetrics } = require('./prometheus.js')
