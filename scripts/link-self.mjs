// Makes `import '@smalltalk-ai/postgres-storage'` resolve to this checkout through its `exports`
// map, exactly as it does in a user's project (jest 29 cannot self-reference a package by name).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { name } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const link = path.join(root, 'node_modules', ...name.split('/'))
fs.mkdirSync(path.dirname(link), { recursive: true })
let current = null
try {
  current = fs.realpathSync(link)
} catch {
  // Missing or dangling.
}
if (current !== root) {
  fs.rmSync(link, { recursive: true, force: true })
  const windows = process.platform === 'win32'
  fs.symlinkSync(windows ? root : path.relative(path.dirname(link), root), link, windows ? 'junction' : 'dir')
}
