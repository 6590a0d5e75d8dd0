#!/usr/bin/env node
// Usage: node scripts/release-layout.mjs [--artifacts DIR]   (run in the package root)
//
// The release's layout step, shared by .github/workflows/release.yml and `npm run test:publish`
// so that the rehearsal lays out exactly what a release publishes:
//   1. `napi create-npm-dirs`: npm/<platform>/package.json for every target in package.json's
//      `napi.targets` (from the package's own metadata and version);
//   2. `napi artifacts`: each `postgres-storage.<platform>.node` found under DIR (default
//      `artifacts`, where actions/download-artifact puts the build job's `bindings-<target>`
//      uploads) moved into its npm/<platform>/. napi refuses a configured target whose binary is
//      missing and a binary of a target that is not configured;
//   3. a listing of each platform package (name, version, files and sizes), checked here: every
//      configured target's package holds its binary and is at the main package's version.
// `npm publish` follows (its prepublishOnly, `napi prepublish -t npm`, publishes these packages
// and writes them into the main package's optionalDependencies).
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const log = (line) => process.stdout.write(`[layout] ${line}\n`)
const fail = (line) => {
  process.stderr.write(`[layout] ${line}\n`)
  process.exit(1)
}

const args = process.argv.slice(2)
let artifacts = 'artifacts'
const at = args.indexOf('--artifacts')
if (at !== -1) [, artifacts] = args.splice(at, 2)
if (args.length > 0 || !artifacts) fail('usage: node scripts/release-layout.mjs [--artifacts DIR]')

const cwd = process.cwd()
const manifestFile = path.join(cwd, 'package.json')
if (!fs.existsSync(manifestFile)) fail(`no package.json in ${cwd}: run this in the package root`)
const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'))
const cli = path.join(cwd, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
if (!fs.existsSync(cli)) fail(`${path.relative(cwd, cli)} is missing: run npm ci first`)

function napi(...napiArgs) {
  log(`$ napi ${napiArgs.join(' ')}`)
  const result = spawnSync(process.execPath, [cli, ...napiArgs], { cwd, stdio: 'inherit' })
  if (result.status !== 0)
    fail(`napi ${napiArgs.join(' ')} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`)
}

napi('create-npm-dirs')
napi('artifacts', '--output-dir', artifacts)

const { parseTriple } = await import(path.join(cwd, 'node_modules', '@napi-rs', 'cli', 'dist', 'index.js'))
const problems = []
for (const triple of manifest.napi.targets) {
  const { platformArchABI } = parseTriple(triple)
  const dir = path.join(cwd, 'npm', platformArchABI)
  const platform = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  const files = fs.readdirSync(dir).sort()
  const sizes = files.map((file) => `${file} ${(fs.statSync(path.join(dir, file)).size / 1024).toFixed(0)} KB`)
  log(`npm/${platformArchABI}: ${platform.name}@${platform.version}: ${sizes.join(', ')}`)
  const binary = `${manifest.napi.binaryName}.${platformArchABI}.node`
  if (!files.includes(binary)) problems.push(`npm/${platformArchABI} has no ${binary}`)
  if (platform.version !== manifest.version)
    problems.push(`${platform.name} is at ${platform.version}, the main package at ${manifest.version}`)
}
if (problems.length > 0) fail(problems.join('; '))
log(`${manifest.napi.targets.length} platform packages laid out for ${manifest.name}@${manifest.version}`)
