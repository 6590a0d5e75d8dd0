// The options are declared once, in the Rust `Options` struct (found by grepping src/ for
// `pub struct Options`, wherever it lives), and listed twice for users: in index.d.ts
// (PostgresConfig) and in the options table of docs/configuration.md. Every field, under the name
// JS gives it (serde's rename_all / rename, plus any serde alias), must appear in both lists, and
// the README's configuration overview names every field (aliases may be left to the table).
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

/** The backquoted names in the first column of docs/configuration.md's options table (aliases in brackets included). */
function tableOptionNames(): Set<string> {
  const guide = read('docs/configuration.md')
  const table = /^\| option \| default \| meaning \|\n\| --- \| --- \| --- \|\n((?:\|.*\n)+)/m.exec(guide)
  expect(table).not.toBeNull()
  const firstCells = table![1].split('\n').map((row) => row.split('|')[1] ?? '')
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((found) => found[1])))
}

/** The backquoted names in the second column of the README's configuration overview. */
function readmeOverviewNames(): Set<string> {
  const readme = read('README.md')
  const table = /^\| for \| options \(default\) \|\n\| --- \| --- \|\n((?:\|.*\n)+)/m.exec(readme)
  expect(table).not.toBeNull()
  const cells = table![1].split('\n').map((row) => row.split('|')[2] ?? '')
  return new Set(cells.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((found) => found[1])))
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

it('every field of the Rust Options struct, and each serde alias, has a row in the options table of docs/configuration.md', () => {
  const rust = rustOptionNames()
  const documented = tableOptionNames()
  const missing = rust.fields.flat().filter((name) => !documented.has(name))
  expect({ from: rust.file, missing }).toEqual({ from: rust.file, missing: [] })
})

// The options the JS face handles alone (`ttl`, `namespace`, `errorClasses`) are typed but not in the struct.
it('every property of PostgresConfig has a row in the options table of docs/configuration.md', () => {
  const documented = tableOptionNames()
  const missing = [...typingsOptionNames()].filter((name) => !documented.has(name))
  expect(missing).toEqual([])
})

it("every field of the Rust Options struct is named in the README's configuration overview", () => {
  const rust = rustOptionNames()
  const named = readmeOverviewNames()
  const missing = rust.fields.map((names) => names[0]).filter((name) => !named.has(name))
  expect({ from: rust.file, missing }).toEqual({ from: rust.file, missing: [] })
})

// The Keyv store takes the adapter's options but those Keyv has its own of: the ones keyv.js
// refuses are the ones keyv.d.ts leaves out of its options type, and both are the adapter's options.
it("the Keyv store's refused options are the adapter options its typings leave out", () => {
  const refused = [...read('keyv.js').matchAll(/^ {2}(\w+): '/gm)].map((found) => found[1])
  const omitted = /KeyvPostgresStoreOptions = Omit<PostgresConfig, ([^>]+)>/.exec(read('keyv.d.ts'))
  expect(omitted).not.toBeNull()
  expect(refused).toEqual(['namespace', 'ttl'])
  expect([...omitted![1].matchAll(/'(\w+)'/g)].map((found) => found[1])).toEqual(refused)
  const typed = typingsOptionNames()
  for (const name of refused) expect({ name, option: typed.has(name) }).toEqual({ name, option: true })
})
