// The options are declared once, in the Rust `Options` struct (found by grepping src/ for
// `pub struct Options`, wherever it lives), and listed twice for users: in index.d.ts
// (PostgresConfig) and in the README's options table. Every field, under the name JS gives it
// (serde's rename_all / rename, plus any serde alias), must appear in both lists.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8')

/** Every .rs file under src/, relative to the root. */
function rustFiles(dir = 'src'): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? rustFiles(path.join(dir, entry.name))
        : entry.name.endsWith('.rs')
          ? [path.join(dir, entry.name)]
          : [],
    )
}

/** The `key = "value"` pairs of the `#[serde(...)]` attributes among `lines`. */
function serdeSettings(lines: string[]): Array<[string, string]> {
  return lines
    .flatMap((line) => [...line.matchAll(/#\[serde\((.*)\)\]/g)].map((found) => found[1]))
    .flatMap((inner) =>
      [...inner.matchAll(/(\w+)(?:\s*=\s*"([^"]*)")?/g)].map((found): [string, string] => [found[1], found[2] ?? '']),
    )
}

const camelCase = (name: string) => name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase())

/** The Rust struct's fields, each as the names JS may give it: `[name, ...aliases]`. */
function rustOptionNames(): { file: string; fields: string[][] } {
  const found = rustFiles()
    .map((file) => ({ file, text: read(file) }))
    .filter(({ text }) => /^pub struct Options \{/m.test(text))
  expect(found.map(({ file }) => file)).toHaveLength(1)
  const { file, text } = found[0]
  const lines = text.split('\n')
  const start = lines.findIndex((line) => line.startsWith('pub struct Options {'))
  // The attributes just above the struct (`#[serde(rename_all = ...)]`).
  let above = start
  while (above > 0 && /^\s*(#\[|\/\/\/)/.test(lines[above - 1])) above--
  const container = new Map(serdeSettings(lines.slice(above, start)))
  const renameAll = container.get('rename_all')
  if (renameAll !== undefined && renameAll !== 'camelCase')
    throw new Error(`${file}: rename_all = "${renameAll}" is not read by this test`)
  const fields: string[][] = []
  let attributes: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('}')) break
    if (/^\s*#\[/.test(line)) attributes.push(line)
    const field = /^\s*pub\s+(?:r#)?(\w+)\s*:/.exec(line)
    if (field === null) continue
    const settings = serdeSettings(attributes)
    attributes = []
    if (settings.some(([key]) => key === 'flatten' || key === 'skip' || key === 'skip_deserializing')) {
      throw new Error(`${file}: field ${field[1]} uses a serde setting this test does not read`)
    }
    const rename = settings.find(([key]) => key === 'rename')?.[1]
    const name = rename ?? (renameAll === 'camelCase' ? camelCase(field[1]) : field[1])
    fields.push([name, ...settings.filter(([key]) => key === 'alias').map(([, alias]) => alias)])
  }
  return { file, fields }
}

/** The property names of index.d.ts' `PostgresConfig` interface. */
function typingsOptionNames(): Set<string> {
  const typings = read('index.d.ts')
  const body = /^export interface PostgresConfig \{\n([\s\S]*?)^\}/m.exec(typings)
  expect(body).not.toBeNull()
  return new Set([...body![1].matchAll(/^ {2}(\w+)\??:/gm)].map((found) => found[1]))
}

/** The backquoted names in the first column of the README's options table (aliases in brackets included). */
function readmeOptionNames(): Set<string> {
  const readme = read('README.md')
  const table = /^\| option \| default \| meaning \|\n\| --- \| --- \| --- \|\n((?:\|.*\n)+)/m.exec(readme)
  expect(table).not.toBeNull()
  const firstCells = table![1].split('\n').map((row) => row.split('|')[1] ?? '')
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((found) => found[1])))
}

it('the Rust Options struct is found and read (each field a JS name)', () => {
  const rust = rustOptionNames()
  expect(rust.fields.length).toBeGreaterThan(20)
  for (const names of rust.fields) expect(names[0]).toMatch(/^[a-z][A-Za-z0-9]*$/)
  expect(rust.fields.map((names) => names[0])).toEqual(
    expect.arrayContaining(['host', 'poolSize', 'sslRootCert', 'toastCompression']),
  )
})

it('every field of the Rust Options struct, and each serde alias, is typed in index.d.ts (PostgresConfig)', () => {
  const rust = rustOptionNames()
  const typed = typingsOptionNames()
  const missing = rust.fields.flat().filter((name) => !typed.has(name))
  expect({ from: rust.file, missing }).toEqual({ from: rust.file, missing: [] })
})

it('every field of the Rust Options struct, and each serde alias, has a row in the README options table', () => {
  const rust = rustOptionNames()
  const documented = readmeOptionNames()
  const missing = rust.fields.flat().filter((name) => !documented.has(name))
  expect({ from: rust.file, missing }).toEqual({ from: rust.file, missing: [] })
})
