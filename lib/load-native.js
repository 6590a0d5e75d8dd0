'use strict'
// Loads the native addon through napi's generated loader (native.js); when no binary fits this
// machine, throws an error that names the platform, the package that would provide it, and the fix.

const PACKAGE = '@smalltalk-ai/postgres-storage'
const REPOSITORY = 'https://github.com/smalltalk-ai/postgres-storage'

/** napi's `<platform>-<arch>[-<abi>]` names of the binaries published (package.json `napi.targets`). */
const SUPPORTED_PLATFORMS = Object.freeze([
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
])

/** `'gnu'` or `'musl'`, as napi's loader decides it: glibc reports its version, musl does not. */
function detectLibc() {
  try {
    const header = process.report.getReport().header
    return header.glibcVersionRuntime ? 'gnu' : 'musl'
  } catch {
    return 'gnu'
  }
}

/** The napi platform name for a machine, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
function platformName(platform, arch, libc) {
  if (platform === 'linux') return `linux-${arch}-${libc}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

const firstLine = (error) => String(error?.message ?? error).split('\n')[0]

/** napi's load attempts, oldest first (its cause chain runs newest first). */
function loadAttempts(cause) {
  const attempts = []
  for (let error = cause?.cause; error != null && attempts.length < 32; error = error.cause) attempts.push(error)
  return attempts.reverse()
}

// What the attempts say, in one line: a binary that exists but does not load (a newer glibc, a
// truncated file) says more than "not found", so such reasons come first. The WASI fallback is
// napi's, not a package this project ships.
function reasons(attempts) {
  const lines = [...new Set(attempts.map(firstLine))].filter((line) => !/wasi/i.test(line))
  const failedToLoad = lines.filter((line) => !line.startsWith('Cannot find module '))
  return [...failedToLoad, ...lines.filter((line) => !failedToLoad.includes(line))].slice(0, 3)
}

/**
 * The error thrown when no native binary loads; `cause` is napi's own load error. The message is
 * one paragraph; napi's nested chain of attempts stays available as the non-enumerable
 * `loadErrors` (oldest first) instead of being printed, 80 lines deep, under an uncaught error.
 */
function bindingError(cause, { platform = process.platform, arch = process.arch, libc } = {}) {
  const onLinux = platform === 'linux'
  const abi = onLinux ? (libc ?? detectLibc()) : undefined
  const name = platformName(platform, arch, abi)
  const machine = `${platform} ${arch}${onLinux ? ` (${abi === 'musl' ? 'musl' : 'glibc'})` : ''}`
  const attempts = loadAttempts(cause)
  const why = reasons(attempts)
  const tried = why.length > 0 ? ` (${why.join('; ')})` : ''
  const build = `build from source with Rust (https://rustup.rs): \`npm run build\` in a checkout of ${REPOSITORY}.`
  const message = SUPPORTED_PLATFORMS.includes(name)
    ? `${PACKAGE}: no native binary could be loaded for this machine: ${machine}. It ships in the optional ` +
      `dependency ${PACKAGE}-${name}, which is not installed or failed to load${tried}. To fix it, reinstall ` +
      'without --no-optional / --omit=optional (when package-lock.json was made on another platform, remove ' +
      'node_modules and package-lock.json, then `npm install` again: https://github.com/npm/cli/issues/4828), ' +
      `or ${build}`
    : `${PACKAGE}: no prebuilt native binary exists for this machine: ${machine} (${name})${tried}. Prebuilt ` +
      `binaries: ${SUPPORTED_PLATFORMS.join(', ')}. To use it here, ${build}`
  const error = new Error(message)
  if (cause != null && typeof cause === 'object') {
    // napi's error without its chain (moved to loadErrors) and without its stack, which points
    // into napi's generated loader and would repeat the message's news.
    delete cause.cause
    cause.stack = `${cause.name ?? 'Error'}: ${cause.message}`
  }
  error.cause = cause
  Object.defineProperty(error, 'loadErrors', { value: attempts, enumerable: false })
  return error
}

/** The native module's exports (napi's generated loader); throws `bindingError` when none fits. */
function loadNative() {
  try {
    return require('../native.js')
  } catch (cause) {
    throw bindingError(cause)
  }
}

module.exports = { loadNative, bindingError, platformName, detectLibc, SUPPORTED_PLATFORMS }
