// What the package.json scripts promise: `npm test` needs only Node and Rust (no Python, zig or
// linter from PyPI on its path), the workflow lint lives in `npm run lint`, and each per-target
// build script's command line names its target triple.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const testDir = path.join(root, '__test__')
const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts

/** The scripts `name` runs, itself included, following `npm run <script>`. */
function reachable(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen
  expect({ name, defined: name in scripts }).toEqual({ name, defined: true })
  seen.add(name)
  for (const found of scripts[name].matchAll(/npm run ([\w:-]+)/g)) reachable(found[1], seen)
  return seen
}

/** The repository's .mjs files `file` imports, itself included, transitively. */
function imports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen
  seen.add(file)
  const text = fs.readFileSync(path.join(root, file), 'utf8')
  for (const found of text.matchAll(/from '(\.{1,2}\/[^']+\.mjs)'/g))
    imports(path.join(path.dirname(file), found[1]), seen)
  return seen
}

const PYTHON_TOOLS = /python|pip |actionlint|zig|build-target|scripts[\\/]lib[\\/]python-tools/

it('npm test reaches no Python tool: not through its scripts, nor through the files they run', () => {
  const commands = [...reachable('test')].map((name) => scripts[name])
  for (const command of commands) expect(command).not.toMatch(PYTHON_TOOLS)
  const files = commands.flatMap((command) =>
    [...command.matchAll(/node (?:--[\w-]+ )*(scripts\/[\w./-]+\.mjs)/g)].map((found) => found[1]),
  )
  expect(files).toEqual(
    expect.arrayContaining(['scripts/ensure-built.mjs', 'scripts/with-database.mjs', 'scripts/link-self.mjs']),
  )
  for (const file of files) for (const imported of imports(file)) expect(imported).not.toMatch(PYTHON_TOOLS)
  // Nor do the suites themselves spawn one.
  const specs = fs.readdirSync(testDir, { recursive: true, encoding: 'utf8' })
  for (const spec of specs.filter((name) => name.endsWith('.ts') && path.basename(name) !== 'npm-scripts.spec.ts')) {
    expect({
      spec,
      python: /python|actionlint|pip install/.test(fs.readFileSync(path.join(testDir, spec), 'utf8')),
    }).toEqual({ spec, python: false })
  }
})

it('the workflow lint is part of npm run lint', () => {
  expect([...reachable('lint')].map((name) => scripts[name]).join('\n')).toContain('node scripts/actionlint.mjs')
})

it.each([
  ['build:linux-x64-gnu', 'x86_64-unknown-linux-gnu.2.17'],
  ['build:linux-x64-musl', 'x86_64-unknown-linux-musl'],
  ['build:linux-arm64-gnu', 'aarch64-unknown-linux-gnu.2.17'],
  ['build:linux-arm64-musl', 'aarch64-unknown-linux-musl'],
])('%s names its target triple (%s) and builds it with scripts/build-target.mjs', (name, triple) => {
  expect(scripts[name]).toBe(`node scripts/build-target.mjs ${triple}`)
})
