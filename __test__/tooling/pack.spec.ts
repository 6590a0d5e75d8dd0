// The package as a user gets it: `npm pack` of the main package (with the optionalDependencies
// that `napi prepublish` adds at release) and of this machine's platform package (the napi
// `npm/<platform>` directory plus the freshly built binary, as `napi artifacts` arranges it),
// installed into an empty project whose PATH has no Rust toolchain. There it is required,
// imported, used against the test database, and type-checked with tsc --strict as SmallTalk uses it;
// then prom-client (an optional peer dependency, not installed with it) is added and the Prometheus
// entry is required, imported, scraped and type-checked the same way.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MAIN_PACKAGE_FILES } from '../../scripts/lib/package-files.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
const { platformName, detectLibc } = require('../../lib/load-native.js')
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const name: string = manifest.name
const host: string = platformName(
  process.platform,
  process.arch,
  process.platform === 'linux' ? detectLibc() : undefined,
)
const platformPackage = `${name}-${host}`
const promClient = `prom-client@${JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'prom-client', 'package.json'), 'utf8')).version}`
const binary = `${manifest.napi.binaryName}.${host}.node`

const SHIPPED = MAIN_PACKAGE_FILES

// --- a child environment without cargo or rustc -------------------------------------------------

const windows = process.platform === 'win32'
const RUST_TOOLS = ['cargo', 'rustc', 'rustup']

function hasRustTool(dir: string): boolean {
  return RUST_TOOLS.some((tool) =>
    [tool, `${tool}.exe`, `${tool}.cmd`].some((file) => fs.existsSync(path.join(dir, file))),
  )
}

const pathKey = Object.keys(process.env).find((key) => key.toUpperCase() === 'PATH') ?? 'PATH'
const removedDirs: string[] = []
const keptDirs = (process.env[pathKey] ?? '').split(path.delimiter).filter((dir) => {
  const drop = dir !== '' && (hasRustTool(dir) || /[\\/]\.(cargo|rustup)([\\/]|$)/.test(dir))
  if (drop) removedDirs.push(dir)
  return dir !== '' && !drop
})
// npm's own lifecycle variables would point the nested npm at this checkout; network settings stay.
const KEPT_NPM = /^npm_config_(registry|userconfig|cache|proxy|https_proxy|noproxy|cafile|strict_ssl)$/
const childEnv: Record<string, string> = {}
for (const [key, value] of Object.entries(process.env)) {
  if (value === undefined || key.toUpperCase() === 'PATH' || key === 'INIT_CWD') continue
  if (key.startsWith('npm_') && !KEPT_NPM.test(key)) continue
  childEnv[key] = value
}
childEnv.PATH = [path.dirname(process.execPath), ...keptDirs].join(path.delimiter)

// npm by its CLI script, so no shell or .cmd shim is involved on any platform.
function npmCli(): string {
  const candidates = [
    process.env.npm_execpath,
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ]
  const found = candidates.find((file) => file && /npm-cli\.js$/.test(file) && fs.existsSync(file))
  if (!found) throw new Error(`npm-cli.js not found (tried ${candidates.filter(Boolean).join(', ')})`)
  return found
}

function run(file: string, args: string[], cwd: string, timeout = 80_000): SpawnSyncReturns<string> {
  return spawnSync(file, args, { cwd, env: childEnv, encoding: 'utf8', timeout })
}

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  return run(process.execPath, [npmCli(), ...args], cwd, 120_000)
}

function node(args: string[], cwd: string): SpawnSyncReturns<string> {
  return run(process.execPath, args, cwd)
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  if (result.error || result.status !== 0) {
    throw new Error(
      `${what} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`,
    )
  }
  return result.stdout
}

/** `npm pack` of a directory into `destination`; the tarball's path and its file list. */
function pack(dir: string, destination: string): { tarball: string; files: string[] } {
  const [report] = JSON.parse(ok(npm(['pack', '--json', '--pack-destination', destination], dir), `npm pack ${dir}`))
  return {
    tarball: path.join(destination, report.filename),
    files: report.files.map((file: { path: string }) => file.path).sort(),
  }
}

// --- the scripts run inside the installed project -------------------------------------------------

const connection = `{
  host: process.env.POSTGRES_HOST ?? 'localhost',
  port: Number(process.env.POSTGRES_PORT ?? 5432),
  database: process.env.POSTGRES_DB ?? 'smalltalk_test',
  user: process.env.POSTGRES_USER ?? 'postgres',
  password: process.env.POSTGRES_PASSWORD ?? 'postgres',
  poolSize: 2,
}`
const sessionId = `pack-test-${process.pid}-${Date.now()}`
const makeSession = `(version) => ({
  id: ${JSON.stringify(sessionId)}, createdAt: new Date('2026-01-02T03:04:05.006Z'),
  updatedAt: new Date('2026-01-02T03:04:05.006Z'), expiresAt: new Date('2026-01-03T03:04:05.006Z'),
  state: 'active', agentIds: ['agent-a'], agentStates: {}, conversationHistory: [],
  sharedContext: { from: 'pack test' }, metadata: { tags: ['pack'] }, version,
})`

const CJS_CHECK = `'use strict'
const api = require(${JSON.stringify(name)})
const makeSession = ${makeSession}
;(async () => {
  const adapter = new api.PostgresStorageAdapter(${connection})
  await adapter.initialize()
  await adapter.saveSession(makeSession(1))
  const read = await adapter.getSession(${JSON.stringify(sessionId)})
  await adapter.close()
  console.log(JSON.stringify({
    exports: Object.keys(api).sort(),
    entry: require.resolve(${JSON.stringify(name)}),
    binding: require.resolve(${JSON.stringify(platformPackage)}),
    read: { id: read.id, version: read.version, sharedContext: read.sharedContext, updatedAtIsDate: read.updatedAt instanceof Date },
  }))
})().catch((error) => { console.error(error); process.exit(1) })
`

const ESM_CHECK = `import * as api from ${JSON.stringify(name)}
import { PostgresStorageAdapter, ConflictError, StorageError } from ${JSON.stringify(name)}
const makeSession = ${makeSession}
const adapter = new PostgresStorageAdapter(${connection})
await adapter.initialize()
const read = await adapter.getSession(${JSON.stringify(sessionId)})
let conflict = null
try {
  await adapter.saveSession(makeSession(1))
} catch (error) {
  conflict = { isConflict: error instanceof ConflictError, isStorage: error instanceof StorageError, code: error.code, versions: error.conflictingVersions }
}
await adapter.saveSession(makeSession(2))
const saved = await adapter.getSession(${JSON.stringify(sessionId)})
const deleted = await adapter.deleteSession(${JSON.stringify(sessionId)})
await adapter.close()
console.log(JSON.stringify({
  exports: Object.keys(api).filter((key) => key !== 'default').sort(),
  entry: import.meta.resolve ? String(import.meta.resolve(${JSON.stringify(name)})) : null,
  read: { id: read.id, version: read.version, createdAtIsDate: read.createdAt instanceof Date },
  conflict, savedVersion: saved.version, deleted,
}))
`

// The Prometheus entry from CommonJS and ESM: the same function, and a scrape after one call.
const PROMETHEUS_CHECK = (flavour: 'cjs' | 'esm') => `${
  flavour === 'cjs'
    ? `const { PostgresStorageAdapter } = require(${JSON.stringify(name)})
const prometheus = require(${JSON.stringify(`${name}/prometheus`)})
const { Registry } = require('prom-client')
;(async () => {`
    : `import { PostgresStorageAdapter } from ${JSON.stringify(name)}
import * as prometheus from ${JSON.stringify(`${name}/prometheus`)}
import { Registry } from 'prom-client'
{`
}
  const registry = new Registry()
  const adapter = new PostgresStorageAdapter(${connection})
  const stop = prometheus.collectMetrics(adapter, { register: registry })
  await adapter.initialize()
  await adapter.getSession(${JSON.stringify(sessionId)})
  const text = await registry.metrics()
  stop()
  await adapter.close()
  console.log(JSON.stringify({
    exports: Object.keys(prometheus).filter((key) => key !== 'default').sort(),
    lines: text.split('\\n').filter((line) => line.includes('operation="getSession"') && !line.includes('_sum')),
  }))
}${flavour === 'cjs' ? ')().catch((error) => { console.error(error); process.exit(1) })' : ''}
`

// keyv is an optional peer dependency, so npm installs none: the main entry must load and work
// without it, and load nothing of it; the Keyv store needs none either (Keyv hands it text).
const valueKey = `pack-test-kv-${process.pid}-${Date.now()}`
const KEYV_ABSENT_CHECK = `'use strict'
const path = require('node:path')
const name = ${JSON.stringify(name)}
const keyvModules = () => Object.keys(require.cache).filter((file) => file.includes(path.join('node_modules', 'keyv') + path.sep))
;(async () => {
  let keyvResolves = true
  try { require.resolve('keyv') } catch { keyvResolves = false }
  const api = require(name)
  const adapter = new api.PostgresStorageAdapter(${connection})
  await adapter.initialize()
  await adapter.setValue(${JSON.stringify(valueKey)}, { from: 'the main entry' })
  const mainValue = await adapter.getValue(${JSON.stringify(valueKey)})
  await adapter.deleteValue(${JSON.stringify(valueKey)})
  await adapter.close()
  const loadedByMain = keyvModules()
  const { KeyvPostgresStore } = require(name + '/keyv')
  const store = new KeyvPostgresStore(${connection})
  await store.set(${JSON.stringify(`keyv:${valueKey}`)}, '{"value":"from the store"}', 60000)
  const storeValue = await store.get(${JSON.stringify(`keyv:${valueKey}`)})
  const deleted = await store.delete(${JSON.stringify(`keyv:${valueKey}`)})
  await store.disconnect()
  const imported = await import(name + '/keyv')
  console.log(JSON.stringify({
    keyvResolves, mainValue, loadedByMain, storeValue, deleted, loadedInAll: keyvModules(),
    storeEntry: require.resolve(name + '/keyv'), importedExports: Object.keys(imported).filter((key) => key !== 'default'),
  }))
})().catch((error) => { console.error(error); process.exit(1) })
`

// SmallTalk's side of the contract: its own error classes (as in its persistence/errors.ts), the
// adapter behind its StorageAdapter interface, and the calls its SessionManager makes.
const USAGE_TS = `import {
  PostgresStorageAdapter,
  ConflictError,
  StorageError,
  ValidationError,
  NotFoundError,
  type ErrorCode,
  type PostgresConfig,
  type Session,
  type SessionSummary,
  type StorageAdapterConfig,
  type StorageStats,
} from ${JSON.stringify(name)}
import { collectMetrics, type CollectMetricsOptions } from ${JSON.stringify(`${name}/prometheus`)}
import { Registry } from 'prom-client'

class AppStorageError extends Error {
  constructor(message: string, public readonly cause?: Error) {
    super(message)
    this.name = 'StorageError'
  }
}
class AppConflictError extends AppStorageError {
  constructor(message: string, public readonly conflictingVersions?: number[]) {
    super(message)
    this.name = 'ConflictError'
  }
}
class AppValidationError extends AppStorageError {
  constructor(message: string, public readonly invalidFields?: string[]) {
    super(message)
    this.name = 'ValidationError'
  }
}
class AppNotFoundError extends AppStorageError {
  constructor(resource: string, id: string) {
    super(\`\${resource} not found: \${id}\`)
    this.name = 'NotFoundError'
  }
}

interface StorageAdapter {
  initialize(config?: StorageAdapterConfig): Promise<void>
  close(): Promise<void>
  saveSession(session: Session): Promise<void>
  getSession(sessionId: string): Promise<Session | null>
  listSessions(state?: Session['state'], limit?: number, offset?: number): Promise<SessionSummary[]>
  getStats(): Promise<StorageStats>
}

const config: PostgresConfig = {
  host: process.env.POSTGRES_HOST ?? 'localhost',
  port: Number(process.env.POSTGRES_PORT ?? 5432),
  database: process.env.POSTGRES_DB ?? 'smalltalk',
  user: process.env.POSTGRES_USER ?? 'postgres',
  password: process.env.POSTGRES_PASSWORD ?? 'postgres',
  poolSize: 10,
  ssl: process.env.POSTGRES_SSL === 'true' ? { rejectUnauthorized: true } : false,
}

export async function sessionManagerFlow(session: Session): Promise<number> {
  const adapter: StorageAdapter = new PostgresStorageAdapter({
    ...config,
    errorClasses: {
      StorageError: AppStorageError,
      ConflictError: AppConflictError,
      ValidationError: AppValidationError,
      NotFoundError: AppNotFoundError,
    },
  })
  await adapter.initialize({ location: './data/sessions', options: { poolSize: 5 } })
  try {
    await adapter.saveSession({ ...session, version: session.version + 1, updatedAt: new Date() })
  } catch (error) {
    if (error instanceof AppConflictError) return error.conflictingVersions?.[1] ?? -1
    throw error
  }
  const loaded: Session | null = await adapter.getSession(session.id)
  const turns: number = loaded?.conversationHistory.length ?? 0
  const active: SessionSummary[] = await adapter.listSessions('active', 20, 0)
  const newest: Date | undefined = active[0]?.updatedAt
  const stats: StorageStats = await adapter.getStats()
  await adapter.close()
  return turns + stats.totalSessions + stats.metrics.pool.maxSize + (newest?.getTime() ?? 0)
}

export async function packageErrors(session: Session): Promise<string> {
  const adapter = new PostgresStorageAdapter(config)
  await adapter.initialize()
  try {
    await adapter.saveSession(session)
    return 'saved'
  } catch (error) {
    if (error instanceof ConflictError) return \`conflict \${error.conflictingVersions?.join('/')}\`
    if (error instanceof ValidationError) return \`invalid \${error.invalidFields?.join(',')}\`
    if (error instanceof NotFoundError) return \`\${error.resource} \${error.id} missing\`
    if (error instanceof StorageError) {
      const code: ErrorCode | undefined = error.code
      return \`storage \${code} \${error.sqlstate ?? ''}\`
    }
    throw error
  } finally {
    await adapter.close()
  }
}

export function prometheusMetrics(adapter: PostgresStorageAdapter): () => void {
  const options: CollectMetricsOptions = { register: new Registry(), adapter: 'sessions', results: { ok: 'success' } }
  return collectMetrics(adapter, options)
}

// The declarations are really checked, not \`any\`: each line below must be a type error.
// @ts-expect-error session ids are strings
void new PostgresStorageAdapter().getSession(42)
// @ts-expect-error sslMode is one of libpq's modes
void new PostgresStorageAdapter({ sslMode: 'sometimes' })
// @ts-expect-error getSession resolves to Session | null, which must be narrowed
void new PostgresStorageAdapter().getSession('x').then((found) => found.id)
// @ts-expect-error the results are ok, conflict and error
void collectMetrics(new PostgresStorageAdapter(), { results: { success: 'ok' } })
// @ts-expect-error collectMetrics takes this package's adapter
void collectMetrics({}, {})
`

// node16/nodenext check the .mts file against the import types and the .cts one against the
// require types; bundler resolution (ESM only) goes through the import condition. One run also
// checks the declaration files themselves (skipLibCheck off: slow, as it checks @types/node too).
const RESOLUTIONS = {
  nodenext: { module: 'nodenext', files: ['usage.mts', 'usage.cts'], skipLibCheck: false },
  node16: { module: 'node16', files: ['usage.mts', 'usage.cts'], skipLibCheck: true },
  bundler: { module: 'esnext', files: ['usage.mts'], skipLibCheck: true },
} as const
type Resolution = keyof typeof RESOLUTIONS

// SmallTalk's side as __test__/smalltalk declares it (its string-enum SessionState, Session,
// StorageAdapter, errors, SessionManager, contract suite and type tests), with its import of the
// adapter swapped for this package, type-checked against the installed package: as ES modules (a
// "type": "module" directory, as SmallTalk is) and, under nodenext, as CommonJS too. The specs stay
// home (they need this checkout's helpers and pg); swap.ts is postgres.spec.ts's contract line.
const FIXTURE = path.join(root, '__test__', 'smalltalk')
const FIXTURE_FILES = fs.readdirSync(FIXTURE).filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
const FIXTURE_SWAP = `import { PostgresStorageAdapter } from ${JSON.stringify(name)}
import { postgresConnection } from './connection.js'
import { runStorageAdapterContractTests } from './contract.js'

runStorageAdapterContractTests(() => new PostgresStorageAdapter(postgresConnection()))
`
const FIXTURE_DIRS = { 'smalltalk-esm': 'module', 'smalltalk-cjs': 'commonjs' } as const
const FIXTURE_RESOLUTIONS = {
  nodenext: { module: 'nodenext', dirs: ['smalltalk-esm', 'smalltalk-cjs'] },
  bundler: { module: 'esnext', dirs: ['smalltalk-esm'] },
} as const
type FixtureResolution = keyof typeof FIXTURE_RESOLUTIONS

const fixtureTsconfig = (resolution: FixtureResolution) => ({
  compilerOptions: {
    strict: true,
    noEmit: true,
    module: FIXTURE_RESOLUTIONS[resolution].module,
    moduleResolution: resolution,
    target: 'ES2022',
    skipLibCheck: true,
    types: ['node', 'jest'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
  },
  include: FIXTURE_RESOLUTIONS[resolution].dirs.map((dir) => `${dir}/*.ts`),
})

const tsconfig = (resolution: Resolution) => ({
  compilerOptions: {
    strict: true,
    noEmit: true,
    module: RESOLUTIONS[resolution].module,
    moduleResolution: resolution,
    target: 'ES2022',
    skipLibCheck: RESOLUTIONS[resolution].skipLibCheck,
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
  },
  files: RESOLUTIONS[resolution].files,
})

// --- the test ------------------------------------------------------------------------------------

let work: string
let app: string
let mainPack: { tarball: string; files: string[] }
let platformPack: { tarball: string; files: string[] }
let promClientInstalledWithPackage: boolean

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-pack-'))

  // The main package as `napi prepublish` leaves it before `npm publish`: this checkout's files
  // (by `files`) and the platform packages of npm/ added to optionalDependencies.
  const listed = JSON.parse(ok(npm(['pack', '--dry-run', '--json'], root), 'npm pack --dry-run'))[0]
  const stage = path.join(work, 'stage')
  for (const { path: file } of listed.files as { path: string }[]) {
    fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true })
    fs.copyFileSync(path.join(root, file), path.join(stage, file))
  }
  const optionalDependencies: Record<string, string> = {}
  for (const dir of fs.readdirSync(path.join(root, 'npm')).sort()) {
    const platform = JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8'))
    optionalDependencies[platform.name] = platform.version
  }
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ ...manifest, optionalDependencies }, null, 2))
  mainPack = pack(stage, work)

  // This machine's platform package: its npm/ directory with the built binary moved in.
  const platformDir = path.join(work, 'platform', host)
  fs.cpSync(path.join(root, 'npm', host), platformDir, { recursive: true })
  fs.copyFileSync(path.join(root, binary), path.join(platformDir, binary))
  platformPack = pack(platformDir, work)

  app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'pack-test-app', version: '1.0.0', private: true }),
  )
  ok(npm(['install', mainPack.tarball, platformPack.tarball, '--no-audit', '--no-fund'], app), 'npm install')
  // prom-client is an optional peer dependency: installing the package brings none.
  promClientInstalledWithPackage = fs.existsSync(path.join(app, 'node_modules', 'prom-client'))
  ok(node(['-e', `require(${JSON.stringify(name)})`], app), 'require without prom-client')
  ok(npm(['install', promClient, '--no-audit', '--no-fund'], app), `npm install ${promClient}`)
  fs.writeFileSync(path.join(app, 'check.cjs'), CJS_CHECK)
  fs.writeFileSync(path.join(app, 'check.mjs'), ESM_CHECK)
  fs.writeFileSync(path.join(app, 'prometheus.cjs'), PROMETHEUS_CHECK('cjs'))
  fs.writeFileSync(path.join(app, 'prometheus.mjs'), PROMETHEUS_CHECK('esm'))
  fs.writeFileSync(path.join(app, 'keyv-absent.cjs'), KEYV_ABSENT_CHECK)
  fs.writeFileSync(path.join(app, 'usage.mts'), USAGE_TS)
  fs.writeFileSync(path.join(app, 'usage.cts'), USAGE_TS)
  for (const resolution of Object.keys(RESOLUTIONS) as Resolution[]) {
    fs.writeFileSync(path.join(app, `tsconfig.${resolution}.json`), JSON.stringify(tsconfig(resolution), null, 2))
  }
  for (const [dir, type] of Object.entries(FIXTURE_DIRS)) {
    fs.mkdirSync(path.join(app, dir))
    fs.writeFileSync(path.join(app, dir, 'package.json'), JSON.stringify({ type }))
    for (const file of FIXTURE_FILES) fs.copyFileSync(path.join(FIXTURE, file), path.join(app, dir, file))
    fs.writeFileSync(path.join(app, dir, 'swap.ts'), FIXTURE_SWAP)
  }
  for (const resolution of Object.keys(FIXTURE_RESOLUTIONS) as FixtureResolution[]) {
    const file = `tsconfig.smalltalk-${resolution}.json`
    fs.writeFileSync(path.join(app, file), JSON.stringify(fixtureTsconfig(resolution), null, 2))
  }
}, 180_000)

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

it('the main package ships only the JS face, its types, the generated loader and the docs', () => {
  expect(mainPack.files).toEqual(SHIPPED)
  expect(manifest.optionalDependencies).toBeUndefined() // napi prepublish writes them at release
})

it('the platform package ships the binary for this machine, and npm/ has a package per napi target', () => {
  expect(platformPack.files.sort()).toEqual([binary, 'README.md', 'package.json'].sort())
  expect(fs.readdirSync(path.join(root, 'npm')).length).toBe(manifest.napi.targets.length)
})

it('the child processes run with no cargo or rustc on PATH', () => {
  expect(childEnv.PATH.split(path.delimiter).filter(hasRustTool)).toEqual([])
  for (const tool of RUST_TOOLS) {
    const probe = spawnSync(tool, ['--version'], { env: childEnv, encoding: 'utf8' })
    expect({ tool, code: (probe.error as NodeJS.ErrnoException | undefined)?.code }).toEqual({ tool, code: 'ENOENT' })
  }
  // This machine builds with Rust, so there was something to remove; elsewhere there may not be.
  const cargoHere = spawnSync('cargo', ['--version'], { encoding: 'utf8', shell: windows })
  if (cargoHere.status === 0) expect(removedDirs.length).toBeGreaterThan(0)
})

it('installs without building: the binary comes from the platform package, none from the main one', () => {
  const installed = path.join(app, 'node_modules', ...name.split('/'))
  const shipped = fs.readdirSync(installed, { recursive: true }) as string[]
  expect(shipped.filter((file) => file.endsWith('.node'))).toEqual([])
  expect(fs.existsSync(path.join(app, 'node_modules', ...platformPackage.split('/'), binary))).toBe(true)
  expect(fs.existsSync(path.join(app, 'target'))).toBe(false)
})

/** What both entry points export, sorted. */
const PUBLIC_EXPORTS = [
  'ConflictError',
  'NotFoundError',
  'PostgresStorageAdapter',
  'StorageError',
  'ValidationError',
  'deserializeSession',
  'serializeSession',
]

it('require() works in the installed project and saves and reads a session', () => {
  const output = JSON.parse(ok(node(['check.cjs'], app), 'node check.cjs'))
  expect(output.exports).toEqual(PUBLIC_EXPORTS)
  expect(output.entry).toBe(path.join(fs.realpathSync(app), 'node_modules', ...name.split('/'), 'index.js'))
  expect(path.basename(output.binding)).toBe(binary)
  expect(output.read).toEqual({
    id: sessionId,
    version: 1,
    sharedContext: { from: 'pack test' },
    updatedAtIsDate: true,
  })
})

it('import works in the installed project: same exports, reads that session, conflicts, saves, deletes', () => {
  const output = JSON.parse(ok(node(['check.mjs'], app), 'node check.mjs'))
  expect(output.exports).toEqual(PUBLIC_EXPORTS)
  if (output.entry !== null) expect(output.entry).toMatch(/\/index\.mjs$/)
  expect(output.read).toEqual({ id: sessionId, version: 1, createdAtIsDate: true })
  expect(output.conflict).toEqual({ isConflict: true, isStorage: true, code: 'E_CONFLICT', versions: [1, 1] })
  expect(output.savedVersion).toBe(2)
  expect(output.deleted).toBe(true)
})

it('prom-client is an optional peer dependency: installing the package installs none, and loading needs none', () => {
  expect(manifest.peerDependencies).toMatchObject({ 'prom-client': '^15.1.3' })
  expect(manifest.peerDependenciesMeta).toMatchObject({ 'prom-client': { optional: true } })
  expect(promClientInstalledWithPackage).toBe(false)
})

it.each(['cjs', 'mjs'])(
  'the Prometheus entry works in the installed project (%s): collectMetrics, and a scrape with the adapter',
  (extension) => {
    const output = JSON.parse(ok(node([`prometheus.${extension}`], app), `node prometheus.${extension}`))
    expect(output.exports).toEqual(['collectMetrics'])
    expect(output.lines).toEqual([
      ...['0.001', '0.01', '0.05', '0.1', '0.5', '1', '5', '+Inf'].map((le) =>
        expect.stringMatching(
          new RegExp(
            `^storage_operations_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",operation="getSession",result="ok",adapter="postgres"\\} [01]$`,
          ),
        ),
      ),
      'storage_operations_duration_seconds_count{operation="getSession",result="ok",adapter="postgres"} 1',
      'postgres_storage_operations_total{operation="getSession",result="ok",adapter="postgres"} 1',
      'postgres_storage_conflicts_total{operation="getSession",adapter="postgres"} 0',
    ])
  },
)

it('installs no keyv (an optional peer): the main entry loads and works without it, and so does the Keyv store', () => {
  expect(manifest.peerDependencies).toMatchObject({ keyv: expect.any(String) })
  expect(manifest.peerDependenciesMeta).toMatchObject({ keyv: { optional: true } })
  expect(fs.existsSync(path.join(app, 'node_modules', 'keyv'))).toBe(false)
  const output = JSON.parse(ok(node(['keyv-absent.cjs'], app), 'node keyv-absent.cjs'))
  // Nothing named keyv resolves from the project, so a require of it anywhere would have thrown.
  expect(output.keyvResolves).toBe(false)
  expect(output.mainValue).toEqual({ from: 'the main entry' })
  expect(output.loadedByMain).toEqual([])
  expect(output.storeValue).toBe('{"value":"from the store"}')
  expect(output.deleted).toBe(true)
  expect(output.loadedInAll).toEqual([])
  expect(output.storeEntry).toBe(path.join(fs.realpathSync(app), 'node_modules', ...name.split('/'), 'keyv.js'))
  expect(output.importedExports).toEqual(['KeyvPostgresStore'])
})

it.each(Object.keys(RESOLUTIONS))(
  'tsc --strict type-checks SmallTalk-style usage (moduleResolution %s)',
  (resolution) => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = node([tsc, '-p', `tsconfig.${resolution}.json`], app)
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  },
  90_000,
)

it.each(Object.keys(FIXTURE_RESOLUTIONS))(
  'tsc --strict type-checks the SmallTalk fixture against the installed package (moduleResolution %s)',
  (resolution) => {
    expect(FIXTURE_FILES).toEqual(
      expect.arrayContaining(['assignability.ts', 'contract.ts', 'SessionManager.ts', 'types.ts']),
    )
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = node([tsc, '-p', `tsconfig.smalltalk-${resolution}.json`, '--listFilesOnly'], app)
    const checked = result.stdout.split(/\r?\n/).filter((file) => /smalltalk-(esm|cjs)[\\/]/.test(file))
    expect(checked).toHaveLength(
      FIXTURE_RESOLUTIONS[resolution as FixtureResolution].dirs.length * (FIXTURE_FILES.length + 1),
    )
    expect(result.stdout).toMatch(/postgres-storage[\\/]index\.d\.mts/)
    const typed = node([tsc, '-p', `tsconfig.smalltalk-${resolution}.json`], app)
    expect(typed.stdout + typed.stderr).toBe('')
    expect(typed.status).toBe(0)
  },
  90_000,
)

it('without the platform package, require and import fail naming the platform, the package and the fix', () => {
  const installed = path.join(app, 'node_modules', ...platformPackage.split('/'))
  const aside = path.join(work, 'platform-package-aside')
  fs.renameSync(installed, aside)
  try {
    const report = `(error) => { console.log(JSON.stringify({ message: error.message, cause: error.cause?.message })); process.exit(3) }`
    const required = node(['-e', `try { require(${JSON.stringify(name)}) } catch (error) { (${report})(error) }`], app)
    const imported = node(['--input-type=module', '-e', `import(${JSON.stringify(name)}).catch(${report})`], app)
    for (const result of [required, imported]) {
      expect(result.status).toBe(3)
      const { message, cause } = JSON.parse(result.stdout)
      expect(message).toContain(
        `no native binary could be loaded for this machine: ${process.platform} ${process.arch}`,
      )
      expect(message).toContain(platformPackage)
      expect(message).toContain('--omit=optional')
      expect(message).toContain('npm run build')
      expect(message).toContain(`Cannot find module '${platformPackage}'`)
      expect(cause).toMatch(/Cannot find native binding/)
    }
  } finally {
    fs.renameSync(aside, installed)
  }
})
