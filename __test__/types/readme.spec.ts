// The README's TypeScript is checked, not just shown: the Quick start compiles under tsc --strict
// (nodenext, as an ES module importing the package by name) and runs against the test database
// with the output its comments promise; the migration diff has exactly its two changes, and its
// "after" side is the type-checked fixture __test__/smalltalk/StorageAdapterFactory.ts.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { contractConfig } from '../helpers.js'

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
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        skipLibCheck: true,
        types: ['node'],
      },
      files: ['quickstart.mts'],
    }
    fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify(tsconfig))
    const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], {
      encoding: 'utf8',
      timeout: 90_000,
    })
    expect(tsc.stdout + tsc.stderr).toBe('')
    expect(tsc.status).toBe(0)
  }, 90_000)

  it('runs against the database and prints what its comments say', () => {
    // Its connection literal (localhost, 'your_password') is swapped for the test database's.
    const literal = /new PostgresStorageAdapter\(\{[\s\S]*?\n\}\)/
    expect(source).toMatch(literal)
    const runnable = source.replace(literal, `new PostgresStorageAdapter(${JSON.stringify(contractConfig())})`)
    const js = ts.transpileModule(runnable, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText
    fs.writeFileSync(path.join(work, 'quickstart.mjs'), js)
    const run = spawnSync(process.execPath, [path.join(work, 'quickstart.mjs')], { encoding: 'utf8', timeout: 30_000 })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout.trim().split('\n')).toEqual(['stale write [ 1, 1 ]', 'paused 2 true'])
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
