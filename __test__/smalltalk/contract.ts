// SmallTalk's StorageAdapter contract suite: the 48 behaviours of docs/contract.md, written against
// SmallTalk's own types (its StorageAdapter interface, Session and SessionState enum) and fed an
// adapter factory. An adapter whose declared types are not assignable to StorageAdapter fails to
// compile here, under ts-jest with type-checking on, before a single test runs.
import { randomUUID } from 'node:crypto'
import type { StorageAdapter } from './StorageAdapter.js'
import { SessionState, type MessageTurn, type Session } from './types.js'

/** `count` turns, each with one reply per agent. */
export function makeTurns(count: number, agentIds: string[] = ['agent-a', 'agent-b'], base = Date.now()): MessageTurn[] {
  const turns: MessageTurn[] = []
  for (let sequence = 1; sequence <= count; sequence++) {
    const timestamp = new Date(base + sequence * 1000)
    turns.push({
      sequence,
      timestamp,
      userMessage: `User message number ${sequence}: what should we do about item ${sequence}?`,
      agentResponses: agentIds.map((agentId, index) => ({
        agentId,
        response: `Reply ${sequence} from ${agentId}: here is a considered answer with some detail, option ${index}.`,
        timestamp: new Date(timestamp.getTime() + 100 + index),
      })),
    })
  }
  return turns
}

/** A complete session (3 turns, 2 agents unless overridden). */
export function makeSession(overrides: Partial<Session> = {}): Session {
  const now = new Date()
  const agentIds = overrides.agentIds ?? ['agent-a', 'agent-b']
  const history = overrides.conversationHistory ?? makeTurns(3, agentIds)
  return {
    id: randomUUID(),
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 3_600_000),
    state: SessionState.ACTIVE,
    agentIds,
    agentStates: Object.fromEntries(
      agentIds.map((agentId) => [
        agentId,
        {
          config: { model: 'gpt-4', temperature: 0.2, tools: ['search', 'calc'] },
          context: { lastTopic: 'planning', notes: { count: 2 } },
          messageHistory: history.slice(-2),
        },
      ]),
    ),
    conversationHistory: history,
    sharedContext: { project: { name: 'demo', nested: { depth: [1, 2, { three: true }] } } },
    metadata: { userId: 'user-1', tags: ['test', 'contract'] },
    version: 1,
    ...overrides,
  }
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]
}

/**
 * Registers the 48 contract tests. Each test gets a fresh adapter from `factory`, initialized
 * before and closed after it; resetting the backend's storage between tests is the caller's job.
 */
export function runStorageAdapterContractTests(factory: () => StorageAdapter): void {
  let adapter: StorageAdapter

  beforeEach(async () => {
    adapter = factory()
    await adapter.initialize()
  })

  afterEach(async () => {
    await adapter.close()
  })

  describe('lifecycle', () => {
    it('(1) initialize resolves', async () => {
      const fresh = factory()
      await expect(fresh.initialize()).resolves.toBeUndefined()
      await fresh.close()
    })

    it('(2) initialize accepts a StorageAdapterConfig whose location is a path', async () => {
      const fresh = factory()
      await expect(
        fresh.initialize({ location: './test-data', ttl: 3600, maxSize: 1000, compression: false, encryption: false }),
      ).resolves.toBeUndefined()
      expect(await fresh.healthCheck()).toEqual({ healthy: true })
      await fresh.close()
    })

    it('(3) initialize can be called three more times', async () => {
      await adapter.initialize()
      await adapter.initialize()
      await adapter.initialize()
      const session = makeSession()
      await adapter.saveSession(session)
      expect((await adapter.getSession(session.id))?.id).toBe(session.id)
    })

    it('(4) healthCheck reports healthy once initialized', async () => {
      expect(await adapter.healthCheck()).toEqual({ healthy: true })
    })

    it('(5) healthCheck on a never-initialized adapter is unhealthy with a message', async () => {
      const never = factory()
      const health = await never.healthCheck()
      expect(health.healthy).toBe(false)
      expect(typeof health.message).toBe('string')
      expect(health.message).toMatch(/not initialized/)
    })

    it('(6) close resolves', async () => {
      await expect(adapter.close()).resolves.toBeUndefined()
      expect((await adapter.healthCheck()).healthy).toBe(false)
    })

    it('(7) close can be called three times', async () => {
      await adapter.close()
      await adapter.close()
      await expect(adapter.close()).resolves.toBeUndefined()
    })
  })

  describe('sessions', () => {
    it('(8) saves and reads back a session with a UUID id', async () => {
      const session = makeSession()
      expect(session.id).toMatch(/^[0-9a-f-]{36}$/)
      await adapter.saveSession(session)
      const read = await adapter.getSession(session.id)
      expect(read).not.toBeNull()
      expect(read!.id).toBe(session.id)
      expect(read!.state).toBe(SessionState.ACTIVE)
      expect(read!.agentIds).toEqual(session.agentIds)
    })

    it('(9) five turns come back in order', async () => {
      const session = makeSession({ conversationHistory: makeTurns(5) })
      await adapter.saveSession(session)
      const read = (await adapter.getSession(session.id))!
      expect(read.conversationHistory.map((turn) => turn.sequence)).toEqual([1, 2, 3, 4, 5])
      expect(read.conversationHistory.map((turn) => turn.userMessage)).toEqual(
        session.conversationHistory.map((turn) => turn.userMessage),
      )
    })

    it('(10) agentStates keep their keys, config, context and messageHistory', async () => {
      const session = makeSession()
      await adapter.saveSession(session)
      const read = (await adapter.getSession(session.id))!
      expect(Object.keys(read.agentStates).sort()).toEqual(Object.keys(session.agentStates).sort())
      for (const agentId of session.agentIds) {
        expect(read.agentStates[agentId].config).toEqual(session.agentStates[agentId].config)
        expect(read.agentStates[agentId].context).toEqual(session.agentStates[agentId].context)
        expect(read.agentStates[agentId].messageHistory).toEqual(session.agentStates[agentId].messageHistory)
      }
    })

    it('(11) createdAt, updatedAt and expiresAt come back as Dates to the millisecond', async () => {
      const session = makeSession({
        createdAt: new Date('2026-01-02T03:04:05.678Z'),
        updatedAt: new Date('2026-01-02T03:04:06.789Z'),
        expiresAt: new Date('2026-01-03T03:04:05.001Z'),
      })
      await adapter.saveSession(session)
      const read = (await adapter.getSession(session.id))!
      for (const field of ['createdAt', 'updatedAt', 'expiresAt'] as const) {
        expect(read[field]).toBeInstanceOf(Date)
        expect(read[field].getTime()).toBe(session[field].getTime())
      }
    })

    it('(12) a newer version replaces the stored one', async () => {
      const session = makeSession({ version: 1 })
      await adapter.saveSession(session)
      const first = (await adapter.getSession(session.id))!
      expect(first.version).toBe(1)
      first.version = 2
      first.state = SessionState.PAUSED
      await adapter.saveSession(first)
      const second = (await adapter.getSession(session.id))!
      expect(second.version).toBe(2)
      expect(second.state).toBe(SessionState.PAUSED)
    })

    it('(13) twenty saves of new sessions: p95 under 50 ms', async () => {
      const durations: number[] = []
      for (let i = 0; i < 20; i++) {
        const session = makeSession()
        const start = Date.now()
        await adapter.saveSession(session)
        durations.push(Date.now() - start)
      }
      expect(p95(durations)).toBeLessThan(50)
    })

    it('(14) twenty reads: p95 under 100 ms', async () => {
      const sessions = Array.from({ length: 20 }, () => makeSession())
      for (const session of sessions) await adapter.saveSession(session)
      const durations: number[] = []
      for (const session of sessions) {
        const start = Date.now()
        const read = await adapter.getSession(session.id)
        durations.push(Date.now() - start)
        expect(read?.id).toBe(session.id)
      }
      expect(p95(durations)).toBeLessThan(100)
    })
  })

  describe('listSessions', () => {
    async function saveStates(): Promise<Session[]> {
      const base = Date.now()
      const states = [SessionState.ACTIVE, SessionState.ACTIVE, SessionState.PAUSED, SessionState.EXPIRED]
      const sessions = states.map((state, index) => makeSession({ state, updatedAt: new Date(base - index * 1000) }))
      for (const session of sessions) await adapter.saveSession(session)
      return sessions
    }

    it('(15) filters by state', async () => {
      await saveStates()
      const active = await adapter.listSessions(SessionState.ACTIVE)
      const paused = await adapter.listSessions(SessionState.PAUSED)
      const expired = await adapter.listSessions(SessionState.EXPIRED)
      expect(active).toHaveLength(2)
      expect(paused).toHaveLength(1)
      expect(expired).toHaveLength(1)
      expect(active.every((summary) => summary.state === SessionState.ACTIVE)).toBe(true)
      expect(paused[0].state).toBe(SessionState.PAUSED)
      expect(expired[0].state).toBe(SessionState.EXPIRED)
      expect(active[0].agentCount).toBe(2)
    })

    it('(16) paginates with limit and offset without overlap', async () => {
      await saveStates()
      const first = await adapter.listSessions(undefined, 2, 0)
      const second = await adapter.listSessions(undefined, 2, 2)
      expect(first).toHaveLength(2)
      expect(second).toHaveLength(2)
      const firstIds = new Set(first.map((summary) => summary.id))
      expect(second.some((summary) => firstIds.has(summary.id))).toBe(false)
    })

    it('(17) orders by updatedAt, newest first', async () => {
      const sessions = await saveStates()
      const listed = await adapter.listSessions()
      expect(listed).toHaveLength(sessions.length)
      for (let i = 1; i < listed.length; i++) {
        expect(listed[i - 1].updatedAt).toBeInstanceOf(Date)
        expect(listed[i - 1].updatedAt.getTime()).toBeGreaterThanOrEqual(listed[i].updatedAt.getTime())
      }
      expect(listed[0].updatedAt.getTime()).toBe(sessions[0].updatedAt.getTime())
    })
  })

  describe('delete and has', () => {
    it('(18) deleting an existing session returns true and it is gone', async () => {
      const session = makeSession()
      await adapter.saveSession(session)
      expect(await adapter.deleteSession(session.id)).toBe(true)
      expect(await adapter.getSession(session.id)).toBeNull()
    })

    it('(19) deleting a missing session returns false', async () => {
      expect(await adapter.deleteSession('no-such-session')).toBe(false)
    })

    it('(20) hasSession is true for a saved session', async () => {
      const session = makeSession()
      await adapter.saveSession(session)
      expect(await adapter.hasSession(session.id)).toBe(true)
    })

    it('(21) hasSession is false for a missing one', async () => {
      expect(await adapter.hasSession('no-such-session')).toBe(false)
    })
  })

  describe('batch', () => {
    it('(22) saveSessions of three returns 3 and all are readable', async () => {
      const sessions = [makeSession({ id: 'multi-1' }), makeSession({ id: 'multi-2' }), makeSession({ id: 'multi-3' })]
      expect(await adapter.saveSessions(sessions)).toBe(3)
      for (const session of sessions) expect((await adapter.getSession(session.id))?.id).toBe(session.id)
    })

    it('(23) saveSessions of five returns 5', async () => {
      const sessions = Array.from({ length: 5 }, () => makeSession())
      expect(await adapter.saveSessions(sessions)).toBe(5)
      expect((await adapter.getStats()).totalSessions).toBe(5)
    })

    it('(24) saveSessions of none returns 0', async () => {
      expect(await adapter.saveSessions([])).toBe(0)
    })

    it('(25) getSessions of three has three entries', async () => {
      const sessions = Array.from({ length: 3 }, () => makeSession())
      await adapter.saveSessions(sessions)
      const found = await adapter.getSessions(sessions.map((session) => session.id))
      expect(found.size).toBe(3)
      for (const session of sessions) expect(found.get(session.id)?.version).toBe(1)
    })

    it('(26) getSessions resolves to a Map of revived sessions', async () => {
      const session = makeSession()
      await adapter.saveSession(session)
      const found = await adapter.getSessions([session.id])
      expect(found).toBeInstanceOf(Map)
      expect(found.get(session.id)!.createdAt).toBeInstanceOf(Date)
      expect(found.get(session.id)!.conversationHistory[0].timestamp).toBeInstanceOf(Date)
    })

    it('(27) missing ids are simply absent', async () => {
      const sessions = [makeSession(), makeSession()]
      await adapter.saveSessions(sessions)
      const found = await adapter.getSessions([sessions[0].id, 'missing-1', sessions[1].id, 'missing-2'])
      expect(found.size).toBe(2)
      expect(found.has('missing-1')).toBe(false)
    })

    it('(28) deleteSessions of three returns 3 and none remain', async () => {
      const sessions = Array.from({ length: 3 }, () => makeSession())
      await adapter.saveSessions(sessions)
      expect(await adapter.deleteSessions(sessions.map((session) => session.id))).toBe(3)
      for (const session of sessions) expect(await adapter.hasSession(session.id)).toBe(false)
    })

    it('(29) deleteSessions of two returns 2', async () => {
      const sessions = [makeSession(), makeSession(), makeSession()]
      await adapter.saveSessions(sessions)
      expect(await adapter.deleteSessions([sessions[0].id, sessions[2].id])).toBe(2)
      expect(await adapter.hasSession(sessions[1].id)).toBe(true)
    })
  })

  describe('key-value', () => {
    it('(30) a string, a number, a boolean and null round-trip', async () => {
      await adapter.setValue('string', 'hello')
      await adapter.setValue('number', 42)
      await adapter.setValue('boolean', true)
      await adapter.setValue('null', null)
      expect(await adapter.getValue('string')).toBe('hello')
      expect(await adapter.getValue('number')).toBe(42)
      expect(await adapter.getValue('boolean')).toBe(true)
      expect(await adapter.getValue('null')).toBeNull()
      expect(await adapter.hasValue('null')).toBe(true)
    })

    it('(31) a nested object round-trips deep-equal', async () => {
      const value = { a: { b: [1, 'two', { three: 3, four: [true, null] }] }, e: 'x' }
      await adapter.setValue('nested', value)
      expect(await adapter.getValue('nested')).toEqual(value)
    })

    it('(32) a missing key reads as null', async () => {
      expect(await adapter.getValue('missing')).toBeNull()
    })

    it('(33) deleting an existing key returns true and it reads as null', async () => {
      await adapter.setValue('doomed', { x: 1 })
      expect(await adapter.deleteValue('doomed')).toBe(true)
      expect(await adapter.getValue('doomed')).toBeNull()
    })

    it('(34) deleting a missing key returns false', async () => {
      expect(await adapter.deleteValue('missing')).toBe(false)
    })

    it('(35) hasValue is true for a stored key', async () => {
      await adapter.setValue('present', 1)
      expect(await adapter.hasValue('present')).toBe(true)
    })

    it('(36) hasValue is false for a missing key', async () => {
      expect(await adapter.hasValue('absent')).toBe(false)
    })
  })

  describe('performance', () => {
    it('(37) a 1000-turn session (> 100 KB): save under 50 ms, get under 100 ms', async () => {
      const session = makeSession({ conversationHistory: makeTurns(1000) })
      expect(adapter.serializeSession(session).length).toBeGreaterThan(100 * 1024)
      let start = Date.now()
      await adapter.saveSession(session)
      const saveMs = Date.now() - start
      start = Date.now()
      const read = await adapter.getSession(session.id)
      const getMs = Date.now() - start
      expect(read!.conversationHistory).toHaveLength(1000)
      expect(read!.conversationHistory[999].timestamp).toBeInstanceOf(Date)
      expect(saveMs).toBeLessThan(50)
      expect(getMs).toBeLessThan(100)
    })

    it('(38) five concurrent saves, then five concurrent gets, all intact', async () => {
      const sessions = Array.from({ length: 5 }, (_, index) => makeSession({ metadata: { userId: `u${index}` } }))
      await Promise.all(sessions.map((session) => adapter.saveSession(session)))
      const read = await Promise.all(sessions.map((session) => adapter.getSession(session.id)))
      read.forEach((session, index) => {
        expect(session!.id).toBe(sessions[index].id)
        expect(session!.metadata.userId).toBe(`u${index}`)
        expect(session!.conversationHistory).toEqual(sessions[index].conversationHistory)
      })
    })

    it('(39) saveSessions(10) takes at most 1.2x ten sequential saves', async () => {
      const sequential = Array.from({ length: 10 }, () => makeSession())
      const batch = Array.from({ length: 10 }, () => makeSession())
      let start = performance.now()
      for (const session of sequential) await adapter.saveSession(session)
      const sequentialMs = performance.now() - start
      start = performance.now()
      expect(await adapter.saveSessions(batch)).toBe(10)
      const batchMs = performance.now() - start
      expect(batchMs).toBeLessThanOrEqual(sequentialMs * 1.2)
    })
  })

  describe('stats', () => {
    async function saveFour(): Promise<void> {
      await adapter.saveSessions([
        makeSession({ state: SessionState.ACTIVE }),
        makeSession({ state: SessionState.ACTIVE }),
        makeSession({ state: SessionState.PAUSED }),
        makeSession({ state: SessionState.EXPIRED }),
      ])
    }

    it('(40) counts four sessions', async () => {
      await saveFour()
      expect((await adapter.getStats()).totalSessions).toBe(4)
    })

    it('(41) metrics carry per-state counts', async () => {
      await saveFour()
      const { metrics, backendType } = await adapter.getStats()
      expect(backendType).toBe('postgres')
      expect(metrics).toBeDefined()
      expect(metrics!.activeCount).toBe(2)
      expect(metrics!.pausedCount).toBe(1)
      expect(metrics!.expiredCount).toBe(1)
      expect(metrics!.invalidatedPendingCleanupCount).toBe(0)
      expect(metrics!.closedCount).toBe(0)
    })

    it('(42) sizeBytes is a number above zero', async () => {
      const { sizeBytes } = await adapter.getStats()
      expect(typeof sizeBytes).toBe('number')
      expect(sizeBytes).toBeGreaterThan(0)
    })
  })

  describe('clear', () => {
    it('(43) clear() removes everything and returns the count', async () => {
      await adapter.saveSessions([makeSession(), makeSession(), makeSession()])
      expect(await adapter.clear()).toBe(3)
      expect((await adapter.getStats()).totalSessions).toBe(0)
    })

    it('(44) clear(olderThan) removes only sessions updated before the date', async () => {
      const now = Date.now()
      const old = makeSession({ updatedAt: new Date(now - 2 * 3_600_000) })
      const fresh = makeSession({ updatedAt: new Date(now) })
      await adapter.saveSessions([old, fresh])
      expect(await adapter.clear(new Date(now - 3_600_000))).toBe(1)
      expect(await adapter.hasSession(old.id)).toBe(false)
      expect(await adapter.hasSession(fresh.id)).toBe(true)
    })

    it('(45) clear() resolves to a number', async () => {
      await adapter.saveSessions([makeSession(), makeSession(), makeSession()])
      const removed = await adapter.clear()
      expect(typeof removed).toBe('number')
      expect(removed).toBe(3)
    })
  })

  describe('serialization', () => {
    it('(46) serializeSession returns JSON with the same id and version', () => {
      const session = makeSession({ version: 7 })
      const json = adapter.serializeSession(session)
      expect(typeof json).toBe('string')
      const parsed = JSON.parse(json)
      expect(parsed.id).toBe(session.id)
      expect(parsed.version).toBe(7)
      expect(parsed.createdAt).toBe(session.createdAt.toISOString())
    })

    it('(47) deserializeSession revives the three top-level Dates', () => {
      const session = makeSession()
      const back = adapter.deserializeSession(adapter.serializeSession(session))
      for (const field of ['createdAt', 'updatedAt', 'expiresAt'] as const) {
        expect(back[field]).toBeInstanceOf(Date)
        expect(back[field].getTime()).toBe(session[field].getTime())
      }
    })

    it('(48) a full round trip keeps everything', () => {
      const session = makeSession({ version: 3, metadata: { userId: 'u', tags: ['a', 'b'] } })
      const back = adapter.deserializeSession(adapter.serializeSession(session))
      expect(back.agentIds).toEqual(session.agentIds)
      expect(back.conversationHistory).toEqual(session.conversationHistory)
      expect(back.agentStates).toEqual(session.agentStates)
      expect(back.sharedContext).toEqual(session.sharedContext)
      expect(back.metadata.tags).toEqual(['a', 'b'])
      expect(back.version).toBe(3)
      expect(back).toEqual(session)
    })
  })
}
