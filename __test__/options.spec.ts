// Options as users coming from `pg` write them: unknown names refused, `pg`'s names honoured,
// idle connections closed, and DATABASE_URL as the fallback connection.
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { connectionsNamed, contractConfig, dropTables, makeSession, sleep, testServer } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function connectionsOf(applicationName: string): Promise<number> {
  return connectionsNamed(testServer(), applicationName)
}

beforeAll(dropTables)
afterAll(dropTables)

it('an unknown option is refused with ValidationError naming it, instead of being ignored', () => {
  for (const [options, name] of [
    [{ maxx: 3 }, 'maxx'],
    [{ poolsize: 3 }, 'poolsize'],
    [{ ssl: { cert: 'PEM' } }, 'ssl'],
  ] as const) {
    let caught: unknown
    try {
      new PostgresStorageAdapter({ ...contractConfig(), ...(options as object) } as PostgresConfig)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ValidationError)
    expect((caught as ValidationError).code).toBe('E_CONFIG')
    expect((caught as ValidationError).message).toContain(`\`${name}\``)
    expect((caught as ValidationError).invalidFields).toEqual([name])
  }
})

it("an option given under both its names (pg's and ours) is refused with ValidationError naming both", () => {
  for (const [options, pgName, ours] of [
    [{ max: 3, poolSize: 5 }, 'max', 'poolSize'],
    [{ query_timeout: 1000, queryTimeoutMs: 2000 }, 'query_timeout', 'queryTimeoutMs'],
  ] as const) {
    let caught: unknown
    try {
      new PostgresStorageAdapter({ ...contractConfig(), ...options })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ValidationError)
    expect((caught as ValidationError).code).toBe('E_CONFIG')
    expect((caught as ValidationError).invalidFields).toEqual([ours])
    expect((caught as ValidationError).message).toBe(
      `invalid option \`${ours}\`: \`${pgName}\` and \`${ours}\` are two names of one option (pg's and ours): give one`,
    )
  }
})

it("pg's option names work as aliases: max, connectionTimeoutMillis, application_name, statement_timeout", async () => {
  const adapter = new PostgresStorageAdapter({
    ...contractConfig(),
    poolSize: undefined,
    max: 3,
    connectionTimeoutMillis: 2000,
    application_name: 'options-spec-alias',
    statement_timeout: 5000,
  })
  await adapter.initialize()
  try {
    const stats = await adapter.getStats()
    expect(stats.metrics.pool.maxSize).toBe(3)
    expect(await connectionsOf('options-spec-alias')).toBeGreaterThanOrEqual(1)
  } finally {
    await adapter.close()
  }
})

it('idleTimeoutMs (idleTimeoutMillis) closes connections left unused, and the next call opens one', async () => {
  const applicationName = 'options-spec-idle'
  const adapter = new PostgresStorageAdapter({ ...contractConfig(), applicationName, idleTimeoutMillis: 300 })
  await adapter.initialize()
  try {
    const session = makeSession()
    await Promise.all([adapter.saveSession(session), adapter.hasSession('x'), adapter.hasSession('y')])
    expect(await connectionsOf(applicationName)).toBeGreaterThanOrEqual(1)
    const deadline = Date.now() + 5000
    while ((await connectionsOf(applicationName)) > 0 && Date.now() < deadline) await sleep(100)
    expect(await connectionsOf(applicationName)).toBe(0)
    expect((await adapter.getSession(session.id))?.id).toBe(session.id)
  } finally {
    await adapter.close()
  }
})

it('each connection field comes from DATABASE_URL before PG* variables, and an explicit option wins over both', async () => {
  const { host, port, database, user, password } = testServer()
  const applicationName = 'options-spec-url'
  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}?application_name=${applicationName}`
  const script = `
    const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
    ;(async () => {
      const fromUrl = new PostgresStorageAdapter({ poolSize: 1 })
      const explicit = new PostgresStorageAdapter({ poolSize: 1, applicationName: 'options-spec-explicit' })
      await fromUrl.initialize()
      await explicit.initialize()
      process.stdout.write('ready\\n')
      await new Promise((resolve) => process.stdin.once('data', resolve))
      await fromUrl.close()
      await explicit.close()
    })().catch((error) => { console.error(error); process.exit(1) })
  `
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: url,
    PGHOST: 'pg-variables-are-not-used.invalid',
    PGAPPNAME: 'pg-variables-are-not-used',
  }
  const child = spawn(process.execPath, ['-e', script], { cwd: root, env, stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => (String(chunk).includes('ready') ? resolve() : undefined))
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
    })
    expect(await connectionsOf(applicationName)).toBe(1)
    expect(await connectionsOf('options-spec-explicit')).toBe(1)
  } finally {
    child.stdin!.end('done\n')
    await new Promise((resolve) => child.once('exit', resolve))
  }
})
