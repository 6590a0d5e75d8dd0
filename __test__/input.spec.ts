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
  [
    'BigInt in metadata',
    (a) => a.saveSession(session({ metadata: { big: 1n } })),
    /session cannot be stored as JSON.*BigInt/,
  ],
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
  [
    'constructor: non-numeric port',
    () => new PostgresStorageAdapter({ ...contractConfig(), port: 'abc' as any }),
    /port/,
  ],
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

describe('clear() and null', () => {
  it('clear(null) rejects with ValidationError E_VALIDATION naming olderThan, and deletes nothing', async () => {
    await adapter.saveSession(makeSession())
    const before = await snapshot()
    const error = await adapter.clear(null as any).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).code).toBe('E_VALIDATION')
    expect((error as ValidationError).invalidFields).toEqual(['olderThan'])
    expect((error as Error).message).toMatch(/olderThan/)
    expect(await snapshot()).toBe(before)
  })

  it('clear() with no argument (or undefined) still deletes every session', async () => {
    await adapter.saveSessions([makeSession(), makeSession()])
    expect(await adapter.clear()).toBe(3)
    expect((await sql('SELECT count(*)::int AS n FROM sessions'))[0].n).toBe(0)
    await adapter.saveSession(makeSession())
    expect(await adapter.clear(undefined)).toBe(1)
    expect(await adapter.getValue('seeded-key')).toEqual({ keep: true })
  })
})

describe('lossy input is refused, naming the path', () => {
  const invalidDate = () => new Date('not a date')
  const agentIds = ['alpha', 'beta']
  // makeSession shares turn objects between conversationHistory and each messageHistory: copy
  // them, so an edit lands at exactly one path.
  const copyTurns = (turns: any[]) =>
    turns.map((turn) => ({ ...turn, agentResponses: turn.agentResponses.map((response: any) => ({ ...response })) }))
  const withHistory = (edit: (session: any) => void) => (a: PostgresStorageAdapter) => {
    const edited: any = makeSession({ agentIds })
    edited.conversationHistory = copyTurns(edited.conversationHistory)
    for (const id of agentIds) edited.agentStates[id].messageHistory = copyTurns(edited.agentStates[id].messageHistory)
    edit(edited)
    return a.saveSession(edited)
  }
  const shared = (value: unknown) => session({ sharedContext: { project: 'demo', score: value } })
  const extra = (value: unknown) => session({ metadata: { userId: 'u', tags: [], extra: value } })

  const lossy: Case[] = [
    ['NaN in a session', (a) => a.saveSession(shared(Number.NaN)), /session\.sharedContext\.score/],
    ['Infinity in a session', (a) => a.saveSession(shared(Infinity)), /session\.sharedContext\.score/],
    ['-Infinity in a session', (a) => a.saveSession(shared(-Infinity)), /session\.sharedContext\.score/],
    [
      'NaN inside an array',
      (a) => a.saveSession(session({ sharedContext: { scores: [1, 2, Number.NaN] } })),
      /session\.sharedContext\.scores\[2\]/,
    ],
    ['a Map in a session', (a) => a.saveSession(extra(new Map([['k', 1]]))), /session\.metadata\.extra/],
    ['a Set in a session', (a) => a.saveSession(extra(new Set([1]))), /session\.metadata\.extra/],
    ['a RegExp in a session', (a) => a.saveSession(extra(/x+/g)), /session\.metadata\.extra/],
    ['an Error in a session', (a) => a.saveSession(extra(new Error('boom'))), /session\.metadata\.extra/],
    [
      'an Invalid Date as a turn timestamp',
      withHistory((s) => {
        s.conversationHistory[0].timestamp = invalidDate()
      }),
      /session\.conversationHistory\[0\]\.timestamp/,
    ],
    [
      "an Invalid Date as an agent response's timestamp",
      withHistory((s) => {
        s.conversationHistory[1].agentResponses[0].timestamp = invalidDate()
      }),
      /session\.conversationHistory\[1\]\.agentResponses\[0\]\.timestamp/,
    ],
    [
      "an Invalid Date in an agent's messageHistory",
      withHistory((s) => {
        s.agentStates.beta.messageHistory[0].timestamp = invalidDate()
      }),
      /session\.agentStates(\.beta|\["beta"\])\.messageHistory\[0\]\.timestamp/,
    ],
    [
      'NaN in one session of a batch',
      (a) => a.saveSessions([makeSession(), shared(Number.NaN), makeSession()]),
      /sessions\[1\]\.sharedContext\.score/,
    ],
    ['setValue NaN', (a) => a.setValue('lossy', Number.NaN), /value/],
    ['setValue NaN inside the value', (a) => a.setValue('lossy', { x: Number.NaN }), /value\.x/],
    ['setValue Infinity inside the value', (a) => a.setValue('lossy', { x: Infinity }), /value\.x/],
    ['setValue -Infinity inside the value', (a) => a.setValue('lossy', { x: -Infinity }), /value\.x/],
    ['setValue Infinity inside an array', (a) => a.setValue('lossy', { list: [1, 2, Infinity] }), /value\.list\[2\]/],
    ['setValue a Map inside the value', (a) => a.setValue('lossy', { x: new Map() }), /value\.x/],
    ['setValue a Set inside the value', (a) => a.setValue('lossy', { x: new Set() }), /value\.x/],
    ['setValue a RegExp inside the value', (a) => a.setValue('lossy', { x: /y/ }), /value\.x/],
    ['setValue an Error inside the value', (a) => a.setValue('lossy', { x: new TypeError('no') }), /value\.x/],
    ['setValue an Invalid Date inside the value', (a) => a.setValue('lossy', { x: invalidDate() }), /value\.x/],
  ]

  it.each(lossy)('%s: ValidationError E_VALIDATION naming the path, nothing written', async (_name, call, field) => {
    const before = await snapshot()
    let error: unknown
    try {
      await call(adapter)
    } catch (caught) {
      error = caught
    }
    if (error === undefined) throw new Error('the call resolved: the value was stored lossily')
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).code).toBe('E_VALIDATION')
    expect((error as Error).message).toMatch(field)
    expect((error as ValidationError).invalidFields?.some((name) => field.test(name))).toBe(true)
    expect(await snapshot()).toBe(before)
  })

  it('ordinary values still save and round-trip: null, {}, [], nested objects, Dates, absent (undefined) fields', async () => {
    const when = new Date('2026-03-04T05:06:07.089Z')
    const ordinary = makeSession({
      agentIds,
      sharedContext: {
        nothing: null,
        empty: {},
        list: [],
        nested: { a: [1, { b: null, c: [[], {}] }], zero: 0, negative: -1.5 },
        when,
      },
      metadata: { userId: undefined, tags: [], extra: { deep: { deeper: 'yes' } } },
    })
    await adapter.saveSession(ordinary)
    const read = (await adapter.getSession(ordinary.id))!
    expect(read.sharedContext).toEqual({ ...ordinary.sharedContext, when: when.toISOString() })
    expect(read.metadata).toEqual({ tags: [], extra: { deep: { deeper: 'yes' } } })
    expect(read.conversationHistory).toEqual(ordinary.conversationHistory)
    expect(read.agentStates).toEqual(ordinary.agentStates)
    expect(read.createdAt).toEqual(ordinary.createdAt)

    const value = { nothing: null, empty: {}, list: [], nested: { a: [1, { b: null }] }, when, flag: false, text: '' }
    await adapter.setValue('ordinary', value)
    expect(await adapter.getValue('ordinary')).toEqual({ ...value, when: when.toISOString() })
    await adapter.setValue('ordinary-null', null)
    expect(await adapter.hasValue('ordinary-null')).toBe(true)
    await adapter.setValue('ordinary-list', [])
    expect(await adapter.getValue('ordinary-list')).toEqual([])
  })
})

describe('out-of-range input is a ValidationError naming the field, not E_QUERY', () => {
  // PostgreSQL's timestamp starts at 4714-11-24 BC; a JS Date can go back to 271821 BC.
  const earliestJsDate = () => new Date(-8.64e15)
  const before4713Bc = () => new Date(Date.UTC(-5000, 0, 1))

  const outOfRange: Case[] = [
    [
      'saveSession createdAt before 4713 BC',
      (a) => a.saveSession(session({ createdAt: earliestJsDate() })),
      /session\.createdAt/,
    ],
    [
      'saveSession createdAt in 5001 BC',
      (a) => a.saveSession(session({ createdAt: before4713Bc() })),
      /session\.createdAt/,
    ],
    [
      'saveSession updatedAt before 4713 BC',
      (a) => a.saveSession(session({ updatedAt: earliestJsDate() })),
      /session\.updatedAt/,
    ],
    [
      'saveSessions with one createdAt before 4713 BC',
      (a) => a.saveSessions([makeSession(), session({ createdAt: earliestJsDate() })]),
      /sessions\[1\]\.createdAt/,
    ],
    [
      'saveSessions with one updatedAt before 4713 BC',
      (a) => a.saveSessions([session({ updatedAt: before4713Bc() }), makeSession()]),
      /sessions\[0\]\.updatedAt/,
    ],
    ['clear(olderThan) before 4713 BC', (a) => a.clear(earliestJsDate()), /olderThan/],
    ['setValue with a ttl of 1e13 seconds', (a) => a.setValue('far', 1, { ttl: 1e13 }), /options\.ttl/],
  ]

  it.each(outOfRange)(
    '%s: ValidationError E_VALIDATION naming the field, nothing written',
    async (_name, call, field) => {
      const before = await snapshot()
      let error: unknown
      try {
        await call(adapter)
      } catch (caught) {
        error = caught
      }
      if (error === undefined) throw new Error('the call resolved')
      const seen = `${(error as Error).name} ${(error as ValidationError).code}: ${(error as Error).message}`
      expect(seen).toMatch(/^ValidationError E_VALIDATION: /)
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as Error).message).toMatch(field)
      expect((error as ValidationError).invalidFields?.some((name) => field.test(name))).toBe(true)
      expect(await snapshot()).toBe(before)
    },
  )

  it('an adapter-wide default ttl of 1e13 seconds is refused as ValidationError naming ttl, never E_QUERY', async () => {
    let error: unknown
    let other: PostgresStorageAdapter | undefined
    try {
      other = new PostgresStorageAdapter({ ...contractConfig(), ttl: 1e13 })
      await other.initialize()
      await other.setValue('far-default', 1)
    } catch (caught) {
      error = caught
    } finally {
      await other?.close()
    }
    if (error === undefined) throw new Error('setValue resolved')
    expect(`${(error as Error).name} ${(error as ValidationError).code}`).toMatch(
      /^ValidationError E_(VALIDATION|CONFIG)$/,
    )
    expect((error as Error).message).toMatch(/ttl/)
    expect(await adapter.hasValue('far-default')).toBe(false)
  })

  it('dates within both ranges still save and read back to the millisecond (4001 BC, 275760 AD)', async () => {
    const ancient = makeSession({
      createdAt: new Date(Date.UTC(-4000, 0, 1, 0, 0, 0, 1)),
      updatedAt: new Date(Date.UTC(-4000, 0, 2)),
    })
    const latest = makeSession({ createdAt: new Date(8.64e15), updatedAt: new Date(8.64e15) })
    await adapter.saveSessions([ancient, latest])
    expect((await adapter.getSession(ancient.id))!.createdAt.getTime()).toBe(ancient.createdAt.getTime())
    expect((await adapter.getSession(latest.id))!.updatedAt.getTime()).toBe(8.64e15)
    const rows = await sql('SELECT id FROM sessions WHERE id = ANY($1) ORDER BY updated_at', [[ancient.id, latest.id]])
    expect(rows.map((row) => row.id)).toEqual([ancient.id, latest.id])
    await adapter.setValue('long-lived', 1, { ttl: 1e9 })
    expect(await adapter.getValue('long-lived')).toBe(1)
  })
})
