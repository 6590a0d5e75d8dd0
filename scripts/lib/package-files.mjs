// @ts-check
// What the published main package holds, and nothing else: the JS face, its types, napi's loader
// and the docs. Checked by the pack test (__test__/tooling/pack.spec.ts) and the release
// rehearsal (scripts/test-publish.mjs) alike.

/** The main package's files, sorted. */
export const MAIN_PACKAGE_FILES = [
  'CHANGELOG.md',
  'LICENSE',
  'README.md',
  'index.d.mts',
  'index.d.ts',
  'index.js',
  'index.mjs',
  'lib/errors.js',
  'lib/load-native.js',
  'lib/requests.js',
  'lib/session-json.js',
  'lib/slices.js',
  'lib/validate.js',
  'native.js',
  'package.json',
]
