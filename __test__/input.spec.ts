// Bad input gets a ValidationError naming the field and writes nothing; SQL in ids, keys and
// filters is plain data.
import { PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, makeSession, sql } from './helpers.js'

let adapter: PostgresStorageAdapter
const seeded = makeSession({ id: 'seeded', version: 3 })

beforeAll(async () => {
  await dropTables()
  adapter = new PostgresStorageAdapter(contractConfig())
  await adapter.initialize()
})

afterAll(async () => {
  await adapter.close()
  await dropTables()
})

beforeEach(async () => {
  await sql('TRUNCATE sessions, key_value')
  await adapter.saveSession(seeded)
  await adapter.setValue('seeded-key', { keep: true })
})

/** Everything stored, as text, to compare before and after a refused call. */
async function snapshot(): Promise<string> {
  const sessions = await sql('SELECT id, version, created_at, updated_at, data::text AS data FROM sessions ORDER BY id')
  const values = await sql('SELECT key, value::text AS value, ttl FROM key_value ORDER BY key')
  return JSON.stringify({ sessions, values })
}

const session = (overrides: Record<string, unknown>): Session => ({ ...makeSession(), ...overrides }) as Session

type Case = [name: string, call: (a: PostgresStorageAdapter) => unknown, field: RegExp]

const cases: Case[] = [
  ['missing id', (a) => a.saveSession(session({ id: undefined })), /session\.id/],
  ['empty id', (a) => a.saveSession(session({ id: '' })), /session\.id/],
  ['non-string id', (a) => a.saveSession(session({ id: 42 })), /session\.id/],
  ['id over 255 characters', (a) => a.saveSession(session({ id: 'x'.repeat(256) })), /session\.id.*255/],
  ['id holding U+0000', (a) => a.saveSession(session({ id: 'a\u0000b' })), /session\.id.*U\+0000/],
  ['id with a lone surrogate', (a) => a.getSession('a\ud800b'), /sessionId/],
  ['version 0', (a) => a.saveSession(session({ version: 0 })), /session\.version/],
  ['negative version', (a) => a.saveSession(session({ version: -1 })), /session\.version/],
  ['fractional version', (a) => a.saveSession(session({ version: 1.5 })), /session\.version/],
  ['string version', (a) => a.saveSession(session({ version: '2' })), /session\.version/],
  ['version beyond INTEGER', (a) => a.saveSession(session({ version: 2 ** 31 })), /session\.version/],
  ['createdAt not a Date', (a) => a.saveSession(session({ createdAt: '2026-01-01T00:00:00Z' })), /session\.createdAt/],
  ['updatedAt an invalid Date', (a) => a.saveSession(session({ updatedAt: new Date('nope') })), /session\.updatedAt/],
  ['expiresAt an invalid Date', (a) => a.saveSession(session({ expiresAt: new Date(NaN) })), /session\.expiresAt/],
  ['agentIds not an array', (a) => a.saveSession(session({ agentIds: 'agent-a' })), /session\.agentIds/],
  ['state not a string', (a) => a.saveSession(session({ state: 3 })), /session\.state/],
  ['session null', (a) => a.saveSession(null as any), /session/],
  [
    'circular session',
    (a) => {
      const circular: any = makeSession()
      circular.sharedContext.loop = circular
      return a.saveSession(circular)
    },
    /session cannot be stored as JSON.*circular/i,
  ],
  ['BigInt in metadata', (a) => a.saveSession(session({ metadata: { big: 1n } })), /session cannot be stored as JSON.*BigInt/],
  [
    'U+0000 inside a message',
    (a) => {
      const withNul = makeSession()
      withNul.conversationHistory[0].userMessage = 'before\u0000after'
      return a.saveSession(withNul)
    },
    /session\.conversationHistory\[0\]\.userMessage.*U\+0000/,
  ],
  ['batch not an array', (a) => a.saveSessions({ length: 1 } as any), /sessions must be an array/],
  [
    'one bad session in a batch',
    (a) => a.saveSessions([makeSession(), session({ version: 0 }), makeSession()]),
    /sessions\[1\]\.version/,
  ],
  [
    'duplicate ids in a batch',
    (a) => {
      const twice = makeSession()
      return a.saveSessions([twice, makeSession(), { ...twice, version: 2 }])
    },
    /sessions\[2\]\.id|more than once/,
  ],
  ['getSessions ids not an array', (a) => a.getSessions('seeded' as any), /sessionIds/],
  ['deleteSessions with a non-string id', (a) => a.deleteSessions(['seeded', 7 as any]), /sessionIds\[1\]/],
  ['setValue undefined', (a) => a.setValue('k', undefined), /value/],
  ['setValue key not a string', (a) => a.setValue(12 as any, 'v'), /key/],
  ['setValue empty key', (a) => a.setValue('', 'v'), /key/],
  ['setValue key over 1024 characters', (a) => a.setValue('k'.repeat(1025), 'v'), /key.*1024/],
  ['setValue value holding U+0000', (a) => a.setValue('k', { note: 'x\u0000' }), /value\.note.*U\+0000/],
  ['setValue a function', (a) => a.setValue('k', () => 1), /value/],
  ['setValue a bad ttl', (a) => a.setValue('k', 1, { ttl: -1 }), /options\.ttl/],
  ['listSessions negative limit', (a) => a.listSessions(undefined, -1), /limit/],
  ['listSessions NaN offset', (a) => a.listSessions(undefined, 10, Number.NaN), /offset/],
  ['listSessions state not a string', (a) => a.listSessions(5 as any), /state/],
  ['clear with a non-Date', (a) => a.clear('yesterday' as any), /olderThan/],
  ['constructor: non-numeric port', () => new PostgresStorageAdapter({ ...contractConfig(), port: 'abc' as any }), /port/],
  ['constructor: poolSize 0', () => new PostgresStorageAdapter({ ...contractConfig(), poolSize: 0 }), /poolSize/],
  ['constructor: NaN port', () => new PostgresStorageAdapter({ ...contractConfig(), port: Number.NaN }), /port/],
  [
    'constructor: a URL that is not postgres://',
    () => new PostgresStorageAdapter({ connectionString: 'mysql://u:secret@h/db' }),
    /connectionString/,
  ],
]

it(`has at least 20 bad-input cases (${cases.length})`, () => {
  expect(cases.length).toBeGreaterThanOrEqual(20)
})

it.each(cases)('%s: ValidationError naming the field, nothing written', async (_name, call, field) => {
  const before = await snapshot()
  let error: unknown
  try {
    await call(adapter)
  } catch (caught) {
    error = caught
  }
  expect(error).toBeInstanceOf(ValidationError)
  expect((error as ValidationError).code).toMatch(/^E_(VALIDATION|CONFIG)$/)
  expect((error as Error).message).toMatch(field)
  expect((error as ValidationError).invalidFields?.length).toBeGreaterThan(0)
  expect((error as Error).message).not.toContain('secret')
  expect(await snapshot()).toBe(before)
})

describe('SQL in ids, keys and filters is plain data', () => {
  const nasty = [
    "x'; DROP TABLE sessions; --",
    'a" OR 1=1 --',
    "'); DELETE FROM key_value; --",
    '$1::text',
    'sessions; TRUNCATE sessions',
  ]

  it.each(nasty)('id %j is stored and read back as given', async (id) => {
    await adapter.saveSession(makeSession({ id }))
    expect((await adapter.getSession(id))!.id).toBe(id)
    expect(await adapter.hasSession(id)).toBe(true)
    expect((await adapter.getSessions([id, 'seeded'])).size).toBe(2)
    expect(await adapter.deleteSession(id)).toBe(true)
    expect((await sql('SELECT id FROM sessions')).map((row) => row.id)).toEqual(['seeded'])
  })

  it.each(nasty)('key %j is stored and read back as given', async (key) => {
    await adapter.setValue(key, { key })
    expect(await adapter.getValue(key)).toEqual({ key })
    expect(await adapter.deleteValue(key)).toBe(true)
    expect((await sql('SELECT key FROM key_value')).map((row) => row.key)).toEqual(['seeded-key'])
  })

  it('a state filter holding SQL matches nothing and changes nothing', async () => {
    const before = await snapshot()
    expect(await adapter.listSessions("active' OR '1'='1" as any)).toEqual([])
    expect(await adapter.listSessions("active'; DELETE FROM sessions; --" as any)).toEqual([])
    expect(await snapshot()).toBe(before)
  })
})
