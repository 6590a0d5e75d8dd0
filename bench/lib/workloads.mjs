// The workloads of issue 5. Each one seeds its own rows (through the harness' connection), then
// every adapter runs the same operations on the same inputs, and every result gets the same check.
//
// A workload is:
//   key, title, concurrency      N async workers share one adapter
//   target                       the goal for native / pg (ops/s ratio), or null
//   setup(db)                    seeds the rows; resolves to the workload's state
//   input(state, worker, k)      the k-th operation of a worker (the same sequence for every adapter)
//   call(adapter, input)         the timed call
//   check(result, input)         true when the result is right (id, version, size, order)
//   verifyRound(db, state)       saves only: how many stored versions differ from what was saved
import { ids, largeSession, typicalSession } from './data.mjs'

/** Rows seeded for the typical reads, getSessions and listSessions. */
export const TYPICAL_ROWS = 2000
const LARGE_ROWS = 8
const SAVE_IDS_PER_WORKER = 4
const BATCH = 100
const LIST_LIMIT = 100
const LARGE_TURNS = 1000

/** Seeded version of the typical session at `index` (varied, so the version check means something). */
const typicalVersion = (index) => 1 + (index % 7)

let typicalCache = null
function typicalRows() {
  typicalCache ??= ids('typical', TYPICAL_ROWS).map((id, index) => {
    const session = typicalSession(id, index)
    session.version = typicalVersion(index)
    return session
  })
  return typicalCache
}

async function seedTypical(db) {
  const sessions = typicalRows()
  await db.seed(sessions)
  return {
    next: 0,
    ids: sessions.map((session) => session.id),
    versions: sessions.map((session) => session.version),
  }
}

function getTypical(concurrency) {
  return {
    key: `get-typical-${concurrency}`,
    title: `getSession typical @${concurrency}`,
    concurrency,
    target: concurrency === 16 ? { ratio: 2.0 } : null,
    setup: seedTypical,
    input(state) {
      const index = state.next++ % state.ids.length
      return { id: state.ids[index], version: state.versions[index] }
    },
    call: (adapter, input) => adapter.getSession(input.id),
    check: (session, input) =>
      session !== null && session.id === input.id && session.version === input.version && session.conversationHistory.length === 3,
  }
}

/** Saves that bump a version per operation: the shared bookkeeping and the end-of-round check. */
function versionedState(sessions) {
  return { sessions, versions: new Map(sessions.flat().map((session) => [session.id, session.version])) }
}

function bump(state, session) {
  const version = state.versions.get(session.id) + 1
  state.versions.set(session.id, version)
  session.version = version
  session.updatedAt = new Date(session.createdAt.getTime() + version * 1000)
}

async function verifyVersions(db, state) {
  const stored = await db.storedVersions([...state.versions.keys()])
  let wrong = 0
  for (const [id, version] of state.versions) if (stored.get(id) !== version) wrong++
  return wrong
}

const saveTypical = {
  key: 'save-typical-16',
  title: 'saveSession typical @16',
  concurrency: 16,
  target: { ratio: 1.5 },
  async setup(db) {
    const sessions = Array.from({ length: 16 }, (_, worker) =>
      ids(`save-typical-${worker}`, SAVE_IDS_PER_WORKER).map((id, index) => typicalSession(id, worker * 10 + index)),
    )
    await db.seed(sessions.flat())
    return versionedState(sessions)
  },
  input(state, worker, k) {
    const session = state.sessions[worker][k % SAVE_IDS_PER_WORKER]
    bump(state, session)
    return session
  },
  call: (adapter, session) => adapter.saveSession(session),
  check: (result) => result === undefined,
  verifyRound: verifyVersions,
}

const getLarge = {
  key: 'get-large-4',
  title: 'getSession 1000-turn @4',
  concurrency: 4,
  target: { ratio: 2.5, busyRatio: 0.4 },
  async setup(db) {
    const sessions = ids('large', LARGE_ROWS).map((id, index) => {
      const session = largeSession(id, index)
      session.version = 1 + index
      return session
    })
    await db.seed(sessions)
    return { next: 0, ids: sessions.map((session) => session.id), versions: sessions.map((session) => session.version) }
  },
  input(state) {
    const index = state.next++ % state.ids.length
    return { id: state.ids[index], version: state.versions[index] }
  },
  call: (adapter, input) => adapter.getSession(input.id),
  check: (session, input) =>
    session !== null &&
    session.id === input.id &&
    session.version === input.version &&
    session.conversationHistory.length === LARGE_TURNS,
}

const saveLarge = {
  key: 'save-large-4',
  title: 'saveSession 1000-turn @4',
  concurrency: 4,
  target: { ratio: 3.0 },
  async setup(db) {
    const sessions = Array.from({ length: 4 }, (_, worker) => [largeSession(ids('save-large', 1, worker)[0], worker)])
    await db.seed(sessions.flat())
    return versionedState(sessions)
  },
  input(state, worker) {
    const session = state.sessions[worker][0]
    bump(state, session)
    return session
  },
  call: (adapter, session) => adapter.saveSession(session),
  check: (result) => result === undefined,
  verifyRound: verifyVersions,
}

const saveSessions = {
  key: 'save-sessions-100',
  title: 'saveSessions(100) @4',
  concurrency: 4,
  target: { ratio: 5.0 },
  async setup(db) {
    const sessions = Array.from({ length: 4 }, (_, worker) =>
      ids(`batch-${worker}`, BATCH).map((id, index) => typicalSession(id, worker * BATCH + index)),
    )
    await db.seed(sessions.flat())
    return versionedState(sessions)
  },
  input(state, worker) {
    const batch = state.sessions[worker]
    for (const session of batch) bump(state, session)
    return batch
  },
  call: (adapter, batch) => adapter.saveSessions(batch),
  check: (count, batch) => count === batch.length,
  verifyRound: verifyVersions,
}

const getSessions = {
  key: 'get-sessions-100',
  title: 'getSessions(100) @4',
  concurrency: 4,
  target: { ratio: 2.5 },
  async setup(db) {
    const state = await seedTypical(db)
    state.windows = Array.from({ length: TYPICAL_ROWS / BATCH }, (_, window) => {
      const from = window * BATCH
      return { ids: state.ids.slice(from, from + BATCH), versions: state.versions.slice(from, from + BATCH) }
    })
    return state
  },
  input: (state) => state.windows[state.next++ % state.windows.length],
  call: (adapter, window) => adapter.getSessions(window.ids),
  check(sessions, window) {
    if (!(sessions instanceof Map) || sessions.size !== window.ids.length) return false
    for (let index = 0; index < window.ids.length; index++) {
      const session = sessions.get(window.ids[index])
      if (session === undefined || session.id !== window.ids[index] || session.version !== window.versions[index]) return false
    }
    return true
  },
}

const listSessions = {
  key: 'list-100',
  title: `listSessions(limit ${LIST_LIMIT}) of ${TYPICAL_ROWS}`,
  concurrency: 4,
  target: { ratio: 1.5 },
  async setup(db) {
    await seedTypical(db)
    // Every seeded row has its own updatedAt, so the first page is fully determined.
    const newest = [...typicalRows()].sort((a, b) => b.updatedAt - a.updatedAt).slice(0, LIST_LIMIT)
    return { expected: newest.map((session) => ({ id: session.id, updatedMs: session.updatedAt.getTime() })) }
  },
  input: (state) => state.expected,
  call: (adapter) => adapter.listSessions(undefined, LIST_LIMIT, 0),
  check(summaries, expected) {
    if (!Array.isArray(summaries) || summaries.length !== expected.length) return false
    for (let index = 0; index < expected.length; index++) {
      const summary = summaries[index]
      if (summary.id !== expected[index].id || summary.updatedAt.getTime() !== expected[index].updatedMs) return false
      if (summary.state !== 'active' || summary.agentCount !== 2) return false
    }
    return true
  },
}

/** All workloads, in the order they run. */
export const WORKLOADS = [getTypical(1), getTypical(16), saveTypical, getLarge, saveLarge, saveSessions, getSessions, listSessions]
