// pg_auto_failover: a real formation (monitor, primary, secondary; scripts/auto-failover.mjs) and
// one adapter on the formation's URL (`pg_autoctl show uri`: both nodes, target_session_attrs=
// read-write). Writers (saveSession, saveSessions) and a reader run through (a) a planned failover
// (`pg_autoctl perform failover`) and (b) an unplanned one (the primary's node stopped fast, the
// monitor's health checks shortened). Every call settles within a bound; every acknowledged write
// is on the new primary (read back with a plain `pg` client there), and nothing a rejected call
// sent is stored unless it said E_OUTCOME_UNKNOWN; the same adapter carries on afterwards. Prints
// each outage window. Needs no PgBouncer: test-scale.mjs runs it with the other scale specs.
import { randomUUID } from 'node:crypto'
import { ConflictError, PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { Session } from '@smalltalk-ai/postgres-storage'
import { startFormation, type Formation, type FormationNode } from '../../scripts/auto-failover.mjs'
import { makeSession } from '../helpers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const QUERY_TIMEOUT_MS = 5000
/** No call may take longer: its deadline (queryTimeoutMs) plus a connect and a margin. */
const SETTLE_BOUND_MS = QUERY_TIMEOUT_MS + 2000 + 5000

let formation: Formation
let adapter: PostgresStorageAdapter

beforeAll(async () => {
  formation = await startFormation({ database: 'failover' })
  adapter = new PostgresStorageAdapter({
    connectionString: await formation.uri(),
    user: 'postgres',
    password: 'postgres',
    poolSize: 4,
    connectTimeoutMs: 2000,
    acquireTimeoutMs: 2000,
    queryTimeoutMs: QUERY_TIMEOUT_MS,
  })
  await adapter.initialize()
}, 180_000)

afterAll(async () => {
  await adapter?.close()
  await formation?.stop()
}, 120_000)

interface Call {
  kind: string
  start: number
  end: number
  ok: boolean
}

/** The write loop: what was acknowledged, what may or may not be stored, and every call's outcome. */
class Load {
  readonly acknowledged = new Map<string, number>()
  /** Versions whose save ended E_OUTCOME_UNKNOWN: each may or may not be stored. */
  readonly unknown = new Map<string, number[]>()
  /** Ids of sessions a save was attempted for. */
  readonly attempted = new Set<string>()
  readonly calls: Call[] = []
  readonly unexpected: unknown[] = []
  readonly errorCodes = new Map<string, number>()
  hung = 0
  staleReads = 0
  reads = 0
  private running = true
  private loops: Promise<void>[] = []

  constructor(
    private readonly prefix: string,
    private readonly storage: PostgresStorageAdapter,
  ) {}

  start(writers = 3, batchWriters = 1, readers = 1) {
    for (let i = 0; i < writers; i++) this.loops.push(this.writer())
    for (let i = 0; i < batchWriters; i++) this.loops.push(this.batchWriter())
    for (let i = 0; i < readers; i++) this.loops.push(this.reader())
  }

  async stop() {
    this.running = false
    await Promise.all(this.loops)
  }

  private newSession(): Session {
    return makeSession({ id: `${this.prefix}-${randomUUID()}`, conversationHistory: [] })
  }

  // Runs one call, bounded: a call still pending after SETTLE_BOUND_MS counts as hung.
  private async call<T>(kind: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now()
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${kind} did not settle within ${SETTLE_BOUND_MS} ms`)),
        SETTLE_BOUND_MS,
      )
    })
    try {
      const value = await Promise.race([work(), bound])
      this.calls.push({ kind, start, end: performance.now(), ok: true })
      return value
    } catch (error) {
      this.calls.push({ kind, start, end: performance.now(), ok: false })
      if (error instanceof StorageError && !(error instanceof ConflictError)) {
        const code = String(error.code)
        this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1)
        if (!['E_CONNECTION', 'E_TIMEOUT', 'E_OUTCOME_UNKNOWN'].includes(code)) this.unexpected.push(error)
      } else {
        if (!(error instanceof ConflictError)) this.hung++
        this.unexpected.push(error)
      }
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  private markUnknown(id: string, version: number) {
    this.unknown.set(id, [...(this.unknown.get(id) ?? []), version])
  }

  private async writer() {
    let session = this.newSession()
    let version = 0
    let saves = 0
    while (this.running) {
      // A new session every 10 acknowledged saves: a first save that fails must leave no row.
      if (saves > 0 && saves % 10 === 0) {
        session = this.newSession()
        version = 0
        saves = 0
      }
      this.attempted.add(session.id)
      try {
        await this.call('saveSession', () =>
          this.storage.saveSession({ ...session, version: version + 1, updatedAt: new Date() }),
        )
        version++
        saves++
        this.acknowledged.set(session.id, version)
      } catch (error) {
        // A rejected save wrote nothing: the same version is tried again (had it landed, that
        // retry would be a ConflictError, which fails the test). After E_OUTCOME_UNKNOWN it may be
        // stored: the next attempt moves past it.
        if (error instanceof StorageError && error.code === 'E_OUTCOME_UNKNOWN') this.markUnknown(session.id, ++version)
        await sleep(20)
      }
    }
  }

  private async batchWriter() {
    let sessions = [this.newSession(), this.newSession(), this.newSession()]
    let version = 0
    while (this.running) {
      if (version >= 10) {
        sessions = [this.newSession(), this.newSession(), this.newSession()]
        version = 0
      }
      for (const session of sessions) this.attempted.add(session.id)
      const next = version + 1
      try {
        await this.call('saveSessions', () =>
          this.storage.saveSessions(sessions.map((session) => ({ ...session, version: next, updatedAt: new Date() }))),
        )
        version = next
        for (const session of sessions) this.acknowledged.set(session.id, version)
      } catch (error) {
        // All or nothing: a rejected batch stored none of its sessions.
        if (error instanceof StorageError && error.code === 'E_OUTCOME_UNKNOWN') {
          version = next
          for (const session of sessions) this.markUnknown(session.id, version)
        }
        await sleep(20)
      }
    }
  }

  // Reads an acknowledged session: the primary it reads from must hold that version or a later one.
  private async reader() {
    while (this.running) {
      const ids = [...this.acknowledged.keys()]
      if (ids.length === 0) {
        await sleep(20)
        continue
      }
      const id = ids[Math.floor(Math.random() * ids.length)]
      const floor = this.acknowledged.get(id)!
      try {
        const read = await this.call('getSession', () => this.storage.getSession(id))
        this.reads++
        if (read === null || read.version < floor) this.staleReads++
      } catch {
        await sleep(20)
      }
    }
  }
}

/** Waits until a node other than `old` reports itself primary (or wait_primary); returns it. */
async function newPrimary(old: FormationNode, timeoutMs = 90_000): Promise<FormationNode> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = (await formation.state().catch(() => [])).find(
      (row) => row.port !== old.port && ['primary', 'wait_primary'].includes(row.reported),
    )
    if (found?.node) return found.node
    await sleep(200)
  }
  throw new Error(`no node took over from ${old.name} within ${timeoutMs} ms`)
}

interface Outcome {
  /** First failed call's start to the end of the first successful call started after it. */
  windowMs: number | null
  /** First failed call's start to the end of the first successful call started after the last failure. */
  untilSteadyMs: number | null
  /** The longest time after the trigger in which no call succeeded. */
  longestGapMs: number
  failed: number
  calls: number
  acknowledgedWrites: number
  lost: number
}

/** Runs the load through `trigger`, then checks the new primary against what was acknowledged. */
async function throughFailover(name: string, trigger: (primary: FormationNode) => Promise<void>): Promise<Outcome> {
  const { primary } = await formation.waitForSteadyState()
  const load = new Load(name, adapter)
  load.start()
  await sleep(1500)
  expect(load.acknowledged.size).toBeGreaterThan(0)
  const triggeredAt = performance.now()
  await trigger(primary)
  const promoted = await newPrimary(primary)
  // Until the load has written through the new primary for a while.
  const deadline = Date.now() + 60_000
  while (
    Date.now() < deadline &&
    !load.calls.some((call) => call.ok && call.start > performance.now() - 1000 && call.start > triggeredAt + 500)
  ) {
    await sleep(100)
  }
  await sleep(1500)
  await load.stop()

  expect(load.hung).toBe(0)
  expect(load.unexpected).toEqual([])
  expect(load.staleReads).toBe(0)

  // The new primary holds every acknowledged write: its last acknowledged version, or a later one
  // whose save said E_OUTCOME_UNKNOWN; and no session whose every save was rejected.
  const rows = await formation.query(promoted, 'SELECT id, version FROM sessions WHERE id LIKE $1', [`${name}-%`])
  const stored = new Map<string, number>(rows.map((row) => [row.id, row.version]))
  let lost = 0
  const wrong: unknown[] = []
  for (const [id, version] of load.acknowledged) {
    const found = stored.get(id)
    if (found === undefined || found < version) lost++
    const allowed = [version, ...(load.unknown.get(id) ?? []).filter((maybe) => maybe > version)]
    if (found !== undefined && !allowed.includes(found)) wrong.push({ id, found, allowed })
  }
  const unexplained = [...stored.keys()].filter((id) => !load.acknowledged.has(id) && !load.unknown.has(id))
  expect({ lost, wrong, unexplained }).toEqual({ lost: 0, wrong: [], unexplained: [] })
  expect([...stored.keys()].every((id) => load.attempted.has(id))).toBe(true)

  const calls = [...load.calls].sort((a, b) => a.start - b.start)
  const failures = calls.filter((call) => !call.ok)
  const firstFailure = failures[0]
  const lastFailure = failures[failures.length - 1]
  const firstOkAfter = (from: number) =>
    calls
      .filter((call) => call.ok && call.start >= from)
      .reduce((min, call) => Math.min(min, call.end), Number.POSITIVE_INFINITY)
  const successes = calls
    .filter((call) => call.ok && call.end >= triggeredAt)
    .map((call) => call.end)
    .sort((a, b) => a - b)
  let longestGapMs = 0
  for (let i = 1; i < successes.length; i++) longestGapMs = Math.max(longestGapMs, successes[i] - successes[i - 1])
  const outcome: Outcome = {
    windowMs: firstFailure ? Math.round(firstOkAfter(firstFailure.start) - firstFailure.start) : null,
    untilSteadyMs: firstFailure ? Math.round(firstOkAfter(lastFailure.end) - firstFailure.start) : null,
    longestGapMs: Math.round(longestGapMs),
    failed: failures.length,
    calls: calls.length,
    acknowledgedWrites: [...load.acknowledged.values()].reduce((sum, version) => sum + version, 0),
    lost,
  }
  const codes = [...load.errorCodes].map(([code, count]) => `${count} ${code}`).join(', ') || 'none'
  const at = (time: number | undefined) => (time === undefined ? '-' : `${Math.round(time - triggeredAt)} ms`)
  console.log(
    `pg_auto_failover ${name}: ${promoted.name} took over from ${primary.name}; outage window ` +
      `${outcome.windowMs ?? 0} ms (first failed call to the first successful one after it), ` +
      `${outcome.untilSteadyMs ?? 0} ms until no call failed any more, longest time without a successful call ` +
      `${outcome.longestGapMs} ms; failures from ${at(firstFailure?.start)} to ` +
      `${at(lastFailure?.end)} after the trigger (${codes}); ${outcome.calls} calls, ${load.reads} reads, ` +
      `${load.acknowledged.size} sessions, ${outcome.acknowledgedWrites} acknowledged writes, ${lost} lost, ` +
      `${[...load.unknown.values()].flat().length} outcomes unknown`,
  )
  // The same adapter, never recreated, works against the new primary.
  expect(await adapter.healthCheck()).toEqual({ healthy: true })
  const after = makeSession({ id: `${name}-after-${randomUUID()}` })
  await adapter.saveSession(after)
  expect((await adapter.getSession(after.id))!.version).toBe(1)
  expect(await formation.query(promoted, 'SELECT version FROM sessions WHERE id = $1', [after.id])).toEqual([
    { version: 1 },
  ])
  return outcome
}

it('a planned failover (pg_autoctl perform failover): every call settles, no acknowledged write is lost', async () => {
  const outcome = await throughFailover('planned', async () => {
    await formation.performFailover()
  })
  expect(outcome.lost).toBe(0)
}, 240_000)

it('an unplanned failover (the primary stopped fast): every call settles, no acknowledged write is lost', async () => {
  const outcome = await throughFailover('unplanned', async (primary) => {
    await formation.stopFast(primary)
  })
  expect(outcome.lost).toBe(0)
  // With no primary for seconds, some calls fail (fast, with StorageError) before the promotion.
  expect(outcome.failed).toBeGreaterThan(0)
}, 240_000)
