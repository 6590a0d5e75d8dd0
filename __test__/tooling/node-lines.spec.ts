// One claim about Node versions, said the same everywhere: package.json `engines` names the
// lines, `npm run test:node-matrix` runs each of them (scripts/lib/node-lines.mjs reads them from
// `engines`), the CI matrices test the same lines, the README's Install and docs/install.md name
// them, and none is past its end of life (Node's release schedule, https://github.com/nodejs/Release).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeLines } from '../../scripts/lib/node-lines.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8')
const manifest = JSON.parse(read('package.json'))
const lines: string[] = nodeLines(manifest.engines.node)

/** End of life of each even Node line. */
const END_OF_LIFE: Record<string, string> = {
  '18': '2025-04-30',
  '20': '2026-04-30',
  '22': '2027-04-30',
  '24': '2028-04-30',
  '26': '2029-04-30',
}

it('engines names supported lines only, the active LTS among them', () => {
  expect(lines.length).toBeGreaterThan(0)
  const today = new Date().toISOString().slice(0, 10)
  for (const line of lines) {
    expect({ line, known: END_OF_LIFE[line] !== undefined }).toEqual({ line, known: true })
    expect({ line, pastEndOfLife: END_OF_LIFE[line] < today }).toEqual({ line, pastEndOfLife: false })
  }
  // Every line between the lowest and the highest claimed that is still supported is claimed too.
  const supported = Object.keys(END_OF_LIFE).filter(
    (line) => END_OF_LIFE[line] >= today && Number(line) >= Number(lines[0]),
  )
  expect(lines).toEqual(expect.arrayContaining(supported.filter((line) => Number(line) <= Number(lines.at(-1)))))
})

it('reads the lines out of an engines range', () => {
  expect(nodeLines('^22 || ^24 || >= 26')).toEqual(['22', '24', '26'])
  expect(nodeLines('>=24.2.0')).toEqual(['24'])
  expect(() => nodeLines('lts/*')).toThrow('cannot read a Node line')
})

it('every Node matrix of the CI workflow tests exactly those lines', () => {
  const workflow = read('.github/workflows/CI.yml')
  const matrices = [...workflow.matchAll(/^(\s+)node:\n((?:\1  - '\d+'\n)+)/gm)].map((found) =>
    [...found[2].matchAll(/'(\d+)'/g)].map((entry) => entry[1]),
  )
  expect(matrices.length).toBeGreaterThanOrEqual(2)
  for (const matrix of matrices) expect(matrix).toEqual(lines)
  expect(workflow).not.toMatch(/node-version: (18|20)\b/)
})

it('the README and docs/install.md name the same lines where they say which Node versions are supported and tested', () => {
  const readme = read('README.md')
  const guide = read('docs/install.md')
  const named = `Node.js ${lines.slice(0, -1).join(', ')} and ${lines.at(-1)}`
  const install = readme.slice(readme.indexOf('## Install'), readme.indexOf('## Quick start'))
  expect(guide).toContain('\n## Supported platforms\n')
  const platforms = guide.slice(guide.indexOf('\n## Supported platforms\n'))
  expect(install).toContain(named)
  expect(guide).toContain(`${named} (\`engines\``)
  expect(platforms).toContain(named)
  expect(install + guide).not.toMatch(/Node(\.js)? (18|20)\b/)
})
