// `npm run test:keyv`: Keyv's adapter compliance suite (@keyv/test-suite, written for vitest) and
// the Keyv store's own specs, in the test run's database (scripts/with-database.mjs). The files
// share that database, so they run one after another.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
