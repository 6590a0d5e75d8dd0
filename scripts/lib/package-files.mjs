// @ts-check
// What the published main package holds, and nothing else: the JS face (the main entry, the
// Prometheus one and the Keyv store's), their types, napi's loader and the docs. Checked by the pack
// test (__test__/tooling/pack.spec.ts) and the release rehearsal (scripts/test-publish.mjs) alike.

/** The main package's files, sorted. */
export const MAIN_PACKAGE_FILES = [
  'CHANGELOG.md',
  'LICENSE',
  'README.md',
  'index.d.mts',
  'index.d.ts',
  'index.js',
  'index.mjs',
  'keyv.d.mts',
  'keyv.d.ts',
  'keyv.js',
  'keyv.mjs',
  'lib/errors.js',
  'lib/load-native.js',
  'lib/metrics-snapshot.js',
  'lib/requests.js',
  'lib/session-json.js',
  'lib/slices.js',
  'lib/validate.js',
  'native.js',
  'package.json',
  'prometheus.d.mts',
  'prometheus.d.ts',
  'prometheus.js',
  'prometheus.mjs',
]
