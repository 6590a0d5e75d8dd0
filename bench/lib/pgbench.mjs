// The physical limit of this machine for the typical read: pgbench running the same SELECT (random
// id among the seeded typical sessions, prepared, 16 clients on 2 threads) against the same database.
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
 * Runs pgbench for `seconds` over the ids `${idPrefix}0` … `${idPrefix}${rows - 1}` and resolves to
 * `{ tps, clients, threads, seconds, command }` (the command as shown, without the password).
 */
export async function runPgbench({ executable, target, idPrefix, rows, seconds, clients = 16, threads = 2 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-bench-pgbench-'))
  const script = path.join(dir, 'typical-read.sql')
  fs.writeFileSync(
    script,
    `\\set n random(0, ${rows - 1})\nSELECT data FROM sessions WHERE id = '${idPrefix}' || :n;\n`,
  )
  const args = [
    '-n',
    '-M', 'prepared',
    '-c', String(clients),
    '-j', String(threads),
    '-T', String(seconds),
    '-f', script,
    '-h', target.host,
    '-p', String(target.port),
    '-U', target.user,
    target.database,
  ]
  try {
    const { code, stdout, stderr } = await run(executable, args, { ...process.env, PGPASSWORD: target.password })
    if (code !== 0) throw new Error(`pgbench exited with ${code}: ${(stderr || stdout).trim().split('\n').slice(-3).join(' | ')}`)
    const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout) ?? /tps = ([\d.]+)/.exec(stdout)
    if (!match) throw new Error(`no tps in pgbench's output: ${stdout.trim().split('\n').slice(-3).join(' | ')}`)
    const failed = /number of failed transactions: (\d+)/.exec(stdout)
    return {
      tps: Number(match[1]),
      failedTransactions: failed ? Number(failed[1]) : 0,
      clients,
      threads,
      seconds,
      command: `pgbench ${args.join(' ').replace(script, 'typical-read.sql')}`,
      script: fs.readFileSync(script, 'utf8').trim(),
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
