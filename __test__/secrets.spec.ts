// Passwords never leak: a connection URL whose password holds an unencoded
// `/`, `?`, `#` or `@` (common in generated passwords) must never have any part of it quoted in an
// error, whatever fails (the constructor, initialize(), the login). A configuration error about
// such a URL is a ValidationError E_CONFIG that says how to percent-encode. A throwaway cluster
// of our own with password authentication, and one login role (and database) per password.
import { inspect } from 'node:util'
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'

const ADMIN_PASSWORD = 'Adm-Srv-Pw-41'

/** Distinctive passwords, each with characters that must be percent-encoded in a URL. */
const PASSWORDS: Array<[role: string, password: string]> = [
  ['pw_slash', 'Zq7/Xw9'],
  ['pw_question', 'Kp3?Lm5'],
  ['pw_hash', 'Vb1#Nc8'],
  ['pw_at', 'Qe4@Ty6'],
  ['pw_all', 'Hd2/Rg5?Js8#Wf3@Pk6'],
]

let cluster: Throwaway

beforeAll(async () => {
  cluster = await startThrowaway({ database: 'secrets', password: ADMIN_PASSWORD })
  const client = new pg.Client({ ...cluster.target })
  await client.connect()
  try {
    for (const [role, password] of PASSWORDS) {
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
      // Each role its own database (it owns its public schema), so each creates its own tables.
      await client.query(`CREATE DATABASE db_${role} OWNER ${role}`)
    }
  } finally {
    await client.end()
  }
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

/** The password and every piece of it of 3 or more characters between the special characters. */
function fragments(password: string): string[] {
  return [password, ...password.split(/[/?#@]/).filter((piece) => piece.length >= 3)]
}

/** Everything an error shows: message, stack, its causes (recursively), JSON and inspect output. */
function renderings(error: unknown, depth = 0): string[] {
  if (error === null || error === undefined || depth > 5) return []
  if (typeof error !== 'object') return [String(error)]
  const { message, stack, cause, invalidFields } = error as Error & { invalidFields?: unknown }
  let json: string
  try {
    json = JSON.stringify(error) ?? ''
  } catch (caught) {
    json = `(JSON.stringify threw ${(caught as Error).message})`
  }
  return [
    String(message),
    String(stack),
    String(error),
    json,
    JSON.stringify(invalidFields ?? null),
    inspect(error, { depth: 10 }),
    ...renderings(cause, depth + 1),
  ]
}

function expectNoFragment(error: unknown, password: string, where: string): void {
  const text = renderings(error).join('\n')
  const leaked = fragments(password).filter((fragment) => text.includes(fragment))
  expect({ where, leaked, text: leaked.length > 0 ? text.slice(0, 400) : '' }).toEqual({ where, leaked: [], text: '' })
}

/** Runs `attempt`: 'connected' when it resolved, else the error it threw or rejected with. */
async function outcome(attempt: () => Promise<void>): Promise<unknown> {
  try {
    await attempt()
    return 'connected'
  } catch (error) {
    return error
  }
}

/** A configuration error about the URL: ValidationError E_CONFIG saying how to percent-encode. */
function expectHelpfulConfigError(error: unknown): void {
  const refused = error as StorageError & { invalidFields?: string[] }
  expect(refused.code).toBe('E_CONFIG')
  expect(refused.message).toMatch(/connectionString|location/)
  expect(refused.message).toMatch(/percent-encod/i)
  expect(refused.message).toMatch(/%2F|%3F|%23|%40/i)
}

describe.each(PASSWORDS)('a URL whose password is unencoded (role %s)', (role, password) => {
  const rawUrl = () => `postgres://${role}:${password}@127.0.0.1:${cluster.target.port}/db_${role}`

  it('percent-encoded, the same URL logs in (the server checks this password)', async () => {
    const adapter = new PostgresStorageAdapter({
      connectionString: `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${cluster.target.port}/db_${role}`,
      poolSize: 1,
    })
    try {
      await adapter.initialize()
      expect(await adapter.healthCheck()).toEqual({ healthy: true })
    } finally {
      await adapter.close()
    }
  })

  it('as connectionString: no fragment of the password in any error; a config error says how to encode it', async () => {
    let adapter: PostgresStorageAdapter | undefined
    const result = await outcome(async () => {
      adapter = new PostgresStorageAdapter({ connectionString: rawUrl(), poolSize: 1 })
      await adapter.initialize()
    })
    try {
      if (result === 'connected') return // parsed right: the password reached the server intact
      expect(result).toBeInstanceOf(StorageError)
      expectNoFragment(result, password, 'the error')
      if ((result as Error).name === 'ValidationError') expectHelpfulConfigError(result)
      else expect((result as StorageError).code).toBe('E_CONNECTION')
      if (adapter !== undefined) {
        const health = await adapter.healthCheck()
        expect(health.healthy).toBe(false)
        expectNoFragment(health.message, password, 'healthCheck().message')
      }
    } finally {
      await adapter?.close()
    }
  })

  it('as initialize({ location }): no fragment of the password in any error; a config error says how to encode it', async () => {
    const adapter = new PostgresStorageAdapter({ ...cluster.target, poolSize: 1 })
    try {
      const result = await outcome(() => adapter.initialize({ location: rawUrl() }))
      if (result === 'connected') return
      expect(result).toBeInstanceOf(StorageError)
      expectNoFragment(result, password, 'the error')
      if ((result as Error).name === 'ValidationError') expectHelpfulConfigError(result)
      else expect((result as StorageError).code).toBe('E_CONNECTION')
      expectNoFragment((await adapter.healthCheck()).message, password, 'healthCheck().message')
    } finally {
      await adapter.close()
    }
  })
})

it('a wrong password with special characters, percent-encoded: the login error quotes none of it', async () => {
  const wrong = 'Wr9/Ng7?Xc4'
  const adapter = new PostgresStorageAdapter({
    connectionString: `postgres://pw_all:${encodeURIComponent(wrong)}@127.0.0.1:${cluster.target.port}/db_pw_all`,
    poolSize: 1,
  })
  try {
    const result = await outcome(() => adapter.initialize())
    expect(result).toBeInstanceOf(StorageError)
    expect((result as StorageError).code).toBe('E_CONNECTION')
    expect((result as Error).message).toMatch(/password authentication failed/)
    expectNoFragment(result, wrong, 'the error')
    expectNoFragment(result, encodeURIComponent(wrong), 'the error')
  } finally {
    await adapter.close()
  }
})
