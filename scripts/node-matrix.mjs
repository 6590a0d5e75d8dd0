#!/usr/bin/env node
// `npm run test:node-matrix`: the built addon under every Node line package.json's `engines`
// claims (the CI matrix lists the same lines; __test__/tooling/node-lines.spec.ts checks that). For each
// line the `node` package of that line comes from npm into .tools/node/<line> (once; not a
// devDependency), and runs:
//   - scripts/smoke.mjs: save, get, conflict, list, getStats, close, exit without close;
//   - __test__/loader.spec.ts under jest: the missing-binary error, one paragraph, caught with
//     try/await import() from ESM and with require();
//   - __test__/process.spec.ts under jest: CommonJS and ESM, exit without close, TZ.
// Runs under scripts/with-database.mjs (POSTGRES_* for the test run's database). Prints a table;
// exits 1 when any line fails.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { checkBinary } from './check-libc.mjs'
import { root } from './lib/python-tools.mjs'
import { nodeLines } from './lib/node-lines.mjs'

const log = (line) => process.stderr.write(`[node-matrix] ${line}\n`)
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const lines = nodeLines(manifest.engines.node)
const windows = process.platform === 'win32'

/** The node executable of `line`, installed from npm into .tools/node/<line> when missing. */
function nodeOf(line) {
  const dir = path.join(root, '.tools', 'node', line)
  const executable = windows
    ? path.join(dir, 'node_modules', 'node', 'bin', 'node.exe')
    : path.join(dir, 'node_modules', '.bin', 'node')
  const version = () => spawnSync(executable, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? ''
  if (fs.existsSync(executable) && version().startsWith(`v${line}.`)) return { executable, version: version() }
  log(`installing node@${line} from npm into ${path.relative(root, dir)}`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `node@${line}`,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      shell: windows,
    },
  )
  if (npm.status !== 0 || !version().startsWith(`v${line}.`))
    throw new Error(`npm install node@${line} gave no Node ${line} (exit ${npm.status})`)
  return { executable, version: version() }
}

const jest = (spec) => [
  '--experimental-vm-modules',
  path.join('node_modules', 'jest', 'bin', 'jest.js'),
  '-c',
  '__test__/jest.config.js',
  '--runInBand',
  spec,
]
const checks = [
  { name: 'smoke', args: [path.join('scripts', 'smoke.mjs')] },
  { name: 'loader', args: jest('__test__/loader.spec.ts') },
  { name: 'process', args: jest('__test__/process.spec.ts') },
]

const host = `${manifest.napi.binaryName}.linux-x64-gnu.node`
if (process.platform === 'linux' && fs.existsSync(path.join(root, host))) {
  const binary = checkBinary(path.join(root, host), { crossCheck: false })
  log(`binary under test: ${host}, ${(binary.size / 1024 / 1024).toFixed(2)} MB, newest glibc symbol ${binary.newest}`)
}

const results = []
for (const line of lines) {
  let node
  try {
    node = nodeOf(line)
  } catch (error) {
    results.push({ line, version: '-', outcomes: checks.map(() => 'not run'), ok: false, note: error.message })
    continue
  }
  const outcomes = []
  for (const check of checks) {
    log(`Node ${node.version}: ${check.name}`)
    const started = Date.now()
    const result = spawnSync(node.executable, check.args, { cwd: root, encoding: 'utf8', timeout: 300_000 })
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    if (result.status === 0) {
      const summary =
        check.name === 'smoke'
          ? JSON.parse(result.stdout.trim().split('\n').at(-1)).steps.length + ' steps'
          : (/Tests:\s+(.*)/.exec(result.stderr)?.[1] ?? '')
      outcomes.push(`ok (${summary}, ${seconds} s)`)
    } else {
      outcomes.push(`FAILED (exit ${result.status ?? result.signal}, ${seconds} s)`)
      process.stderr.write(`${result.stdout}\n${result.stderr}\n`)
    }
  }
  results.push({ line, version: node.version, outcomes, ok: outcomes.every((outcome) => outcome.startsWith('ok')) })
}

const header = ['Node', 'version', ...checks.map((check) => check.name)]
const rows = results.map((result) => [result.line, result.version, ...result.outcomes])
process.stdout.write(`\n| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n`)
for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`)
for (const result of results.filter((entry) => entry.note))
  process.stdout.write(`Node ${result.line}: ${result.note}\n`)
const failed = results.filter((result) => !result.ok).map((result) => result.line)
process.stdout.write(
  failed.length === 0 ? `\nNode matrix: ${lines.join(', ')} passed\n` : `\nNode matrix: ${failed.join(', ')} FAILED\n`,
)
process.exit(failed.length === 0 ? 0 : 1)
