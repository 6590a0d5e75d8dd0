#!/usr/bin/env node
// Usage: node scripts/check-libc.mjs [--floor 2.17] [--require-musl-libc] [binary.node ...]
//
// The C library each Linux binary needs, and its size: a `*-gnu.node` binary may require no
// glibc symbol version above the floor (2.17: Amazon Linux 2, RHEL/CentOS 7, Ubuntu 14.04 and
// later), a `*-musl.node` binary no GLIBC symbol at all and musl's libc.so rather than libc.so.6.
// Without file arguments: every postgres-storage.linux-*.node in the package root. Exits 1 on any
// violation. A musl binary's C library imports are resolved against a musl libc.so where one is
// installed (Debian's `musl` package); --require-musl-libc makes its absence a failure. Where binutils' objdump reads the file, its `objdump -T` must find the same GLIBC
// versions as this script's own ELF reader (scripts/lib/elf.mjs), so neither can silently see nothing.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { compareGlibc, glibcVersions, readElf } from './lib/elf.mjs'

export const DEFAULT_FLOOR = '2.17'

// Where a musl C library for `machine` lives: Debian's `musl` package, or Alpine's loader.
const MUSL_LIBC = {
  x86_64: ['/lib/x86_64-linux-musl/libc.so', '/usr/lib/x86_64-linux-musl/libc.so', '/lib/ld-musl-x86_64.so.1'],
  aarch64: ['/lib/aarch64-linux-musl/libc.so', '/usr/lib/aarch64-linux-musl/libc.so', '/lib/ld-musl-aarch64.so.1'],
}

/** Symbols that the loading process (Node) provides, not the C library. */
const FROM_NODE = /^(napi_|node_api_|uv_)/

/**
 * The binary's strong imports that `libc` (a musl libc.so) does not define and Node does not
 * provide: what would fail to resolve on a musl system. Null when no musl libc is at hand.
 */
export function unresolvedAgainstMusl(elf, libc = MUSL_LIBC[elf.machine]?.find((file) => fs.existsSync(file))) {
  if (libc === undefined) return null
  const defined = new Set(readElf(libc).exports)
  return { libc, missing: elf.imports.filter((name) => !FROM_NODE.test(name) && !defined.has(name)) }
}

/** What objdump -T reports as GLIBC versions, or null when objdump is missing or cannot read the file. */
function objdumpGlibc(file) {
  const result = spawnSync('objdump', ['-T', file], { encoding: 'utf8' })
  if (result.status !== 0 || result.error) return null
  return [...new Set(result.stdout.match(/GLIBC_\d+(\.\d+)*/g) ?? [])].sort(compareGlibc)
}

const megabytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MB`

/**
 * Checks one binary; resolves to `{ file, kind, size, newest, versions, needed, problems, objdump }`.
 * `kind` is 'gnu' or 'musl', from the file name (`*-gnu.node`, `*-musl.node`) unless given;
 * `crossCheck: false` leaves objdump out. A musl binary's imports are also resolved against a musl
 * libc.so where one is installed (Debian's `musl` package; `muslLibc` names another).
 */
export function checkBinary(file, { floor = DEFAULT_FLOOR, kind, crossCheck = true, muslLibc } = {}) {
  const abi = kind ?? (/-musl(\.node)?$/.test(file) ? 'musl' : /-gnu(\.node)?$/.test(file) ? 'gnu' : null)
  if (abi === null) throw new Error(`${file}: cannot tell gnu from musl by its name (pass kind)`)
  const elf = readElf(file)
  const versions = glibcVersions(elf)
  const newest = versions.at(-1) ?? null
  const problems = []
  if (abi === 'gnu') {
    if (!elf.needed.includes('libc.so.6'))
      problems.push(`does not link glibc (needs ${elf.needed.join(', ') || 'nothing'})`)
    if (newest === null) problems.push('requires no GLIBC symbol version at all: not a glibc build, or unreadable')
    const above = versions.filter((version) => compareGlibc(version, `GLIBC_${floor}`) > 0)
    if (above.length > 0) problems.push(`requires ${above.join(', ')}, above the floor GLIBC_${floor}`)
  } else {
    if (versions.length > 0) problems.push(`requires glibc symbol versions ${versions.join(', ')}`)
    if (elf.needed.includes('libc.so.6')) problems.push('links glibc (libc.so.6)')
    if (!elf.needed.includes('libc.so'))
      problems.push(`does not link musl's libc.so (needs ${elf.needed.join(', ') || 'nothing'})`)
  }
  const musl = abi === 'musl' ? unresolvedAgainstMusl(elf, muslLibc) : null
  if (musl !== null && musl.missing.length > 0)
    problems.push(`imports ${musl.missing.join(', ')}, which ${musl.libc} does not define`)
  const objdump = crossCheck ? objdumpGlibc(file) : null
  if (objdump !== null && objdump.join(' ') !== versions.join(' ')) {
    problems.push(
      `objdump -T finds ${objdump.join(', ') || 'no GLIBC version'}, the ELF reader ${versions.join(', ') || 'none'}`,
    )
  }
  return {
    file,
    kind: abi,
    machine: elf.machine,
    size: fs.statSync(file).size,
    newest,
    versions,
    needed: elf.needed,
    problems,
    objdump: objdump !== null,
    musl:
      musl === null
        ? null
        : {
            libc: musl.libc,
            imports: elf.imports.filter((name) => !FROM_NODE.test(name)).length,
            missing: musl.missing,
          },
  }
}

/** One line for the report. */
export function describe(result) {
  const libc =
    result.kind === 'gnu'
      ? `glibc, newest symbol ${result.newest ?? 'none'}`
      : `musl (${result.needed.join(', ')}), ${result.versions.length === 0 ? 'no GLIBC symbol' : `GLIBC symbols: ${result.versions.join(', ')}`}`
  const verdict = result.problems.length === 0 ? 'ok' : `FAIL: ${result.problems.join('; ')}`
  const resolved =
    result.kind !== 'musl'
      ? ''
      : result.musl === null
        ? ', libc imports not resolved (no musl libc.so here)'
        : result.musl.missing.length === 0
          ? `, all ${result.musl.imports} libc imports defined by ${result.musl.libc}`
          : ''
  return `${path.basename(result.file)}: ${result.machine}, ${megabytes(result.size)}, ${libc}${resolved}${result.objdump ? ' (objdump agrees)' : ''}: ${verdict}`
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  let floor = DEFAULT_FLOOR
  const floorAt = args.indexOf('--floor')
  if (floorAt !== -1) [, floor] = args.splice(floorAt, 2)
  const requireAt = args.indexOf('--require-musl-libc')
  const requireMusl = requireAt !== -1
  if (requireMusl) args.splice(requireAt, 1)
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const files =
    args.length > 0
      ? args
      : fs
          .readdirSync(root)
          .filter((name) => /^postgres-storage\.linux-.*\.node$/.test(name))
          .map((name) => path.join(root, name))
  if (files.length === 0) {
    process.stderr.write('[libc] no postgres-storage.linux-*.node binary to check (build one first)\n')
    process.exit(1)
  }
  let failed = false
  for (const file of files) {
    let line
    try {
      const result = checkBinary(file, { floor })
      if (requireMusl && result.kind === 'musl' && result.musl === null)
        result.problems.push('no musl libc.so installed to resolve its imports against')
      failed ||= result.problems.length > 0
      line = describe(result)
    } catch (error) {
      failed = true
      line = `${path.basename(file)}: FAIL: ${error.message}`
    }
    process.stdout.write(`[libc] ${line}\n`)
  }
  process.exit(failed ? 1 : 0)
}
