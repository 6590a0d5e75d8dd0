#!/usr/bin/env node
// Usage: node scripts/build-target.mjs <target>
//
// A release build of the addon for one Linux target, with zig as the C toolchain and linker
// (zig and cargo-zigbuild come pinned from PyPI into .tools/ on first use; the Rust standard
// library of the target through rustup when missing). The binary lands in the package root under
// napi's name (postgres-storage.<platform>.node), where the tests, `napi artifacts` and CI's
// upload find it; then its libc is checked (scripts/check-libc.mjs) and its size printed.
//
//   x86_64-unknown-linux-gnu.2.17    cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.17
//   aarch64-unknown-linux-gnu.2.17   (the same for arm64): glibc symbols no newer than 2.17
//   x86_64-unknown-linux-musl        napi build --platform --release --target x86_64-unknown-linux-musl -x
//   aarch64-unknown-linux-musl       (the same for arm64)
//
// package.json's build:linux-* scripts and CI's build job call this, so what CI publishes is
// built the way it is built and tested here.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { checkBinary, describe } from './check-libc.mjs'
import { root, withPath, zigTools } from './lib/python-tools.mjs'

const log = (line) => process.stderr.write(`[build] ${line}\n`)
const fail = (line) => {
  log(line)
  process.exit(1)
}

const target = process.argv[2]
const match = /^(x86_64|aarch64)-unknown-linux-(gnu|musl)(?:\.(\d+\.\d+))?$/.exec(target ?? '')
if (match === null || (match[2] === 'musl') !== (match[3] === undefined)) {
  fail(
    'usage: node scripts/build-target.mjs <x86_64|aarch64>-unknown-linux-gnu.<glibc, e.g. 2.17> | <x86_64|aarch64>-unknown-linux-musl',
  )
}
const [, cpu, libc, glibc] = match
const triple = `${cpu}-unknown-linux-${libc}`
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const platform = `linux-${cpu === 'x86_64' ? 'x64' : 'arm64'}-${libc}`
const output = path.join(root, `${manifest.napi.binaryName}.${platform}.node`)

function run(file, args, env = process.env) {
  log(`$ ${[file, ...args].join(' ')}`)
  const result = spawnSync(file, args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' })
  if (result.status !== 0)
    fail(`\`${[file, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`)
}

// The target's standard library: present, or added through rustup.
const libdir = spawnSync('rustc', ['--print', 'target-libdir', '--target', triple], { encoding: 'utf8' })
if (libdir.status !== 0 || !fs.existsSync(libdir.stdout.trim())) {
  if (spawnSync('rustup', ['--version'], { stdio: 'ignore' }).status !== 0)
    fail(`the Rust standard library for ${triple} is missing and rustup is not on PATH`)
  run('rustup', ['target', 'add', triple])
}

let bin
try {
  bin = zigTools()
} catch (error) {
  fail(error.message)
}
const env = withPath(bin)
const started = Date.now()
if (libc === 'gnu') {
  // The `.2.17` suffix is cargo-zigbuild's: link against glibc 2.17's symbol versions.
  run('cargo', ['zigbuild', '--release', '--target', `${triple}.${glibc}`], env)
  const crate = /^name\s*=\s*"([^"]+)"/m
    .exec(fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8'))[1]
    .replaceAll('-', '_')
  fs.copyFileSync(path.join(root, 'target', triple, 'release', `lib${crate}.so`), output)
} else {
  // napi's own cross path (-x: cargo-zigbuild); native.js is committed and target-independent.
  run(
    process.execPath,
    [
      path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'),
      'build',
      '--platform',
      '--release',
      '--target',
      triple,
      '-x',
      '--no-js',
      '--dts',
      'native.d.ts',
    ],
    env,
  )
}
if (!fs.existsSync(output)) fail(`${path.basename(output)} was not written`)
log(`${triple}${glibc ? ` (glibc ${glibc})` : ''} built in ${((Date.now() - started) / 1000).toFixed(0)} s`)
const result = checkBinary(output, { floor: glibc ?? undefined, kind: libc })
process.stdout.write(`[libc] ${describe(result)}\n`)
process.exit(result.problems.length === 0 ? 0 : 1)
