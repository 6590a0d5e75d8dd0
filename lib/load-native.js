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

// The first line of each load attempt napi recorded (its cause chain runs newest first).
function attempts(cause) {
  const lines = []
  for (let error = cause?.cause; error != null && lines.length < 8; error = error.cause) {
    lines.push(`  - ${String(error.message).split('\n')[0]}`)
  }
  return lines.reverse()
}

/** The error thrown when no native binary loads; `cause` is napi's own load error. */
function bindingError(cause, { platform = process.platform, arch = process.arch, libc } = {}) {
  const onLinux = platform === 'linux'
  const abi = onLinux ? (libc ?? detectLibc()) : undefined
  const name = platformName(platform, arch, abi)
  const machine = `${platform} ${arch}${onLinux ? ` (${abi === 'musl' ? 'musl' : 'glibc'})` : ''}`
  const lines = []
  if (SUPPORTED_PLATFORMS.includes(name)) {
    lines.push(
      `${PACKAGE}: no native binary could be loaded for this machine: ${machine}.`,
      `It ships in the optional dependency ${PACKAGE}-${name}, which is not installed or failed to load.`,
      'To fix it, either:',
      '  - reinstall without --no-optional / --omit=optional (npm can also drop optional dependencies when',
      '    package-lock.json was made on another platform: remove node_modules and package-lock.json, then',
      '    `npm install` again, https://github.com/npm/cli/issues/4828), or',
      `  - build from source with Rust (https://rustup.rs): in a checkout of ${REPOSITORY}, \`npm run build\`.`,
    )
  } else {
    lines.push(
      `${PACKAGE}: no prebuilt native binary exists for this machine: ${machine} (${name}).`,
      `Prebuilt binaries: ${SUPPORTED_PLATFORMS.join(', ')}.`,
      `Build from source with Rust (https://rustup.rs): in a checkout of ${REPOSITORY}, \`npm run build\`.`,
    )
  }
  const tried = attempts(cause)
  if (tried.length > 0) lines.push('Load attempts:', ...tried)
  const error = new Error(lines.join('\n'))
  error.cause = cause
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
