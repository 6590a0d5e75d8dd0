// Builds the native addon (release) when it is missing or older than the Rust sources, so that
// `npm start` and `npm test` work straight after `npm install` in a checkout.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function newestMtime(entry) {
  const stat = fs.statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))))
}

// This machine's binary only (a musl or cross build beside it is not what the tests load), by
// mtime against the Rust sources. native.js is committed (napi's loader, the same for every
// target), so a build that does not rewrite it (scripts/build-target.mjs) still counts as current.
const require = createRequire(import.meta.url)
const { platformName, detectLibc } = require('../lib/load-native.js')
const { napi } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const host = platformName(process.platform, process.arch, process.platform === 'linux' ? detectLibc() : undefined)
const binary = path.join(root, `${napi.binaryName}.${host}.node`)
const built = fs.existsSync(binary) && fs.existsSync(path.join(root, 'native.js'))
const sourcesAt = Math.max(
  ...['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].map((name) => newestMtime(path.join(root, name))),
)

if (built && newestMtime(binary) >= sourcesAt) process.exit(0)

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' })
if (cargo.status !== 0) {
  if (built) process.exit(0)
  console.error(
    'The native addon is not built and cargo is not on PATH: install Rust (https://rustup.rs) and run `npm run build`.',
  )
  process.exit(1)
}
console.error(
  !built
    ? '[build] building the native addon (release)…'
    : '[build] Rust sources changed: rebuilding the native addon…',
)
const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
process.exit(build.status ?? 1)
