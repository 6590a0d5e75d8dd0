// Beyond the contract: optimistic-lock conflicts, typed errors with stable codes, injected error
// classes, refusal of bad input, and survival of a schema that is dropped and recreated.
import {
  ConflictError,
  NotFoundError,
  PostgresStorageAdapter,
  StorageError,
  ValidationError,
} from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, dropTables, makeSession, sql } from './helpers.js'

const current = adapterPerTest()

async function storedRow(id: string) {
  const rows = await sql('SELECT version, data FROM sessions WHERE id = $1', [id])
  return rows[0] as { version: number; data: any } | undefined
}

describe('optimistic locking', () => {
  it('rejects a stale save with ConflictError, writes nothing, and reports [attempted, stored]', async () => {
    const session = makeSession({ version: 3, state: 'active' })
    await current().saveSession(session)
    const stale = { ...session, version: 2, state: 'closed' as const }
    const error = await current()
      .saveSession(stale)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error).toBeInstanceOf(StorageError)
    expect(error).toBeInstanceOf(Error)
    const conflict = error as ConflictError
    expect(conflict.name).toBe('ConflictError')
    expect(conflict.message).toMatch(/version/)
    expect(conflict.message).toContain(session.id)
    expect(conflict.conflictingVersions).toEqual([2, 3])
    expect(conflict.code).toBe('E_CONFLICT')
    const row = await storedRow(session.id)
    expect(row!.version).toBe(3)
    expect(row!.data.state).toBe('active')
  })

  it('rejects an equal version too (versions only grow)', async () => {
    const session = makeSession({ version: 5 })
    await current().saveSession(session)
    await expect(current().saveSession({ ...session, state: 'paused' })).rejects.toMatchObject({
      name: 'ConflictError',
      conflictingVersions: [5, 5],
    })
    expect((await current().getSession(session.id))!.state).toBe('active')
  })

  it('two writers racing from the same version: exactly one wins', async () => {
    const session = makeSession({ version: 1 })
    await current().saveSession(session)
    const other = new PostgresStorageAdapter(contractConfig())
    await other.initialize()
    try {
      const results = await Promise.allSettled([
        current().saveSession({ ...session, version: 2, metadata: { userId: 'first' } }),
        other.saveSession({ ...session, version: 2, metadata: { userId: 'second' } }),
      ])
      const won = results.filter((result) => result.status === 'fulfilled')
      const lost = results.filter((result) => result.status === 'rejected') as PromiseRejectedResult[]
      expect(won).toHaveLength(1)
      expect(lost).toHaveLength(1)
      expect(lost[0].reason).toBeInstanceOf(ConflictError)
      expect(lost[0].reason.conflictingVersions).toEqual([2, 2])
      const winner = results[0].status === 'fulfilled' ? 'first' : 'second'
      expect((await current().getSession(session.id))!.metadata.userId).toBe(winner)
    } finally {
      await other.close()
    }
  })

  it('saveSessions with one stale session writes none of the batch', async () => {
    const existing = makeSession({ version: 4 })
    await current().saveSession(existing)
    const fresh = [makeSession(), makeSession()]
    const error = await current()
      .saveSessions([fresh[0], { ...existing, version: 4 }, fresh[1]])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect((error as ConflictError).message).toContain(existing.id)
    expect((error as ConflictError).conflictingVersions).toEqual([4, 4])
    expect(await current().hasSession(fresh[0].id)).toBe(false)
    expect(await current().hasSession(fresh[1].id)).toBe(false)
    expect((await current().getStats()).totalSessions).toBe(1)
  })

  it('saveSessions applies the version rule per session when all are newer', async () => {
    const existing = makeSession({ version: 1 })
    await current().saveSession(existing)
    expect(await current().saveSessions([{ ...existing, version: 2, state: 'paused' }, makeSession()])).toBe(2)
    expect((await current().getSession(existing.id))!.state).toBe('paused')
  })
})

describe('injected error classes', () => {
  class AppStorageError extends Error {
    constructor(
      message: string,
      public readonly cause?: unknown,
    ) {
      super(message)
      this.name = 'StorageError'
    }
  }
  class AppConflictError extends AppStorageError {
    constructor(
      message: string,
      public readonly conflictingVersions?: number[],
    ) {
      super(message)
      this.name = 'ConflictError'
    }
  }
  class AppValidationError extends AppStorageError {
    constructor(
      message: string,
      public readonly invalidFields?: string[],
    ) {
      super(message)
      this.name = 'ValidationError'
    }
  }
  class AppNotFoundError extends AppStorageError {
    constructor(resource: string, id: string) {
      super(`${resource} not found: ${id}`)
      this.name = 'NotFoundError'
    }
  }

  it("throws the app's own classes, built with the contract's arguments", async () => {
    const appAdapter = new PostgresStorageAdapter({
      ...contractConfig(),
      errorClasses: {
        StorageError: AppStorageError,
        ConflictError: AppConflictError,
        ValidationError: AppValidationError,
        NotFoundError: AppNotFoundError,
      },
    })
    await appAdapter.initialize()
    try {
      const session = makeSession({ version: 2 })
      await appAdapter.saveSession(session)
      const conflict = await appAdapter.saveSession({ ...session, version: 1 }).catch((e: unknown) => e)
      expect(conflict).toBeInstanceOf(AppConflictError)
      expect(conflict).toBeInstanceOf(AppStorageError)
      expect(conflict).not.toBeInstanceOf(ConflictError)
      expect((conflict as AppConflictError).conflictingVersions).toEqual([1, 2])

      const invalid = await appAdapter.getSession('').catch((e: unknown) => e)
      expect(invalid).toBeInstanceOf(AppValidationError)
      expect((invalid as AppValidationError).invalidFields).toEqual(['sessionId'])

      await appAdapter.close()
      const closed = await appAdapter.getSession('x').catch((e: unknown) => e)
      expect(closed).toBeInstanceOf(AppStorageError)
      expect((closed as { code?: string }).code).toBe('E_CLOSED')
    } finally {
      await appAdapter.close()
    }
  })

  it('a partial set falls back to the package classes for the rest', async () => {
    const appAdapter = new PostgresStorageAdapter({
      ...contractConfig(),
      errorClasses: { ConflictError: AppConflictError },
    })
    const error = await appAdapter.getSession('x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('E_NOT_INITIALIZED')
  })

  it('refuses errorClasses entries that are not classes', () => {
    expect(() => new PostgresStorageAdapter({ errorClasses: { ConflictError: 42 as any } })).toThrow(ValidationError)
  })
})

describe('typed errors', () => {
  it('NotFoundError has the contract message', () => {
    const error = new NotFoundError('Session', 'abc')
    expect(error.message).toBe('Session not found: abc')
    expect(error.name).toBe('NotFoundError')
    expect(error).toBeInstanceOf(StorageError)
  })

  it('calls before initialize() reject with StorageError E_NOT_INITIALIZED', async () => {
    const fresh = new PostgresStorageAdapter(contractConfig())
    const error = await fresh.getSession('x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('E_NOT_INITIALIZED')
  })

  it('calls after close() reject with StorageError E_CLOSED, and initialize() reopens', async () => {
    await current().close()
    const error = await current()
      .hasSession('x')
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('E_CLOSED')
    await current().initialize()
    expect(await current().hasSession('x')).toBe(false)
  })

  it('a database error keeps its SQLSTATE and cause', async () => {
    await dropTables()
    const error = await current()
      .getSession('x')
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('E_QUERY')
    expect((error as StorageError).sqlstate).toBe('42P01')
    expect((error as StorageError).cause).toBeInstanceOf(Error)
    expect(String((error as Error & { cause: Error }).cause.message)).toMatch(/sessions/)
  })

  it('an unreachable server rejects initialize() with StorageError', async () => {
    const nowhere = new PostgresStorageAdapter({
      ...contractConfig(),
      host: '127.0.0.1',
      port: 1,
      connectTimeoutMs: 2000,
    })
    const error = await nowhere.initialize().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('E_CONNECTION')
    expect((await nowhere.healthCheck()).healthy).toBe(false)
  })

  it('a bad option is refused at construction with ValidationError naming it', () => {
    expect(() => new PostgresStorageAdapter({ port: 'abc' as any })).toThrow(/port/)
    expect(() => new PostgresStorageAdapter({ port: 'abc' as any })).toThrow(ValidationError)
    expect(() => new PostgresStorageAdapter({ poolSize: 0 })).toThrow(/poolSize/)
    expect(() => new PostgresStorageAdapter({ port: Number.NaN })).toThrow(/port/)
  })
})

describe('schema recreated under a live adapter', () => {
  it('keeps working after the tables are dropped and initialize() runs again', async () => {
    const session = makeSession()
    await current().saveSession(session)
    expect((await current().getSession(session.id))!.id).toBe(session.id)
    await dropTables()
    await current().initialize()
    expect(await current().getSession(session.id)).toBeNull()
    await current().saveSession(session)
    expect((await current().listSessions()).map((summary) => summary.id)).toEqual([session.id])
    expect((await current().getStats()).totalSessions).toBe(1)
  })
})
