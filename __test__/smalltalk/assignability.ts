// Type tests (never run; `tsc -p __test__/tsconfig.json` and tooling/pack.spec.ts check them): the adapter is
// assignable to SmallTalk's StorageAdapter in every position SmallTalk puts it. Each line marked as
// an expected error must stay one, so the types cannot get loose to pass: tsc fails on an unused one.
import {
  PostgresStorageAdapter,
  type PostgresConfig,
  type Session as PackageSession,
} from '@smalltalk-ai/postgres-storage'
import { ConflictError, NotFoundError, StorageError, ValidationError } from './errors.js'
import { SessionManager } from './SessionManager.js'
import type { StorageAdapter, StorageAdapterConfig } from './StorageAdapter.js'
import { SessionState, type Session } from './types.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function exact<A, B>(proof: Equal<A, B>): void {
  void proof
}

declare const config: PostgresConfig
declare const session: Session
declare function runStorageAdapterContractTests(factory: () => StorageAdapter): void

// --- where SmallTalk puts the adapter --------------------------------------------------------------

export const annotated: StorageAdapter = new PostgresStorageAdapter(config)
runStorageAdapterContractTests(() => new PostgresStorageAdapter(config))
export const direct = new SessionManager(new PostgresStorageAdapter(config))

// An adapter held in an unannotated const (or a variable of the class type) first: the methods are
// generic in the session type, so this needs no type argument and no annotation either.
const held = new PostgresStorageAdapter(config)
export const fromConst = new SessionManager(held)
let declaredAsClass: PostgresStorageAdapter
declaredAsClass = new PostgresStorageAdapter(config)
export const fromClassTyped = new SessionManager(declaredAsClass)

export async function createAdapter(adapterConfig?: StorageAdapterConfig): Promise<StorageAdapter> {
  const adapter = new PostgresStorageAdapter({
    ...config,
    errorClasses: { StorageError, ConflictError, ValidationError, NotFoundError },
  })
  await adapter.initialize(adapterConfig)
  return adapter
}

// --- SmallTalk's values in, SmallTalk's types out ----------------------------------------------------

export async function roundTrip(): Promise<void> {
  await held.saveSession(session)
  await held.saveSessions([session, { ...session, state: SessionState.PAUSED }])
  exact<typeof held.serializeSession, (session: PackageSession) => string>(true)
  held.serializeSession(session)

  const read: Session | null = await held.getSession(session.id)
  const many: Map<string, Session> = await held.getSessions([session.id])
  const back: Session = held.deserializeSession(held.serializeSession(session))
  const active = await held.listSessions(SessionState.ACTIVE)
  exact<(typeof active)[number]['state'], SessionState.ACTIVE>(true)
  const listed: Array<{ id: string; state: SessionState; updatedAt: Date; agentCount?: number }> =
    await held.listSessions(undefined, 10, 0)
  const value: { count: number } | null = await held.getValue<{ count: number }>('k')
  void [read, many, back, listed, value]

  // Used on its own, the same adapter returns this package's Session: precise, not `any`.
  const own = await held.getSession(session.id)
  exact<typeof own, PackageSession | null>(true)
  // @ts-expect-error this package's Session (state: a literal union) is not SmallTalk's (an enum)
  const notSmallTalks: Session | null = own
  void notSmallTalks
}

// --- what must stay an error --------------------------------------------------------------------------

// TS2322, as SmallTalk's build reported it: an adapter typed as this package was before (sessions
// with a literal-union state) is not a StorageAdapter. This shows the fixture is as strict as SmallTalk's enum.
declare const literalUnionAdapter: Omit<PostgresStorageAdapter, 'getSession'> & {
  getSession(sessionId: string): Promise<PackageSession | null>
}
// @ts-expect-error Type '"active"' is not assignable to type 'SessionState'
export const literalUnion: StorageAdapter = literalUnionAdapter

// The session type argument must be a session this adapter can store.
// @ts-expect-error `{ id: number }` is not a Session
void held.getSession<{ id: number }>('x')

// An app whose enum has a state this package does not know (getStats counts five) does not fit.
enum WiderState {
  ACTIVE = 'active',
  ARCHIVED = 'archived',
}
interface WiderAdapter {
  getSession(sessionId: string): Promise<(Omit<Session, 'state'> & { state: WiderState }) | null>
}
// @ts-expect-error 'archived' is not one of this package's SessionState values
export const wider: WiderAdapter = held

// A SmallTalk session with a state outside the enum is SmallTalk's own error, and stays one.
// @ts-expect-error '"sometimes"' is not assignable to type 'SessionState'
export const badState: Session = { ...session, state: 'sometimes' }
