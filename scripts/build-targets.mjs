#!/usr/bin/env node
// Usage: node scripts/build-targets.mjs [--rebuild]
//
// The four Linux binaries a release publishes, as `npm run test:publish` needs them: each
// postgres-storage.linux-<arch>-<libc>.node in the package root is reused when it is newer than
// the Rust sources and passes the libc check (gnu: no GLIBC symbol above 2.17, so a host
// `npm run build` output is not taken for the published one; musl: no glibc at all), and is
// built with its `npm run build:linux-*` script (scripts/build-target.mjs, zig) otherwise, or
// always with --rebuild. .ci/run builds the two x64 ones earlier, so there only arm64 is built.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { checkBinary, describe } from './check-libc.mjs'
import { root } from './lib/python-tools.mjs'

const log = (line) => process.stderr.write(`[targets] ${line}\n`)
const rebuild = process.argv.includes('--rebuild')
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))

/** The platforms built through package.json's build:linux-* scripts, e.g. 'linux-arm64-musl'. */
const LINUX_PLATFORMS = Object.keys(manifest.scripts)
  .filter((name) => /^build:linux-/.test(name))
  .map((name) => name.slice('build:'.length))

function newestMtime(entry) {
  const stat = fs.statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))))
}
const sourcesAt = Math.max(
  ...['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].map((name) => newestMtime(path.join(root, name))),
)

/** Why the binary cannot be reused, or null when it can. */
function staleness(file) {
  if (!fs.existsSync(file)) return 'missing'
  if (fs.statSync(file).mtimeMs < sourcesAt) return 'older than the Rust sources'
  const result = checkBinary(file, { crossCheck: false })
  return result.problems.length === 0 ? null : `fails the libc check (${result.problems.join('; ')})`
}

const rows = []
for (const platform of LINUX_PLATFORMS) {
  const file = path.join(root, `${manifest.napi.binaryName}.${platform}.node`)
  const why = rebuild ? 'rebuild asked' : staleness(file)
  if (why === null) {
    rows.push(`${platform}: reused (${describe(checkBinary(file, { crossCheck: false }))})`)
    continue
  }
  log(`${platform}: ${why}: npm run build:${platform}`)
  const started = Date.now()
  const result = spawnSync('npm', ['run', `build:${platform}`], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  })
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  if (result.status !== 0) {
    log(`${platform}: build failed after ${seconds} s (exit ${result.status ?? result.signal})`)
    process.exit(1)
  }
  rows.push(`${platform}: built in ${seconds} s (${why})`)
}
for (const row of rows) log(row)
