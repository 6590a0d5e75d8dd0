// The stored format's Date revival: the fast path for toISOString's form gives exactly what
// `new Date(text)` gives, for every instant and for strings that only look like dates.
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { deserializeSession, serializeSession } from '@smalltalk-ai/postgres-storage'
import { makeSession } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { isoDate } = createRequire(import.meta.url)(path.join(root, 'lib', 'session-json.js'))

const same = (text: string) => expect(String(isoDate(text).getTime())).toBe(String(new Date(text).getTime()))

it('revives every instant toISOString can write exactly as new Date() does', () => {
  for (let round = 0; round < 20_000; round++) {
    same(new Date(Math.floor((Math.random() - 0.4) * 8.64e15)).toISOString())
  }
  for (const ms of [0, -1, 1, -62135596800000, 253402300799999, 8.64e15, -8.64e15]) same(new Date(ms).toISOString())
})

it('strings that are not exactly that form give what new Date() gives (rolled over, or Invalid Date)', () => {
  for (const text of [
    '2026-02-30T00:00:00.000Z',
    '2026-02-31T23:59:59.999Z',
    '2026-13-01T00:00:00.000Z',
    '2026-00-10T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    '2026-01-01T23:60:00.000Z',
    '2026-01-01T23:59:60.000Z',
    '0099-01-01T00:00:00.000Z',
    '2026-01-01T00:00:00.000+01:00',
    '2026-01-01T00:00:00Z',
    '2026-01-01',
    'x026-01-01T00:00:00.000Z',
    'not a date at all, 24 ch',
  ]) {
    same(text)
  }
})

it('a session round-trips through the stored format with every Date field revived', () => {
  const session = makeSession()
  const back = deserializeSession(serializeSession(session))
  expect(back).toEqual(session)
  expect(back.conversationHistory[0].agentResponses[0].timestamp).toBeInstanceOf(Date)
})
