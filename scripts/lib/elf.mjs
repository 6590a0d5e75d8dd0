// Reads what a Linux shared object asks of its C library: the libraries it needs (DT_NEEDED) and
// the symbol versions it requires of each (.gnu.version_r, what `objdump -T` shows as
// GLIBC_2.17 etc.). Plain JavaScript, so the check runs wherever Node does.
import fs from 'node:fs'

const SHT_DYNAMIC = 6
const SHT_DYNSYM = 11
const SHT_GNU_VERNEED = 0x6ffffffe
const DT_NEEDED = 1

/**
 * `{ machine, needed, versions, imports, weakImports, exports }` of a 64-bit little-endian ELF
 * file: the libraries it needs, the symbol versions it requires of each, the dynamic symbols it
 * takes from elsewhere (strong, and weak ones it can do without) and those it defines.
 */
export function readElf(file) {
  const data = fs.readFileSync(file)
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`)
  if (data[4] !== 2 || data[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`)
  const machine = { 0x3e: 'x86_64', 0xb7: 'aarch64' }[data.readUInt16LE(18)] ?? `machine ${data.readUInt16LE(18)}`
  const shoff = Number(data.readBigUInt64LE(40))
  const shentsize = data.readUInt16LE(58)
  const shnum = data.readUInt16LE(60)
  const sections = []
  for (let index = 0; index < shnum; index++) {
    const at = shoff + index * shentsize
    sections.push({
      type: data.readUInt32LE(at + 4),
      offset: Number(data.readBigUInt64LE(at + 24)),
      size: Number(data.readBigUInt64LE(at + 32)),
      link: data.readUInt32LE(at + 40),
      info: data.readUInt32LE(at + 44),
    })
  }
  const string = (table, offset) => {
    const start = sections[table].offset + offset
    return data.toString('latin1', start, data.indexOf(0, start))
  }
  const needed = []
  for (const section of sections.filter((candidate) => candidate.type === SHT_DYNAMIC)) {
    for (let at = section.offset; at + 16 <= section.offset + section.size; at += 16) {
      const tag = data.readBigInt64LE(at)
      if (tag === 0n) break
      if (tag === BigInt(DT_NEEDED)) needed.push(string(section.link, Number(data.readBigUInt64LE(at + 8))))
    }
  }
  const versions = {}
  for (const section of sections.filter((candidate) => candidate.type === SHT_GNU_VERNEED)) {
    // sh_info entries of Elf64_Verneed, each with vn_cnt Elf64_Vernaux.
    let entry = section.offset
    for (let count = 0; count < section.info; count++) {
      const auxCount = data.readUInt16LE(entry + 2)
      const library = string(section.link, data.readUInt32LE(entry + 4))
      const names = (versions[library] ??= [])
      let aux = entry + data.readUInt32LE(entry + 8)
      for (let auxIndex = 0; auxIndex < auxCount; auxIndex++) {
        names.push(string(section.link, data.readUInt32LE(aux + 8)))
        const next = data.readUInt32LE(aux + 12)
        if (next === 0) break
        aux += next
      }
      const next = data.readUInt32LE(entry + 12)
      if (next === 0) break
      entry += next
    }
  }
  const imports = []
  const weakImports = []
  const exports = []
  for (const section of sections.filter((candidate) => candidate.type === SHT_DYNSYM)) {
    // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64.
    for (let at = section.offset + 24; at + 24 <= section.offset + section.size; at += 24) {
      const name = string(section.link, data.readUInt32LE(at))
      const binding = data[at + 4] >> 4
      if (name === '' || binding === 0) continue
      if (data.readUInt16LE(at + 6) === 0) (binding === 2 ? weakImports : imports).push(name)
      else exports.push(name)
    }
  }
  return { machine, needed, versions, imports, weakImports, exports }
}

/** `[2, 17]` from `GLIBC_2.17`. */
const parts = (version) =>
  version
    .replace(/^GLIBC_/, '')
    .split('.')
    .map(Number)

/** Compares two GLIBC_x.y[.z] versions like sort(1) -V. */
export function compareGlibc(a, b) {
  const [x, y] = [parts(a), parts(b)]
  for (let index = 0; index < Math.max(x.length, y.length); index++) {
    const difference = (x[index] ?? 0) - (y[index] ?? 0)
    if (difference !== 0) return difference
  }
  return 0
}

/** Every GLIBC_* version the file requires, oldest first. */
export function glibcVersions(elf) {
  const all = Object.values(elf.versions)
    .flat()
    .filter((name) => /^GLIBC_\d/.test(name))
  return [...new Set(all)].sort(compareGlibc)
}
