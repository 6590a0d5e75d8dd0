// Conditional reads (readCacheBytes): getSession always asks the server, which sends the data
// only when the row changed since this adapter read it. Never a stale read: every kind of writer
// (another adapter, a plain `pg` client that does not bump the version, the TypeScript adapter's
// upsert, a delete and re-insert, two updates in one transaction) is seen at once, alone and in
// coalesced groups; through PgBouncer too (npm run test:scale runs this spec through it).
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, makeSession, makeTurns, rawClient, sql } from './helpers.js'
import { WireProxy } from './proxy.js'

const reader = adapterPerTest()

async function withAdapter<T>(options: object, use: (adapter: PostgresStorageAdapter) => Promise<T>): Promise<T> {
  const adapter = new PostgresStorageAdapter({ ...contractConfig(), ...options })
  await adapter.initialize()
  try {
    return await use(adapter)
  } finally {
    await adapter.close()
  }
}

/** An adapter (with `options`) connected through a proxy that counts the bytes the server sends. */
async function withProxiedAdapter<T>(
  options: object,
  use: (adapter: PostgresStorageAdapter, proxy: WireProxy) => Promise<T>,
): Promise<T> {
  const proxy = new WireProxy(contractConfig().host as string, contractConfig().port as number)
  await proxy.start()
  try {
    return await withAdapter({ ...options, host: '127.0.0.1', port: proxy.port }, (adapter) => use(adapter, proxy))
  } finally {
    await proxy.stop()
  }
}

/**
 * Runs `use` while a BEFORE INSERT OR UPDATE trigger sets every saved session's metadata to
 * `{ stamped: true }`: what is stored is then not the text sent. (Citus refuses triggers on
 * distributed tables unless citus.enable_unsafe_triggers is on, and runs each DDL statement on its
 * own; elsewhere the setting is an inert placeholder.)
 */
async function withStampingTrigger(use: () => Promise<void>): Promise<void> {
  await sqlInOneSession([
    'SET citus.enable_unsafe_triggers = on',
    `CREATE FUNCTION stamp_session() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN NEW.data = jsonb_set(NEW.data, '{metadata}', '{"stamped": true}'); RETURN NEW; END $$`,
    'CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION stamp_session()',
  ])
  try {
    await use()
  } finally {
    await sqlInOneSession(['SET citus.enable_unsafe_triggers = on', 'DROP FUNCTION stamp_session() CASCADE'])
  }
}

async function sqlInOneSession(statements: string[]): Promise<void> {
  const client = await rawClient()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}

async function saved(overrides: Partial<Session> = {}): Promise<Session> {
  const session = makeSession(overrides)
  await reader().saveSession(session)
  expect(await reader().getSession(session.id)).toEqual(session)
  return session
}

it('sees a newer version saved by another adapter', async () => {
  const session = await saved()
  await withAdapter({}, async (writer) => {
    for (let version = 2; version <= 5; version++) {
      await writer.saveSession({ ...session, version, metadata: { version } })
      expect(await reader().getSession(session.id)).toEqual({ ...session, version, metadata: { version } })
      expect(await reader().getSession(session.id)).toEqual({ ...session, version, metadata: { version } })
    }
  })
})

it('sees a plain pg UPDATE that keeps the version, and two updates in one transaction', async () => {
  const session = await saved()
  await sql(`UPDATE sessions SET data = jsonb_set(data, '{metadata}', '{"by": "psql"}') WHERE id = $1`, [session.id])
  expect((await reader().getSession(session.id))?.metadata).toEqual({ by: 'psql' })
  const client = await rawClient()
  try {
    await client.query('BEGIN')
    await client.query(`UPDATE sessions SET data = jsonb_set(data, '{metadata}', '{"step": 1}') WHERE id = $1`, [
      session.id,
    ])
    await client.query(`UPDATE sessions SET data = jsonb_set(data, '{metadata}', '{"step": 2}') WHERE id = $1`, [
      session.id,
    ])
    // Uncommitted: the reader still sees the committed row.
    expect((await reader().getSession(session.id))?.metadata).toEqual({ by: 'psql' })
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
  expect((await reader().getSession(session.id))?.metadata).toEqual({ step: 2 })
  expect((await reader().getSession(session.id))?.version).toBe(1)
})

it("sees the TypeScript adapter's upsert (its SQL and JSON flow, on pg)", async () => {
  const session = await saved()
  const next = { ...session, version: 2, conversationHistory: makeTurns(5, session.agentIds) }
  const client = await rawClient()
  try {
    // SmallTalk's PostgresStorageAdapter.saveSession: pg stringifies the parsed session.
    await client.query(
      `INSERT INTO sessions (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
       WHERE sessions.version < EXCLUDED.version`,
      [next.id, JSON.parse(JSON.stringify(next)), next.version, next.createdAt, next.updatedAt],
    )
  } finally {
    await client.end()
  }
  expect(await reader().getSession(session.id)).toEqual(next)
})

it('sees a delete, and a re-insert of the very same row', async () => {
  const session = await saved()
  const [{ data }] = await sql('SELECT data FROM sessions WHERE id = $1', [session.id])
  await sql('DELETE FROM sessions WHERE id = $1', [session.id])
  expect(await reader().getSession(session.id)).toBeNull()
  await sql(
    `INSERT INTO sessions (id, data, version) VALUES ($1, jsonb_set($2::jsonb, '{metadata}', '{"again": true}'), 1)`,
    [session.id, data],
  )
  expect((await reader().getSession(session.id))?.metadata).toEqual({ again: true })
  await withAdapter({}, (other) => other.deleteSession(session.id))
  expect(await reader().getSession(session.id)).toBeNull()
})

it('coalesced reads are conditional too, and see every change', async () => {
  await withAdapter({ poolSize: 1 }, async (narrow) => {
    const sessions = await Promise.all(Array.from({ length: 6 }, () => saved()))
    const readAll = () => Promise.all(sessions.flatMap((s) => [narrow.getSession(s.id), narrow.getSession(s.id)]))
    expect(await readAll()).toEqual(sessions.flatMap((s) => [s, s]))
    await sql(`UPDATE sessions SET data = jsonb_set(data, '{state}', '"paused"') WHERE id = ANY($1)`, [
      [sessions[1].id, sessions[4].id],
    ])
    await reader().deleteSession(sessions[2].id)
    const expected = sessions.map((s, index) =>
      index === 2 ? null : index === 1 || index === 4 ? { ...s, state: 'paused' } : s,
    )
    expect(await readAll()).toEqual(expected.flatMap((s) => [s, s]))
    expect((await narrow.getStats()).metrics.operations.getSession.groups).toBeGreaterThan(0)
  })
})

it('an unchanged session is not sent again; a changed one is, whole', async () => {
  await withProxiedAdapter({}, async (viaProxy, proxy) => {
    const session = await saved({ conversationHistory: makeTurns(300, ['agent-a', 'agent-b']) })
    const size = Buffer.byteLength(JSON.stringify(session))
    expect(size).toBeGreaterThan(50_000)
    expect(await viaProxy.getSession(session.id)).toEqual(session)
    proxy.reset()
    for (let index = 0; index < 5; index++) expect(await viaProxy.getSession(session.id)).toEqual(session)
    expect(proxy.serverBytes).toBeLessThan(5 * 1000)
    await sql(`UPDATE sessions SET data = jsonb_set(data, '{state}', '"closed"') WHERE id = $1`, [session.id])
    proxy.reset()
    expect(await viaProxy.getSession(session.id)).toEqual({ ...session, state: 'closed' })
    expect(proxy.serverBytes).toBeGreaterThan(size / 2)
  })
})

it("a session this adapter just saved is not sent back on the next read, and a trigger's change to it is", async () => {
  await withProxiedAdapter({}, async (viaProxy, proxy) => {
    const session = makeSession({ conversationHistory: makeTurns(300, ['agent-a', 'agent-b']) })
    await viaProxy.saveSession(session)
    proxy.reset()
    expect(await viaProxy.getSession(session.id)).toEqual(session)
    expect(proxy.serverBytes).toBeLessThan(1000)
    // The saved text is not what the row holds, so the next read gets the row's.
    await withStampingTrigger(async () => {
      await viaProxy.saveSession({ ...session, version: 2 })
      expect(await viaProxy.getSession(session.id)).toEqual({ ...session, version: 2, metadata: { stamped: true } })
    })
  })
})

// One connection: twelve concurrent saves are sure to be grouped (all but the first wait for it).
it('sessions saved in a coalesced group are not sent back on the next read', async () => {
  await withProxiedAdapter({ poolSize: 1 }, async (viaProxy, proxy) => {
    const sessions = Array.from({ length: 12 }, () =>
      makeSession({ conversationHistory: makeTurns(100, ['agent-a', 'agent-b']) }),
    )
    await Promise.all(sessions.map((session) => viaProxy.saveSession(session)))
    expect((await viaProxy.getStats()).metrics.operations.saveSession.groupedCalls).toBeGreaterThan(0)
    proxy.reset()
    for (const session of sessions) expect(await viaProxy.getSession(session.id)).toEqual(session)
    // Twelve reads of sessions of ~30 KB each: validators only.
    expect(proxy.serverBytes).toBeLessThan(12 * 1000)
  })
})

it("a trigger's change to sessions saved in a coalesced group is read back, not the text sent", async () => {
  await withStampingTrigger(() =>
    withAdapter({ poolSize: 1 }, async (adapter) => {
      const sessions = Array.from({ length: 12 }, () =>
        makeSession({ conversationHistory: makeTurns(100, ['agent-a', 'agent-b']) }),
      )
      await Promise.all(sessions.map((session) => adapter.saveSession(session)))
      expect((await adapter.getStats()).metrics.operations.saveSession.groupedCalls).toBeGreaterThan(0)
      for (const session of sessions) {
        expect(await adapter.getSession(session.id)).toEqual({ ...session, metadata: { stamped: true } })
      }
    }),
  )
})

it('readCacheBytes: 0 turns it off; a bad value is refused', async () => {
  const session = await saved()
  await withAdapter({ readCacheBytes: 0 }, async (plain) => {
    expect(await plain.getSession(session.id)).toEqual(session)
    await sql(`UPDATE sessions SET data = jsonb_set(data, '{state}', '"closed"') WHERE id = $1`, [session.id])
    expect((await plain.getSession(session.id))?.state).toBe('closed')
  })
  expect(() => new PostgresStorageAdapter({ ...contractConfig(), readCacheBytes: -1 })).toThrow('readCacheBytes')
})

it('a budget smaller than a session keeps working, reading it whole every time', async () => {
  const session = await saved()
  await withAdapter({ readCacheBytes: 100 }, async (tiny) => {
    expect(await tiny.getSession(session.id)).toEqual(session)
    await sql(`UPDATE sessions SET data = jsonb_set(data, '{state}', '"closed"') WHERE id = $1`, [session.id])
    expect((await tiny.getSession(session.id))?.state).toBe('closed')
  })
})
