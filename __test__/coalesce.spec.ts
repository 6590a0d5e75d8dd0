// Coalescing: concurrent calls that find the pool busy are served in groups, one statement per
// group, and every caller still gets its own outcome.
import { ConflictError, PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, makeSession, sql } from './helpers.js'

const adapter = adapterPerTest({ poolSize: 2 })

/** `count` calls started at once, so that all but the first two find the pool busy. */
function burst<T>(count: number, call: (index: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: count }, (_, index) => call(index)))
}

function fulfilled<T>(results: PromiseSettledResult<T>[]): T[] {
  return results.map((result) => {
    if (result.status === 'rejected') throw result.reason
    return result.value
  })
}

async function figures(method: string) {
  return (await adapter().getStats()).metrics.operations[method]
}

// On one connection, so that grouping is certain: every call of a burst but the first waits for it
// (with two, a burst could at times be served one by one as fast as it was issued).
it('concurrent getSession, hasSession and getValue calls are served in groups, each with its own answer', async () => {
  const narrow = new PostgresStorageAdapter({ ...contractConfig(), poolSize: 1 })
  await narrow.initialize()
  try {
    const sessions = Array.from({ length: 40 }, (_, index) => makeSession({ id: `group-get-${index}` }))
    await narrow.saveSessions(sessions)
    await narrow.setValue('group-key-7', { seven: 7 })
    const ids = Array.from({ length: 120 }, (_, index) =>
      index % 3 === 2 ? `missing-${index}` : sessions[index % 40].id,
    )
    const got = fulfilled(await burst(ids.length, (index) => narrow.getSession(ids[index])))
    got.forEach((session, index) => {
      if (ids[index].startsWith('missing-')) expect(session).toBeNull()
      else {
        expect(session!.id).toBe(ids[index])
        expect(session!.createdAt).toBeInstanceOf(Date)
      }
    })
    const has = fulfilled(await burst(ids.length, (index) => narrow.hasSession(ids[index])))
    expect(has).toEqual(ids.map((id) => !id.startsWith('missing-')))
    const values = fulfilled(
      await burst(60, (index) => narrow.getValue(index % 2 === 0 ? 'group-key-7' : `no-key-${index}`)),
    )
    expect(values).toEqual(Array.from({ length: 60 }, (_, index) => (index % 2 === 0 ? { seven: 7 } : null)))
    for (const method of ['getSession', 'hasSession', 'getValue']) {
      const stats = (await narrow.getStats()).metrics.operations[method]
      expect(stats.groups).toBeGreaterThan(0)
      expect(stats.largestGroup).toBeGreaterThan(1)
      expect(stats.groupedCalls).toBeGreaterThanOrEqual(stats.largestGroup)
    }
  } finally {
    await narrow.close()
  }
})

it('concurrent saves are grouped; a stale version fails only its own call, and every awaited save reads back', async () => {
  const sessions = Array.from({ length: 30 }, (_, index) => makeSession({ id: `group-save-${index}`, version: 1 }))
  for (const session of sessions) await adapter().saveSession(session)
  // Every third save repeats the stored version: a conflict; the others move to version 2.
  const attempts = sessions.map((session, index) => ({
    ...session,
    version: index % 3 === 0 ? 1 : 2,
    metadata: { round: 2 },
  }))
  const outcomes = await burst(attempts.length, async (index) => {
    await adapter().saveSession(attempts[index])
    return (await adapter().getSession(attempts[index].id))!.version
  })
  outcomes.forEach((outcome, index) => {
    if (index % 3 === 0) {
      expect(outcome.status).toBe('rejected')
      const error = (outcome as PromiseRejectedResult).reason
      expect(error).toBeInstanceOf(ConflictError)
      expect(error.code).toBe('E_CONFLICT')
      expect(error.conflictingVersions).toEqual([1, 1])
      expect(error.message).toContain(attempts[index].id)
    } else {
      expect(outcome).toEqual({ status: 'fulfilled', value: 2 })
    }
  })
  const rows = await sql<{ id: string; version: number }>(
    'SELECT id, version FROM sessions WHERE id LIKE $1 ORDER BY id',
    ['group-save-%'],
  )
  expect(new Map(rows.map((row) => [row.id, row.version]))).toEqual(
    new Map(attempts.map((attempt, index) => [attempt.id, index % 3 === 0 ? 1 : 2])),
  )
  const stats = await figures('saveSession')
  expect(stats.groups).toBeGreaterThan(0)
  expect(stats.largestGroup).toBeGreaterThan(1)
})

it('saves of one id in one burst never share a group: they apply in arrival order', async () => {
  const session = makeSession({ id: 'group-same-id', version: 1 })
  await adapter().saveSession(session)
  // Keep the pool busy so that the saves queue behind it.
  const busy = Array.from({ length: 4 }, () => adapter().getSessions(['group-same-id']))
  const saves = [2, 3, 4, 3].map((version) => adapter().saveSession({ ...session, version, metadata: { version } }))
  const outcomes = await Promise.allSettled([...saves, ...busy])
  expect(outcomes.slice(0, 3).map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled'])
  const late = outcomes[3] as PromiseRejectedResult
  expect(late.status).toBe('rejected')
  expect(late.reason).toBeInstanceOf(ConflictError)
  expect(late.reason.conflictingVersions).toEqual([3, 4])
  const stored = (await adapter().getSession('group-same-id'))!
  expect(stored.version).toBe(4)
  expect(stored.metadata).toEqual({ version: 4 })
})

it('a row the database refuses fails only its own call: the rest of its group is saved', async () => {
  await sql(`ALTER TABLE sessions ADD CONSTRAINT coalesce_spec_no_poison CHECK (data->>'state' <> 'poison')`)
  const sessions: Session[] = Array.from({ length: 24 }, (_, index) =>
    makeSession({ id: `group-poison-${index}`, state: (index === 5 ? 'poison' : 'active') as Session['state'] }),
  )
  const outcomes = await burst(sessions.length, (index) => adapter().saveSession(sessions[index]))
  outcomes.forEach((outcome, index) => {
    if (index === 5) {
      expect(outcome.status).toBe('rejected')
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError)
      expect((outcome as PromiseRejectedResult).reason.sqlstate).toBe('23514')
    } else {
      expect(outcome.status).toBe('fulfilled')
    }
  })
  const rows = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM sessions WHERE id LIKE 'group-poison-%'`)
  expect(rows[0].n).toBe(23)
  expect((await figures('saveSession')).largestGroup).toBeGreaterThan(1)
})

it('coalesce: false serves every call with its own statement', async () => {
  const separate = new PostgresStorageAdapter({ ...contractConfig(), poolSize: 2, coalesce: false })
  await separate.initialize()
  try {
    const session = makeSession({ id: 'no-groups' })
    await separate.saveSession(session)
    const got = fulfilled(await burst(50, () => separate.getSession(session.id)))
    expect(got.every((read) => read!.id === session.id)).toBe(true)
    fulfilled(await burst(20, (index) => separate.saveSession(makeSession({ id: `no-groups-${index}` }))))
    const { operations } = (await separate.getStats()).metrics
    expect(operations.getSession.groups).toBe(0)
    expect(operations.saveSession.groups).toBe(0)
  } finally {
    await separate.close()
  }
})
