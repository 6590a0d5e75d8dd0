// jest 29 + ts-jest ESM preset. Specs share one database and drop its tables, so they run in band.
import { createHash } from 'node:crypto'
import fs from 'node:fs'

// ts-jest keys its cache on a file and its imports, but leaves out imports from node_modules, which
// is where the specs find this package (by its name). The digest of the typings joins the key of
// the type-checked transform below, so an edit to index.d.ts re-checks the fixture instead of
// reusing a cached pass.
const typings = createHash('sha1')
for (const file of ['index.d.ts', 'index.d.mts'])
  typings.update(fs.readFileSync(new URL(`../${file}`, import.meta.url)))

export default {
  preset: 'ts-jest/presets/default-esm',
  rootDir: '.',
  testEnvironment: 'node',
  // Behaviour specs at the top and in smalltalk/ and types/; tooling/ holds the specs of the scripts,
  // bench and packaging. All run in `npm test`.
  testMatch: ['<rootDir>/**/*.spec.ts'],
  // scale/ needs PgBouncer and pg_basebackup: `npm run test:scale` runs it.
  testPathIgnorePatterns: ['/node_modules/', '/scale/'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  transform: {
    // SmallTalk's side (smalltalk/): type-checked as SmallTalk's jest runs it, so a type that is not
    // assignable to SmallTalk's interfaces fails the suite. Listed first: the first match wins.
    '/smalltalk/.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: '<rootDir>/smalltalk/tsconfig.json', typingsDigest: typings.digest('hex') },
    ],
    // The other specs: transpiled only (isolatedModules); `tsc -p __test__/tsconfig.json` checks them.
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30000,
}
