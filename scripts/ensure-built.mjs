// Builds the native addon (release) when it is missing or older than the Rust sources, so that
// `npm start` and `npm test` work straight after `npm install` in a checkout.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function newestMtime(entry) {
  const stat = fs.statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))))
}

const binaries = fs.readdirSync(root).filter((name) => name.startsWith('postgres-storage.') && name.endsWith('.node'))
const builtAt = Math.min(
  ...[...binaries, 'native.js'].map((name) => (fs.existsSync(path.join(root, name)) ? newestMtime(path.join(root, name)) : 0)),
)
const sourcesAt = Math.max(...['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].map((name) => newestMtime(path.join(root, name))))

if (binaries.length > 0 && builtAt >= sourcesAt) process.exit(0)

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' })
if (cargo.status !== 0) {
  if (binaries.length > 0) process.exit(0)
  console.error('The native addon is not built and cargo is not on PATH: install Rust (https://rustup.rs) and run `npm run build`.')
  process.exit(1)
}
console.error(binaries.length === 0 ? '[build] building the native addon (release)…' : '[build] Rust sources changed: rebuilding the native addon…')
const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
process.exit(build.status ?? 1)
