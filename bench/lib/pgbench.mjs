// The limit: pgbench running the adapter's own SQL (bench/lib/sql.mjs) on the same rows, at the
// same concurrency, against the same database, as one more contestant of a workload's rounds.
// Prepared statements (-M prepared), so the server plans once per connection as the adapter does;
// pgbench variables (`:name`) are bound as parameters.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The pgbench executable: on PATH, else in /usr/lib/postgresql/<version>/bin; null when absent. */
export function findPgbench(env = process.env) {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'pgbench'))) return path.join(dir, 'pgbench')
  }
  const root = '/usr/lib/postgresql'
  if (fs.existsSync(root)) {
    const versions = fs
      .readdirSync(root)
      .filter((entry) => /^\d+$/.test(entry))
      .sort((a, b) => Number(b) - Number(a))
    for (const version of versions) {
      const candidate = path.join(root, version, 'bin', 'pgbench')
      if (fs.existsSync(candidate)) return candidate
    }
  }
  return null
}

/**
 * Runs pgbench for `seconds` with `scripts` (`[{ name, text }]`, picked at random with equal
 * weights per transaction) and `defines` (`-D name=value`), on `searchPath` (the benchmark's own
 * schemas) when given, and resolves to `{ tps, failed,
 * clients, threads, seconds, command }` (the command as shown: no password, long values cut).
 */
export async function runPgbench({ executable, target, scripts, defines = {}, seconds, clients, searchPath = null }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-bench-pgbench-'))
  const threads = Math.min(clients, 2)
  const files = scripts.map((script) => {
    const file = path.join(dir, `${script.name}.sql`)
    fs.writeFileSync(file, `${script.text}\n`)
    return file
  })
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(clients),
    '-j',
    String(threads),
    '-T',
    String(seconds),
    ...Object.entries(defines).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
    ...files.flatMap((file) => ['-f', file]),
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.user,
    target.database,
  ]
  try {
    const env = { ...process.env, PGPASSWORD: target.password }
    if (searchPath !== null) env.PGOPTIONS = `-c search_path=${searchPath}`
    const { code, stdout, stderr } = await run(executable, args, env)
    if (code !== 0)
      throw new Error(`pgbench exited with ${code}: ${(stderr || stdout).trim().split('\n').slice(-3).join(' | ')}`)
    const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout) ?? /tps = ([\d.]+)/.exec(stdout)
    if (!match) throw new Error(`no tps in pgbench's output: ${stdout.trim().split('\n').slice(-3).join(' | ')}`)
    const failed = /number of failed transactions: (\d+)/.exec(stdout)
    // As shown: no password, long values cut, many scripts as one pattern.
    const shownArgs = args
      .filter((arg) => !files.includes(arg))
      .map((arg) => (arg.length > 60 ? `${arg.slice(0, 40)}…` : arg))
    const scriptsShown =
      scripts.length === 1
        ? `${scripts[0].name}.sql`
        : `{${scripts[0].name}..${scripts.at(-1).name}}.sql (${scripts.length} scripts)`
    const at = shownArgs.indexOf('-f')
    shownArgs.splice(at, scripts.length, '-f', scriptsShown)
    const shown = shownArgs.join(' ')
    return {
      tps: Number(match[1]),
      failed: failed ? Number(failed[1]) : 0,
      clients,
      threads,
      seconds,
      command: `${searchPath === null ? '' : `PGOPTIONS='-c search_path=${searchPath}' `}pgbench ${shown}`,
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function run(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
