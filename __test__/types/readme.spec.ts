// The README's TypeScript is checked, not just shown: the Quick start compiles under tsc --strict
// (nodenext, as an ES module importing the package by name) and runs against the test database
// with the output its comments promise; the migration diff has exactly its two changes, and its
// "after" side is the type-checked fixture __test__/smalltalk/StorageAdapterFactory.ts.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { contractConfig, sql } from '../helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')

/** The first fenced block of `language` in the README section headed `heading`. */
function codeBlock(heading: string, language: string): string {
  const start = readme.indexOf(`\n${heading}\n`)
  expect(start).toBeGreaterThanOrEqual(0)
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)\\n```').exec(readme.slice(start))
  expect(match).not.toBeNull()
  return match![1]
}

/** Type-checks `files` in `dir` with tsc --strict (nodenext): no output, exit 0. */
function expectTypeChecks(dir: string, files: string[], skipLibCheck = true): void {
  const compilerOptions = {
    strict: true,
    noEmit: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'ES2022',
    skipLibCheck,
    types: ['node'],
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }))
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
    encoding: 'utf8',
    timeout: 90_000,
  })
  expect(tsc.stdout + tsc.stderr).toBe('')
  expect(tsc.status).toBe(0)
}

/** TypeScript `code` as an ES module. */
function toModule(code: string): string {
  return ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText
}

/** Runs `file` with node: no stderr, exit 0; its stdout. */
function runScript(file: string): string {
  const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  return run.stdout
}

// Under node_modules/.cache so that the package resolves by name (the checkout's self-link).
let work: string
beforeAll(() => {
  fs.mkdirSync(path.join(root, 'node_modules', '.cache'), { recursive: true })
  work = fs.mkdtempSync(path.join(root, 'node_modules', '.cache', 'readme-'))
})
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

describe('Quick start', () => {
  const source = codeBlock('## Quick start', 'typescript')

  it('type-checks with tsc --strict as an ES module (nodenext)', () => {
    fs.writeFileSync(path.join(work, 'quickstart.mts'), source)
    expectTypeChecks(work, ['quickstart.mts'])
  }, 90_000)

  it('runs against the database and prints what its comments say', () => {
    // Its connection literal (localhost, 'your_password') is swapped for the test database's.
    const literal = /new PostgresStorageAdapter\(\{[\s\S]*?\n\}\)/
    expect(source).toMatch(literal)
    const runnable = source.replace(literal, `new PostgresStorageAdapter(${JSON.stringify(contractConfig())})`)
    fs.writeFileSync(path.join(work, 'quickstart.mjs'), toModule(runnable))
    const stdout = runScript(path.join(work, 'quickstart.mjs'))
    expect(stdout.trim().split('\n')).toEqual(['stale write [ 1, 1 ]', 'paused 2 true'])
  }, 60_000)
})

describe('Keyv', () => {
  const source = codeBlock('## Keyv', 'ts')
  it('type-checks with tsc --strict for import and require (nodenext)', () => {
    const dir = path.join(work, 'keyv-types')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'keyv.mts'), source)
    const cjs = source.replace(/^(const keyv = .*)$/m, 'async function main() {\n$1').concat('\n}\nvoid main()\n')
    fs.writeFileSync(path.join(dir, 'keyv.cts'), cjs)
    expectTypeChecks(dir, ['keyv.mts', 'keyv.cts'], false)
  }, 90_000)

  it('runs against the database and prints what its comment says', async () => {
    // Its connection is swapped for the test database's, in a schema of its own.
    const literal = '{ connectionString: process.env.DATABASE_URL }'
    expect(source).toContain(literal)
    const runnable = source.replace(literal, JSON.stringify({ ...contractConfig(), schema: 'readme_keyv' }))
    fs.writeFileSync(path.join(work, 'keyv.mjs'), toModule(runnable))
    try {
      expect(runScript(path.join(work, 'keyv.mjs')).trim()).toBe("{ name: 'Ada' }")
      const rows = await sql('SELECT key, ttl IS NOT NULL AS expires FROM readme_keyv.key_value')
      expect(rows).toEqual([{ key: 'cache:user:1', expires: true }])
    } finally {
      await sql('DROP SCHEMA IF EXISTS readme_keyv CASCADE')
    }
  }, 60_000)
})

describe('Migrating from SmallTalk', () => {
  const diff = codeBlock("## Migrating from SmallTalk's TypeScript adapter", 'diff').split('\n')

  it('is two changes: the import, and errorClasses', () => {
    const removed = diff.filter((line) => line.startsWith('-'))
    const added = diff.filter((line) => line.startsWith('+'))
    const oldImport = /^-import \{ PostgresStorageAdapter\b.*\} from '\.\/PostgresStorageAdapter\.js'$/
    expect(removed).toEqual([expect.stringMatching(oldImport)])
    expect(added).toEqual([
      removed[0].replace(/^-/, '+').replace("'./PostgresStorageAdapter.js'", "'@smalltalk-ai/postgres-storage'"),
      expect.stringMatching(/^\+ +errorClasses: \{ StorageError, ConflictError, ValidationError, NotFoundError \},$/),
    ])
  })

  it('leads to the type-checked fixture StorageAdapterFactory.ts', () => {
    const after = diff
      .filter((line) => !line.startsWith('-'))
      .map((line) => line.slice(1))
      .join('\n')
      .replace("'../types/robustness.js'", "'./errors.js'")
    const fixture = fs.readFileSync(path.join(root, '__test__', 'smalltalk', 'StorageAdapterFactory.ts'), 'utf8')
    expect(fixture).toContain(after)
  })
})

describe('Prometheus', () => {
  const source = codeBlock('## Prometheus', 'typescript')
  // SmallTalk's src/server/metrics.ts, as far as the example uses it: its registry and histogram.
  const smalltalkMetrics = `import * as promClient from 'prom-client'

export function initializeMetrics(): { registry: promClient.Registry } {
  const registry = new promClient.Registry()
  promClient.collectDefaultMetrics({ register: registry })
  new promClient.Histogram({
    name: 'storage_operations_duration_seconds',
    help: 'Duration of storage operations in seconds',
    labelNames: ['operation', 'result'],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  })
  return { registry }
}
`
  let app: string
  beforeAll(() => {
    app = path.join(work, 'prometheus')
    fs.mkdirSync(path.join(app, 'server'), { recursive: true })
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ type: 'module' }))
    fs.writeFileSync(path.join(app, 'server', 'metrics.ts'), smalltalkMetrics)
  })

  it('type-checks with tsc --strict beside SmallTalk-style metrics (nodenext)', () => {
    fs.writeFileSync(path.join(app, 'app.ts'), source)
    expectTypeChecks(app, ['app.ts', 'server/metrics.ts'])
  }, 90_000)

  it('runs against the database and prints the lines its comments show', () => {
    const literal = /new PostgresStorageAdapter\(\{[^\n]*\}\)/
    expect(source).toMatch(literal)
    const runnable = `${source.replace(literal, `new PostgresStorageAdapter(${JSON.stringify(contractConfig())})`)}
await adapter.close()
`
    fs.writeFileSync(path.join(app, 'app.js'), toModule(runnable))
    fs.writeFileSync(path.join(app, 'server', 'metrics.js'), toModule(smalltalkMetrics))
    const stdout = runScript(path.join(app, 'app.js'))
    const shown = [...source.matchAll(/^\/\/ ((?:storage|postgres)_\S+ \d+)$/gm)].map((found) => found[1])
    expect(shown).toHaveLength(2)
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(shown))
  }, 60_000)
})
