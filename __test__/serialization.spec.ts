// The stored format is exactly JSON.stringify's, however the session is shaped, and Date revival
// reads exactly what `new Date(text)` reads: the fast paths must never change a byte or an instant.
import { deserializeSession, serializeSession } from '@smalltalk-ai/postgres-storage'
import { makeSession, makeTurns } from './helpers.js'

const instants = [
  0, 1, 999, 86_399_999, 951_782_400_000 /* 2000-02-29 */, 1_709_164_800_123 /* 2024-02-29 */, 4_107_542_399_999,
  253_402_300_799_999 /* 9999-12-31T23:59:59.999 */, 253_402_300_800_000, -1, -62_198_755_200_000, 8.64e15, -8.64e15,
]

describe('serializeSession is JSON.stringify', () => {
  const shapes: Array<[string, () => unknown]> = [
    ['a typical session', () => makeSession()],
    ['a large session', () => makeSession({ conversationHistory: makeTurns(300) })],
    ['Dates at edge instants', () => {
      const dated = makeSession()
      dated.conversationHistory.forEach((turn, index) => {
        turn.timestamp = new Date(instants[index % instants.length])
        turn.agentResponses[0].timestamp = new Date(instants[(index + 5) % instants.length])
      })
      dated.createdAt = new Date(instants[7])
      dated.expiresAt = new Date(-1)
      return dated
    }],
    ['every instant of a year, hour by hour', () => {
      const turns = makeTurns(24 * 366)
      turns.forEach((turn, index) => (turn.timestamp = new Date(Date.UTC(2024, 0, 1) + index * 3_600_000 + index)))
      return makeSession({ conversationHistory: turns })
    }],
    ['invalid Dates inside turns (written as null)', () => {
      const session = makeSession()
      session.conversationHistory[0].timestamp = new Date(Number.NaN)
      session.conversationHistory[1].agentResponses[1].timestamp = new Date('nope')
      return session
    }],
    ['timestamps that are not Dates', () => {
      const session: any = makeSession()
      session.conversationHistory[0].timestamp = '2026-01-01T00:00:00.000Z'
      session.conversationHistory[1].timestamp = 12345
      session.conversationHistory[2].agentResponses = null
      session.expiresAt = undefined
      return session
    }],
    ['extra fields, nested Dates elsewhere, key order', () => {
      const session: any = makeSession()
      return {
        zeta: 1,
        ...session,
        metadata: { ...session.metadata, seenAt: new Date(5), nested: [new Date(6), { at: new Date(7) }] },
        sharedContext: { undef: undefined, fn: () => 1, sym: Symbol('s'), big: [1, , 3] },
        alpha: 'last',
      }
    }],
    ['a Date subclass and a Date with its own toJSON', () => {
      class Stamp extends Date {}
      const custom = new Date(42) as any
      custom.toJSON = () => 'custom'
      const session = makeSession()
      session.conversationHistory[0].timestamp = new Stamp(1000)
      session.conversationHistory[1].timestamp = custom
      return session
    }],
    ['turns and states that are not plain', () => {
      const session: any = makeSession()
      session.conversationHistory = [null, 7, 'x', [1, 2], { toJSON: () => 'turn' }, ...session.conversationHistory]
      session.agentStates = { a: null, b: { config: {}, context: {}, messageHistory: 'none' }, c: { messageHistory: [] } }
      return session
    }],
    ['getters are read once, as JSON.stringify reads them', () => {
      const session: any = makeSession()
      Object.defineProperty(session.conversationHistory[0], 'computed', { get: () => 'value', enumerable: true })
      return session
    }],
    ['not an object', () => 'just a string'],
    ['an array', () => [makeSession()]],
  ]

  it.each(shapes)('%s', (_name, make) => {
    const value = make()
    expect(serializeSession(value as any)).toBe(JSON.stringify(value))
  })

  it('does not modify the session it serializes', () => {
    const session = makeSession()
    const before = JSON.stringify(session)
    serializeSession(session)
    expect(session.createdAt).toBeInstanceOf(Date)
    expect(session.conversationHistory[0].timestamp).toBeInstanceOf(Date)
    expect(JSON.stringify(session)).toBe(before)
  })

  it('still refuses circular structures', () => {
    const session: any = makeSession()
    session.conversationHistory[0].parent = session
    expect(() => serializeSession(session)).toThrow(/circular/i)
  })
})

describe('deserializeSession reads dates as new Date(text) does', () => {
  const texts = [
    ...instants.map((ms) => new Date(ms).toISOString()),
    '2026-11-24T18:31:04.283Z', '2024-02-29T23:59:59.999Z', '2023-02-29T00:00:00.000Z', '2026-13-01T00:00:00.000Z',
    '2026-04-31T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '0000-01-01T00:00:00.000Z',
    '0099-06-15T12:00:00.000Z', '2026-1a-01T00:00:00.000Z', '2026-01-01T00:00:00.000+', '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00.000+02:00', '2026-01-01', 'not a date', '', '+275760-09-13T00:00:00.000Z',
  ]

  it.each(texts)('%j', (text) => {
    const session = deserializeSession(JSON.stringify({ createdAt: text, conversationHistory: [{ timestamp: text }] }))
    const expected = new Date(text).getTime()
    expect(session.createdAt).toBeInstanceOf(Date)
    expect(session.createdAt.getTime()).toBe(expected)
    expect(session.conversationHistory[0].timestamp.getTime()).toBe(expected)
  })

  it('round-trips every Date field of a session', () => {
    const session = makeSession({ conversationHistory: makeTurns(50) })
    expect(deserializeSession(serializeSession(session))).toEqual(session)
  })
})
