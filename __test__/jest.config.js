// jest 29 + ts-jest ESM preset. Specs share one database and drop its tables, so they run in band.
export default {
  preset: 'ts-jest/presets/default-esm',
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.spec.ts'],
  // scale/ needs PgBouncer and pg_basebackup: `npm run test:scale` runs it.
  testPathIgnorePatterns: ['/node_modules/', '/scale/'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30000,
}
