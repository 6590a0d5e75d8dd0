// Concurrency and locking: racing writers over several pools, no lost update over 10,000 racing
// saves, versions never move backwards, and batch calls that cost one round trip whatever their size.
import { ConflictError, PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, makeSession, sql, testServer } from './helpers.js'
import { WireProxy } from './proxy.js'

const ADAPTERS = 4
const WRITERS_PER_ADAPTER = 4
let adapters: PostgresStorageAdapter[] = []

beforeAll(async () => {
  await dropTables()
  adapters = Array.from({ length: ADAPTERS }, () => new PostgresStorageAdapter({ ...contractConfig(), poolSize: 4 }))
  for (const adapter of adapters) await adapter.initialize()
})

afterAll(async () => {
  for (const adapter of adapters) await adapter.close()
  await dropTables()
})

beforeEach(async () => {
  await sql('TRUNCATE sessions, key_value')
})

/** One round: every writer reads the session, then all save version + 1 at once. */
async function raceRound(id: string, round: number) {
  const writers = adapters.flatMap((adapter, a) =>
    Array.from({ length: WRITERS_PER_ADAPTER }, (_, w) => ({ adapter, name: `a${a}w${w}` })),
  )
  const reads = await Promise.all(writers.map(({ adapter }) => adapter.getSession(id)))
  const results = await Promise.allSettled(
    writers.map(({ adapter, name }, index) => {
      const read = reads[index] as Session
      return adapter.saveSession({
        ...read,
        version: read.version + 1,
        updatedAt: new Date(),
        metadata: { ...read.metadata, writer: name, round },
      })
    }),
  )
  return { writers, reads, results }
}

it('16 writers on 4 pools racing from version v: exactly one wins, the rest get [v+1, v+1]', async () => {
  const session = makeSession({ version: 7 })
  await adapters[0].saveSession(session)
  for (let round = 0; round < 5; round++) {
    const { writers, reads, results } = await raceRound(session.id, round)
    const version = reads[0]!.version
    expect(reads.every((read) => read!.version === version)).toBe(true)
    const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [writers[index].name] : []))
    expect(winners).toHaveLength(1)
    for (const result of results) {
      if (result.status === 'rejected') {
        expect(result.reason).toBeInstanceOf(ConflictError)
        expect(result.reason.conflictingVersions).toEqual([version + 1, version + 1])
      }
    }
    const stored = (await adapters[1].getSession(session.id))!
    expect(stored.version).toBe(version + 1)
    expect(stored.metadata.writer).toBe(winners[0])
  }
})

it('10,000 racing saves lose no update: each accepted write is the stored state after its round', async () => {
  const session = makeSession({ version: 1 })
  await adapters[0].saveSession(session)
  const writersPerRound = ADAPTERS * WRITERS_PER_ADAPTER
  const rounds = Math.ceil(10_000 / writersPerRound)
  const started = Date.now()
  let accepted = 0
  let conflicts = 0
  let lost = 0
  for (let round = 0; round < rounds; round++) {
    const { writers, reads, results } = await raceRound(session.id, round)
    const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [writers[index].name] : []))
    for (const result of results) {
      if (result.status === 'rejected') {
        if (!(result.reason instanceof ConflictError)) throw result.reason
        conflicts++
      }
    }
    accepted += winners.length
    const stored = (await adapters[round % ADAPTERS].getSession(session.id))!
    if (winners.length !== 1 || stored.metadata.writer !== winners[0] || stored.version !== reads[0]!.version + 1)
      lost++
  }
  const elapsed = Date.now() - started
  expect(accepted + conflicts).toBe(rounds * writersPerRound)
  expect(accepted).toBe(rounds)
  expect(lost).toBe(0)
  expect((await adapters[0].getSession(session.id))!.version).toBe(1 + rounds)
  expect(elapsed).toBeLessThan(90_000)
  console.log(
    `race: ${rounds * writersPerRound} saves by ${writersPerRound} writers on ${ADAPTERS} pools in ${elapsed} ms: ${accepted} accepted, ${conflicts} conflicts, ${lost} lost`,
  )
}, 120_000)

it('a save with a lower or equal version never moves the stored version backwards', async () => {
  const session = makeSession({ version: 5, state: 'active' })
  await adapters[0].saveSession(session)
  for (const version of [1, 4, 5]) {
    await expect(adapters[0].saveSession({ ...session, version, state: 'closed' })).rejects.toMatchObject({
      conflictingVersions: [version, 5],
    })
    await expect(adapters[1].saveSessions([{ ...session, version, state: 'closed' }])).rejects.toBeInstanceOf(
      ConflictError,
    )
  }
  const rows = await sql("SELECT version, data->>'state' AS state FROM sessions WHERE id = $1", [session.id])
  expect(rows).toEqual([{ version: 5, state: 'active' }])
})

describe('round trips (counted on the wire)', () => {
  let proxy: WireProxy
  let adapter: PostgresStorageAdapter

  beforeAll(async () => {
    const config = contractConfig()
    const { host, port: serverPort } = testServer()
    proxy = new WireProxy(host, serverPort)
    const port = await proxy.start()
    adapter = new PostgresStorageAdapter({ ...config, host: '127.0.0.1', port, poolSize: 1 })
    await adapter.initialize()
  })

  afterAll(async () => {
    await adapter.close()
    await proxy.stop()
  })

  it('statements are prepared once per connection and reused', async () => {
    const session = makeSession()
    await adapter.saveSession(session)
    proxy.reset()
    for (let i = 0; i < 50; i++) expect((await adapter.getSession(session.id))!.id).toBe(session.id)
    expect(proxy.count('P')).toBe(0)
    expect(proxy.count('S')).toBe(50)
  })

  it('saveSessions(1000) costs the same three round trips as saveSessions(2): BEGIN, one upsert, COMMIT', async () => {
    for (const size of [2, 1000]) {
      const batch = Array.from({ length: size }, () => makeSession())
      proxy.reset()
      expect(await adapter.saveSessions(batch)).toBe(size)
      expect(proxy.count('S') + proxy.count('Q')).toBe(3)
      expect(proxy.count('E')).toBe(1)
    }
  })

  it('getSessions and deleteSessions with 10,000 ids are one round trip each', async () => {
    const saved = Array.from({ length: 5000 }, (_, index) => makeSession({ id: `bulk-${index}` }))
    await adapter.saveSessions(saved)
    const ids = Array.from({ length: 10_000 }, (_, index) => `bulk-${index}`)
    proxy.reset()
    const found = await adapter.getSessions(ids)
    expect(found.size).toBe(5000)
    expect(found.get('bulk-4999')!.id).toBe('bulk-4999')
    expect(proxy.count('S')).toBe(1)
    expect(proxy.count('E')).toBe(1)
    proxy.reset()
    expect(await adapter.deleteSessions(ids)).toBe(5000)
    expect(proxy.count('S')).toBe(1)
    expect(proxy.count('E')).toBe(1)
  })
})
