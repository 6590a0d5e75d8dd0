// The libc check that .ci/run applies to the Linux binaries (scripts/check-libc.mjs): it reads
// DT_NEEDED and the required symbol versions itself, so it is tested here on ELF files made to
// measure, with known answers, on any platform.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkBinary, describe as describeCheck } from '../../scripts/check-libc.mjs'

interface Symbols {
  imports?: string[]
  weakImports?: string[]
  exports?: string[]
}

/**
 * A minimal 64-bit little-endian ELF shared object needing `needed` and the symbol `versions` of
 * each library, with `symbols` in its dynamic symbol table.
 */
function elf(needed: string[], versions: Record<string, string[]>, machine = 0x3e, symbols: Symbols = {}): Buffer {
  const strings: string[] = ['']
  const offsetOf = (text: string) => {
    let at = 0
    for (const entry of strings) {
      if (entry === text) return at
      at += Buffer.byteLength(entry) + 1
    }
    strings.push(text)
    return at
  }
  const dynamic = Buffer.alloc((needed.length + 1) * 16)
  needed.forEach((library, index) => {
    dynamic.writeBigInt64LE(1n, index * 16)
    dynamic.writeBigUInt64LE(BigInt(offsetOf(library)), index * 16 + 8)
  })
  const libraries = Object.entries(versions)
  const verneed = Buffer.alloc(libraries.reduce((total, [, names]) => total + 16 + 16 * names.length, 0))
  let at = 0
  libraries.forEach(([library, names], index) => {
    const size = 16 + 16 * names.length
    verneed.writeUInt16LE(1, at)
    verneed.writeUInt16LE(names.length, at + 2)
    verneed.writeUInt32LE(offsetOf(library), at + 4)
    verneed.writeUInt32LE(16, at + 8)
    verneed.writeUInt32LE(index === libraries.length - 1 ? 0 : size, at + 12)
    names.forEach((name, nameIndex) => {
      const aux = at + 16 + nameIndex * 16
      verneed.writeUInt32LE(offsetOf(name), aux + 8)
      verneed.writeUInt32LE(nameIndex === names.length - 1 ? 0 : 16, aux + 12)
    })
    at += size
  })
  const entries = [
    ...(symbols.imports ?? []).map((name) => ({ name, binding: 1, section: 0 })),
    ...(symbols.weakImports ?? []).map((name) => ({ name, binding: 2, section: 0 })),
    ...(symbols.exports ?? []).map((name) => ({ name, binding: 1, section: 1 })),
  ]
  const dynsym = Buffer.alloc(24 * (entries.length + 1))
  entries.forEach(({ name, binding, section }, index) => {
    const at = 24 * (index + 1)
    dynsym.writeUInt32LE(offsetOf(name), at)
    dynsym[at + 4] = (binding << 4) | 2
    dynsym.writeUInt16LE(section, at + 6)
  })
  const dynstr = Buffer.from(strings.map((text) => `${text}\0`).join(''), 'latin1')
  const header = Buffer.alloc(64)
  header.writeUInt32BE(0x7f454c46, 0)
  header[4] = 2
  header[5] = 1
  header[6] = 1
  header.writeUInt16LE(3, 16)
  header.writeUInt16LE(machine, 18)
  header.writeUInt32LE(1, 20)
  const body = [dynstr, dynamic, verneed, dynsym]
  let offset = 64
  const placed = body.map((part) => {
    const start = offset
    offset += part.length
    return start
  })
  header.writeBigUInt64LE(BigInt(offset), 40)
  header.writeUInt16LE(64, 52)
  header.writeUInt16LE(64, 58)
  header.writeUInt16LE(5, 60)
  const section = (type: number, index: number, info = 0) => {
    const entry = Buffer.alloc(64)
    entry.writeUInt32LE(type, 4)
    entry.writeBigUInt64LE(BigInt(placed[index]), 24)
    entry.writeBigUInt64LE(BigInt(body[index].length), 32)
    entry.writeUInt32LE(1, 40)
    entry.writeUInt32LE(info, 44)
    return entry
  }
  return Buffer.concat([
    header,
    ...body,
    Buffer.alloc(64),
    section(3, 0),
    section(6, 1),
    section(0x6ffffffe, 2, libraries.length),
    section(11, 3),
  ])
}

let dir: string
const write = (name: string, content: Buffer) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, content)
  return file
}
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libc-spec-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const GLIBC_LIBS = ['libm.so.6', 'libc.so.6', 'ld-linux-x86-64.so.2']

it('a gnu binary whose newest symbol is GLIBC_2.17 passes, versions compared as numbers (2.2.5 < 2.17)', () => {
  const file = write(
    'floor-linux-x64-gnu.node',
    elf(GLIBC_LIBS, { 'libc.so.6': ['GLIBC_2.17', 'GLIBC_2.2.5', 'GLIBC_2.14'], 'libm.so.6': ['GLIBC_2.2.5'] }),
  )
  const result = checkBinary(file, { crossCheck: false })
  expect(result).toMatchObject({
    kind: 'gnu',
    machine: 'x86_64',
    newest: 'GLIBC_2.17',
    versions: ['GLIBC_2.2.5', 'GLIBC_2.14', 'GLIBC_2.17'],
    problems: [],
  })
  expect(result.needed).toEqual(GLIBC_LIBS)
  expect(describeCheck(result)).toMatch(
    /floor-linux-x64-gnu\.node: x86_64, 0\.00 MB, glibc, newest symbol GLIBC_2\.17: ok$/,
  )
})

it("a gnu binary needing GLIBC_2.34 (the host toolchain's) fails, naming every version above the floor", () => {
  const file = write(
    'host-linux-x64-gnu.node',
    elf(GLIBC_LIBS, { 'libc.so.6': ['GLIBC_2.2.5', 'GLIBC_2.18', 'GLIBC_2.34'] }),
  )
  const result = checkBinary(file, { crossCheck: false })
  expect(result.newest).toBe('GLIBC_2.34')
  expect(result.problems).toEqual(['requires GLIBC_2.18, GLIBC_2.34, above the floor GLIBC_2.17'])
  expect(checkBinary(file, { crossCheck: false, floor: '2.34' }).problems).toEqual([])
})

it('a musl binary passes with libc.so and no GLIBC symbol; a glibc build under a musl name fails', () => {
  const musl = write('ok-linux-x64-musl.node', elf(['libc.so'], {}))
  expect(checkBinary(musl, { crossCheck: false }).problems).toEqual([])
  const wrong = write('wrong-linux-x64-musl.node', elf(GLIBC_LIBS, { 'libc.so.6': ['GLIBC_2.17'] }))
  expect(checkBinary(wrong, { crossCheck: false }).problems).toEqual([
    'requires glibc symbol versions GLIBC_2.17',
    'links glibc (libc.so.6)',
    "does not link musl's libc.so (needs libm.so.6, libc.so.6, ld-linux-x86-64.so.2)",
  ])
})

it('a gnu name on a binary that requires nothing of glibc fails rather than passing for want of data', () => {
  const file = write('empty-linux-arm64-gnu.node', elf(['libc.so'], {}, 0xb7))
  const result = checkBinary(file, { crossCheck: false })
  expect(result.machine).toBe('aarch64')
  expect(result.problems).toEqual([
    'does not link glibc (needs libc.so)',
    'requires no GLIBC symbol version at all: not a glibc build, or unreadable',
  ])
  expect(() =>
    checkBinary(
      write(
        'text-linux-x64-gnu.node',
        Buffer.from('not an ELF file at all, just text here....................................'),
      ),
    ),
  ).toThrow('is not an ELF file')
})

it("a musl binary's libc imports must all be defined by a musl libc.so; Node-API and weak imports are not libc's to give", () => {
  const libc = write('libc.so', elf([], {}, 0x3e, { exports: ['memcpy', 'malloc', 'getaddrinfo'] }))
  const binary = (name: string, imports: string[]) =>
    write(
      name,
      elf(['libc.so'], {}, 0x3e, {
        imports,
        weakImports: ['__cxa_thread_atexit_impl'],
        exports: ['napi_register_module_v1'],
      }),
    )
  const good = checkBinary(
    binary('good-linux-x64-musl.node', ['memcpy', 'malloc', 'napi_create_string_utf8', 'uv_default_loop']),
    { crossCheck: false, muslLibc: libc },
  )
  expect(good.problems).toEqual([])
  expect(good.musl).toEqual({ libc, imports: 2, missing: [] })
  expect(describeCheck(good)).toContain(`all 2 libc imports defined by ${libc}`)
  const glibcOnly = checkBinary(
    binary('glibc-only-linux-x64-musl.node', ['memcpy', 'gnu_get_libc_version', '__res_init']),
    { crossCheck: false, muslLibc: libc },
  )
  expect(glibcOnly.problems).toEqual([`imports gnu_get_libc_version, __res_init, which ${libc} does not define`])
})
