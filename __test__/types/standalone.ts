// Type tests of the package's own types, for a user without SmallTalk (never run; checked by
// `tsc -p __test__/tsconfig.json`, which `npm test` runs before jest). Results are exactly the
// package's types, never `any`; each line marked as an expected error must stay one, so the types
// cannot get loose to pass (tsc fails on an unused directive).
import {
  ConflictError,
  PostgresStorageAdapter,
  StorageError,
  type ConflictingVersions,
  type ErrorClasses,
  type HealthStatus,
  type MessageTurn,
  type PostgresConfig,
  type Session,
  type SessionState,
  type SessionSummary,
  type SslMode,
  type StorageAdapterConfig,
  type StorageStats,
} from '@smalltalk-ai/postgres-storage'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function exact<A, B>(proof: Equal<A, B>): void {
  void proof
}

declare const adapter: PostgresStorageAdapter
declare const turn: MessageTurn

/** A complete session as a user writes one: every field, and a state that type-checks as it is. */
export const session: Session = {
  id: 'session-1',
  createdAt: new Date(),
  updatedAt: new Date(),
  expiresAt: new Date(Date.now() + 3_600_000),
  state: 'active',
  agentIds: ['agent-a'],
  agentStates: { 'agent-a': { config: { model: 'gpt-4' }, context: {}, messageHistory: [turn] } },
  conversationHistory: [turn],
  sharedContext: { topic: 'planning' },
  metadata: { userId: 'user-1', tags: ['demo'] },
  version: 1,
}

export async function results(): Promise<void> {
  const read = await adapter.getSession('session-1')
  exact<typeof read, Session | null>(true)
  exact<NonNullable<typeof read>['state'], SessionState>(true)
  exact<Awaited<ReturnType<typeof adapter.getSessions>>, Map<string, Session>>(true)
  exact<ReturnType<typeof adapter.deserializeSession>, Session>(true)
  const all = await adapter.listSessions()
  exact<typeof all, SessionSummary<SessionState>[]>(true)
  const page = await adapter.listSessions(undefined, 20, 40)
  exact<typeof page, SessionSummary<SessionState>[]>(true)
  const paused = await adapter.listSessions('paused')
  exact<(typeof paused)[number]['state'], 'paused'>(true)
  exact<(typeof paused)[number]['agentCount'], number>(true)
  const value = await adapter.getValue('key')
  exact<typeof value, unknown>(true)
  const counted = await adapter.getValue<{ count: number }>('key')
  exact<typeof counted, { count: number } | null>(true)
  exact<Awaited<ReturnType<typeof adapter.getStats>>, StorageStats>(true)
  exact<Awaited<ReturnType<typeof adapter.healthCheck>>, HealthStatus>(true)
  exact<ReturnType<typeof adapter.saveSession>, Promise<void>>(true)
  exact<ReturnType<typeof adapter.saveSessions>, Promise<number>>(true)
}

// --- types that match the runtime ---------------------------------------------------------------------

// Every TLS mode the runtime accepts, in the constructor and in initialize({ options }).
exact<SslMode, 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'>(true)
exact<NonNullable<PostgresConfig['sslMode']>, SslMode>(true)
exact<NonNullable<NonNullable<StorageAdapterConfig['options']>['sslMode']>, SslMode>(true)
export const sslModes = (['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const).map(
  (sslMode) => [new PostgresStorageAdapter({ sslMode }), adapter.initialize({ options: { sslMode } })] as const,
)

// expiresAt is optional, as the runtime treats it ("when present").
export const noExpiry: Session = { ...session, expiresAt: undefined }
export async function expiry(): Promise<number | undefined> {
  const read = (await adapter.getSession('session-1'))!
  // @ts-expect-error expiresAt may be absent
  void read.expiresAt.getTime()
  return read.expiresAt?.getTime()
}

// conflictingVersions is the pair [attempted, stored].
exact<NonNullable<ConflictError['conflictingVersions']>, ConflictingVersions>(true)
exact<ConflictingVersions, [attempted: number, stored: number]>(true)
export function conflict(error: unknown): number {
  if (!(error instanceof ConflictError) || error.conflictingVersions === undefined) return 0
  const [attempted, stored] = error.conflictingVersions
  // @ts-expect-error there is no third version
  void error.conflictingVersions[2]
  return stored - attempted
}

// The adapter always passes conflictingVersions to the app's ConflictError.
type ConflictErrorArguments = ConstructorParameters<NonNullable<ErrorClasses['ConflictError']>>
exact<ConflictErrorArguments, [message: string, conflictingVersions: ConflictingVersions]>(true)

// --- what must stay an error --------------------------------------------------------------------------

// @ts-expect-error 'sometimes' is not a SessionState
export const badState: Session = { ...session, state: 'sometimes' }
// @ts-expect-error not a SessionState
void adapter.listSessions('sometimes')
// @ts-expect-error `hots` is not an option
void new PostgresStorageAdapter({ hots: 'db.example' })
// @ts-expect-error not an sslMode
void new PostgresStorageAdapter({ sslMode: 'sometimes' })
// @ts-expect-error not an sslMode, in initialize's options either
void adapter.initialize({ options: { sslMode: 'sometimes' } })
// @ts-expect-error a session needs id, dates, state, ... (not just an id)
void adapter.saveSession({ id: 'session-1' })
// @ts-expect-error version is a number
void adapter.saveSession({ ...session, version: '2' })
// @ts-expect-error a batch is an array of sessions
void adapter.saveSessions([session, { id: 'session-2' }])
// @ts-expect-error session ids are strings
void adapter.getSession(42)
// @ts-expect-error getSession resolves to Session | null, which must be narrowed
void adapter.getSession('x').then((found) => found.id)
// @ts-expect-error getValue is `unknown` until narrowed or typed
void adapter.getValue('key').then((found) => found.count)
// @ts-expect-error ttl is in seconds, a number
void adapter.setValue('key', 1, { ttl: '60' })
// @ts-expect-error an errorClasses entry is a class of Errors
void new PostgresStorageAdapter({ errorClasses: { ConflictError: class NotAnError {} } })
// @ts-expect-error an errorClasses entry is a class, not an instance
void new PostgresStorageAdapter({ errorClasses: { StorageError: new StorageError('x') } })
class ThreeArgumentError extends Error {
  constructor(resource: string, id: string, detail: string) {
    super(`${resource} ${id} ${detail}`)
  }
}
// @ts-expect-error an errorClasses entry is built with the contract's arguments, not more
void new PostgresStorageAdapter({ errorClasses: { NotFoundError: ThreeArgumentError } })
