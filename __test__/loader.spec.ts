// Loading the native binary: the error when none fits names the platform, the package that would
// provide it and the fix. The failure is real: napi's generated loader (native.js) loads only
// NAPI_RS_NATIVE_LIBRARY_PATH when that variable is set, so pointing it nowhere makes every load fail.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const { bindingError, platformName, detectLibc, SUPPORTED_PLATFORMS } = require('../lib/load-native.js')
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const host: string = platformName(
  process.platform,
  process.arch,
  process.platform === 'linux' ? detectLibc() : undefined,
)
const hostBinary = path.join(root, `${manifest.napi.binaryName}.${host}.node`)
const missing = path.join(root, 'target', 'no-such-dir', 'missing.node')

const report = `(error) => { console.log(JSON.stringify({ message: error.message, cause: error.cause && error.cause.message })); process.exit(3) }`

/** Loads the package (by its name, through `exports`) in a fresh node with `env` added. */
function load(kind: 'require' | 'import', env: Record<string, string>) {
  const name = JSON.stringify(manifest.name)
  // ESM: a plain try/catch around a top-level `await import()`, as an app that falls back would write it.
  const args =
    kind === 'require'
      ? [
          '-e',
          `try { const api = require(${name}); console.log(JSON.stringify({ loaded: typeof api.PostgresStorageAdapter })) } catch (error) { (${report})(error) }`,
        ]
      : [
          '--input-type=module',
          '-e',
          `try { const api = await import(${name}); console.log(JSON.stringify({ loaded: typeof api.PostgresStorageAdapter })) } catch (error) { (${report})(error) }`,
        ]
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  })
  return { status: result.status, stderr: result.stderr, output: result.stdout ? JSON.parse(result.stdout) : null }
}

it.each(['require', 'import'] as const)(
  '%s: with no loadable binary, the error names platform, package and fix',
  (kind) => {
    const result = load(kind, { NAPI_RS_NATIVE_LIBRARY_PATH: missing })
    expect(result.status).toBe(3)
    const { message, cause } = result.output
    const libc = process.platform === 'linux' ? ` (${detectLibc() === 'musl' ? 'musl' : 'glibc'})` : ''
    expect(message).toContain(
      `no native binary could be loaded for this machine: ${process.platform} ${process.arch}${libc}.`,
    )
    expect(message).toContain(`optional dependency ${manifest.name}-${host}`)
    expect(message).toContain('reinstall without --no-optional / --omit=optional')
    expect(message).toContain('`npm run build`')
    expect(message).toContain(`Cannot find module '${missing}'`)
    expect(message).not.toContain('\n')
    expect(cause).toMatch(/^Cannot find native binding/)
  },
)

it.each(['require', 'import'] as const)(
  "%s: uncaught, the error prints as one short paragraph, not napi's nested chain",
  (kind) => {
    const name = JSON.stringify(manifest.name)
    const args =
      kind === 'require' ? ['-e', `require(${name})`] : ['--input-type=module', '-e', `await import(${name})`]
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: missing },
    })
    expect(result.status).toBe(1)
    const lines = result.stderr.trimEnd().split('\n')
    // The message line, ten stack frames, the one-line cause, and node's framing.
    expect(lines.length).toBeLessThanOrEqual(20)
    const message = lines.find((line) => line.startsWith('Error: '))
    expect(message).toContain('no native binary could be loaded for this machine')
    expect(message).toContain('`npm run build`')
    expect(result.stderr).not.toContain('Require stack')
    expect(result.stderr).not.toContain('wasi')
  },
)

it('the same variable pointing at the built binary loads it (the mechanism above is real)', () => {
  expect(load('require', { NAPI_RS_NATIVE_LIBRARY_PATH: hostBinary })).toEqual({
    status: 0,
    stderr: '',
    output: { loaded: 'function' },
  })
})

it("keeps napi's error as the cause, its attempts (oldest first) as loadErrors, a failed load first in the message", () => {
  const notFound = new Error("Cannot find module './postgres-storage.darwin-arm64.node'\nRequire stack:\n- x")
  const glibc = new Error("/lib/libc.so.6: version `GLIBC_2.34' not found (required by /app/x.node)")
  const wasi = new Error("Cannot find module '@smalltalk-ai/postgres-storage-wasm32-wasi'")
  const chain = Object.assign(new Error('Cannot find native binding.'), {
    cause: Object.assign(wasi, { cause: Object.assign(glibc, { cause: notFound }) }),
  })
  const error = bindingError(chain, { platform: 'darwin', arch: 'arm64' })
  expect(error.cause).toBe(chain)
  expect(chain.cause).toBeUndefined()
  expect(error.loadErrors).toEqual([notFound, glibc, wasi])
  expect(Object.keys(error)).not.toContain('loadErrors')
  expect(error.message).toContain('this machine: darwin arm64.')
  expect(error.message).toContain('@smalltalk-ai/postgres-storage-darwin-arm64')
  expect(error.message).toContain(
    "failed to load (/lib/libc.so.6: version `GLIBC_2.34' not found (required by /app/x.node); Cannot find module './postgres-storage.darwin-arm64.node').",
  )
  expect(error.message).not.toContain('wasi')
  expect(error.message).not.toContain('\n')
  expect(error.message.length).toBeLessThan(800)
})

it('on a platform with no prebuilt binary, says so and lists those that exist', () => {
  const error = bindingError(new Error('Cannot find native binding.'), { platform: 'freebsd', arch: 'x64' })
  expect(error.message).toContain('no prebuilt native binary exists for this machine: freebsd x64 (freebsd-x64).')
  expect(error.message).toContain(SUPPORTED_PLATFORMS.join(', '))
  expect(error.message).toContain('`npm run build`')
  const musl = bindingError(new Error('x'), { platform: 'linux', arch: 'arm64', libc: 'musl' })
  expect(musl.message).toContain('linux arm64 (musl)')
  expect(musl.message).toContain('@smalltalk-ai/postgres-storage-linux-arm64-musl')
})

it('names the same platforms as package.json napi.targets and the generated npm/ packages', () => {
  const abi = (triple: string) => {
    const [arch, , os, env] = triple.split('-')
    const nodeArch = arch === 'x86_64' ? 'x64' : arch === 'aarch64' ? 'arm64' : arch
    if (os === 'linux') return platformName('linux', nodeArch, env)
    return platformName(os === 'darwin' ? 'darwin' : 'win32', nodeArch)
  }
  expect(manifest.napi.targets.map(abi)).toEqual(SUPPORTED_PLATFORMS)
  expect(fs.readdirSync(path.join(root, 'npm')).sort()).toEqual([...SUPPORTED_PLATFORMS].sort())
  for (const platform of SUPPORTED_PLATFORMS) {
    const generated = JSON.parse(fs.readFileSync(path.join(root, 'npm', platform, 'package.json'), 'utf8'))
    expect([generated.name, generated.version, generated.main]).toEqual([
      `${manifest.name}-${platform}`,
      manifest.version,
      `${manifest.napi.binaryName}.${platform}.node`,
    ])
  }
})
