// The workloads of the main table. Each one seeds its own rows (through the harness' connection),
// then every adapter runs the same operations on the same inputs, and every result gets the same
// check. Most also name their limit (pgbench running the adapter's SQL on the same rows at the same
// concurrency) and their JS-thread floor (the JSON work any adapter must do for one operation).
//
// A workload is:
//   key, title, concurrency      N async workers share one adapter
//   setup(db)                    seeds the rows; resolves to the workload's state
//   input(state, worker, k)      the k-th operation of a worker (the same sequence for every adapter)
//   call(adapter, input)         the timed call
//   check(result, input)         true when the result is right (id, version, size, order)
//   verifyRound(db, state)       saves only: how many stored versions differ from what was saved
//   resync(db, state)            saves only: takes the stored versions after pgbench wrote rows
//   limits                       pgbench runs ([0] is "the limit"; the others are reference points)
//   mirror                       SQL of sql.mjs that native's connections must be seen running
//   floor                        { what, prepare(db, state) -> one operation's floor work }
import { deserializeSession } from '../original-serializer.mjs'
import { ids, largeSession, typicalSession } from './data.mjs'
import { GET_SESSION, GET_SESSIONS, LIST_SESSIONS, SAVE_SESSION, bind, literal } from './sql.mjs'

/** Rows seeded for the typical reads, getSessions and listSessions. */
export const TYPICAL_ROWS = 2000
const LARGE_ROWS = 8
const SAVE_IDS_PER_WORKER = 4
const BATCH = 100
const LIST_LIMIT = 100
const LARGE_TURNS = 1000
/** Ids per statement of the "one statement fetching 16 ids" reference point. */
const MANY_IDS = 16
const ID_SETS = 20

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

/** A small deterministic PRNG (mulberry32), so every run draws the same "random" ids. */
function random(seed) {
  let value = seed >>> 0
  return () => {
    value = (value + 0x6d2b79f5) >>> 0
    let t = value
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `sets` sets of `size` distinct indexes below `rows`, drawn at random (fixed seed). */
function randomIndexSets(sets, size, rows, seed) {
  const next = random(seed)
  return Array.from({ length: sets }, () => {
    const chosen = new Set()
    while (chosen.size < size) chosen.add(Math.floor(next() * rows))
    return [...chosen]
  })
}

const typicalId = (index) => `bench-typical-${index}`
const arrayLiteral = (indexes) => `${literal(`{${indexes.map(typicalId).join(',')}}`)}::text[]`

/** pgbench scripts, one per id set, each binding its set as a literal array (pgbench cannot build one). */
function idSetScripts(name, sets) {
  return sets.map((indexes, index) => ({
    name: `${name}-${index}`,
    text: `${bind(GET_SESSIONS, [arrayLiteral(indexes)])};`,
  }))
}

/** The stored JSON of the first `count` typical sessions, as the adapters read it back. */
async function storedTypicalTexts(db, count) {
  const wanted = typicalRows()
    .slice(0, count)
    .map((session) => session.id)
  const texts = await db.storedTexts(wanted)
  return wanted.map((id) => texts.get(id))
}

/** Floor of a read: JSON.parse + the contract's Date revival of stored texts, cycling. */
function parseFloor(texts, perOp = 1) {
  let next = 0
  if (perOp === 1) return () => deserializeSession(texts[next++ % texts.length])
  return () => {
    const sessions = new Map()
    for (let index = 0; index < perOp; index++) {
      const session = deserializeSession(texts[next++ % texts.length])
      sessions.set(session.id, session)
    }
    return sessions
  }
}

/** Floor of a save: plain JSON.stringify of the sessions, cycling (`perOp` of them per operation). */
function stringifyFloor(sessions, perOp = 1) {
  let next = 0
  return () => {
    let bytes = 0
    for (let index = 0; index < perOp; index++) bytes += JSON.stringify(sessions[next++ % sessions.length]).length
    return bytes
  }
}

const GET_LIMIT = {
  name: 'pgbench getSession',
  what: 'the same SELECT, a random id among the 2,000 per transaction',
  scripts: () => [
    { name: 'get', text: `\\set n random(0, ${TYPICAL_ROWS - 1})\n${bind(GET_SESSION, [`'bench-typical-' || :n`])};` },
  ],
}

const MANY_IDS_REFERENCE = {
  name: `pgbench ${MANY_IDS} ids in one statement`,
  what: `the getSessions SELECT with ${MANY_IDS} random ids (what full coalescing of ${MANY_IDS} reads would send)`,
  rowsPerTransaction: MANY_IDS,
  scripts: () => idSetScripts('many', randomIndexSets(100, MANY_IDS, TYPICAL_ROWS, 16)),
}

function getTypical(concurrency) {
  return {
    key: `get-typical-${concurrency}`,
    title: `getSession typical @${concurrency}`,
    concurrency,
    setup: seedTypical,
    input(state) {
      const index = state.next++ % state.ids.length
      return { id: state.ids[index], version: state.versions[index] }
    },
    call: (adapter, input) => adapter.getSession(input.id),
    check: (session, input) =>
      session !== null &&
      session.id === input.id &&
      session.version === input.version &&
      session.conversationHistory.length === 3,
    limits: concurrency === 16 ? [GET_LIMIT, MANY_IDS_REFERENCE] : [],
    floor: {
      what: 'JSON.parse + Date revival of one stored typical session',
      prepare: async (db) => parseFloor(await storedTypicalTexts(db, 64)),
    },
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

async function resyncVersions(db, state) {
  const stored = await db.storedVersions([...state.versions.keys()])
  for (const id of state.versions.keys()) state.versions.set(id, stored.get(id))
}

/** pgbench's upsert: client c saves `bench-save-typical-<c>-<k>`, as worker c does, versions always growing. */
const SAVE_LIMIT = {
  name: 'pgbench saveSession',
  what: 'the same version-guarded upsert of a typical session, each client its own 4 rows, versions growing (every upsert accepted)',
  scripts: () => [
    {
      name: 'save',
      text:
        `\\set v :v + 1\n\\set k :v % ${SAVE_IDS_PER_WORKER}\n` +
        `${bind(SAVE_SESSION, [`'bench-save-typical-' || :client_id || '-' || :k`, ':data', ':v', ':created', ':updated'])};`,
    },
  ],
  async defines(db, state) {
    const session = state.sessions[0][0]
    const highest = Math.max(...(await db.storedVersions([...state.versions.keys()])).values())
    return {
      v: String(highest + 1),
      data: JSON.stringify(session),
      created: session.createdAt.toISOString(),
      updated: session.updatedAt.toISOString(),
    }
  },
  // pgbench cannot see affected rows: every row must at least hold a version pgbench wrote.
  async verify(db, state, defines) {
    const stored = await db.storedVersions([...state.versions.keys()])
    const behind = [...stored.values()].filter((version) => version < Number(defines.v)).length
    return behind === 0 ? null : `${behind} rows kept a version older than pgbench's first`
  },
}

function saveTypical(concurrency) {
  return {
    key: `save-typical-${concurrency}`,
    title: `saveSession typical @${concurrency}`,
    concurrency,
    async setup(db) {
      const sessions = Array.from({ length: concurrency }, (_, worker) =>
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
    resync: resyncVersions,
    limits: concurrency === 16 ? [SAVE_LIMIT] : [],
    floor: {
      what: 'JSON.stringify of one typical session',
      prepare: async (db, state) => stringifyFloor(state.sessions.flat()),
    },
  }
}

const getLarge = {
  key: 'get-large-4',
  title: 'getSession 1000-turn @4',
  concurrency: 4,
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
  limits: [],
  floor: {
    what: 'JSON.parse + Date revival of one stored 1000-turn session',
    async prepare(db, state) {
      const texts = await db.storedTexts(state.ids)
      return parseFloor(state.ids.map((id) => texts.get(id)))
    },
  },
}

const saveLarge = {
  key: 'save-large-4',
  title: 'saveSession 1000-turn @4',
  concurrency: 4,
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
  limits: [],
  floor: {
    what: 'JSON.stringify of one 1000-turn session',
    prepare: async (db, state) => stringifyFloor(state.sessions.flat()),
  },
}

const saveSessions = {
  key: 'save-sessions-100',
  title: 'saveSessions(100) @4',
  concurrency: 4,
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
  limits: [],
  floor: {
    what: 'JSON.stringify of 100 typical sessions',
    prepare: async (db, state) => stringifyFloor(state.sessions[0], BATCH),
  },
}

const GET_SESSIONS_SETS = randomIndexSets(ID_SETS, BATCH, TYPICAL_ROWS, 100)

const getSessions = {
  key: 'get-sessions-100',
  title: 'getSessions(100) @1',
  concurrency: 1,
  async setup(db) {
    const state = await seedTypical(db)
    state.sets = GET_SESSIONS_SETS.map((indexes) => ({
      ids: indexes.map((index) => state.ids[index]),
      versions: indexes.map((index) => state.versions[index]),
    }))
    return state
  },
  input: (state) => state.sets[state.next++ % state.sets.length],
  call: (adapter, set) => adapter.getSessions(set.ids),
  check(sessions, set) {
    if (!(sessions instanceof Map) || sessions.size !== set.ids.length) return false
    for (let index = 0; index < set.ids.length; index++) {
      const session = sessions.get(set.ids[index])
      if (session === undefined || session.id !== set.ids[index] || session.version !== set.versions[index])
        return false
    }
    return true
  },
  limits: [
    {
      name: 'pgbench getSessions(100)',
      what: `the same SELECT ... = ANY, one of the same ${ID_SETS} sets of 100 random ids per transaction`,
      scripts: () => idSetScripts('batch', GET_SESSIONS_SETS),
    },
  ],
  floor: {
    what: 'JSON.parse + Date revival of 100 stored typical sessions, into a Map',
    prepare: async (db) => parseFloor(await storedTypicalTexts(db, BATCH), BATCH),
  },
}

/** The expected first page of `rows` (every row has its own updatedAt, so the page is fully determined). */
export function newestPage(rows, limit = LIST_LIMIT) {
  return [...rows]
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .slice(0, limit)
    .map((session) => ({ id: session.id, updatedMs: session.updatedAt.getTime() }))
}

/** True when `summaries` is exactly the `expected` page of active, 2-agent sessions. */
export function isPage(summaries, expected) {
  if (!Array.isArray(summaries) || summaries.length !== expected.length) return false
  for (let index = 0; index < expected.length; index++) {
    const summary = summaries[index]
    if (summary.id !== expected[index].id || summary.updatedAt.getTime() !== expected[index].updatedMs) return false
    if (summary.state !== 'active' || summary.agentCount !== 2) return false
  }
  return true
}

/** pgbench of the adapter's list statement, LIMIT and OFFSET bound as parameters like the adapter's. */
export const LIST_LIMIT_SPEC = {
  name: 'pgbench listSessions',
  what: `the adapter's list SELECT, LIMIT ${LIST_LIMIT} OFFSET 0 as parameters`,
  scripts: () => [{ name: 'list', text: `${bind(LIST_SESSIONS, [':limit', ':offset'])};` }],
  defines: async () => ({ limit: String(LIST_LIMIT), offset: '0' }),
}

const listSessions = {
  key: 'list-100',
  title: `listSessions(${LIST_LIMIT} of ${TYPICAL_ROWS.toLocaleString('en-US')}) @1`,
  concurrency: 1,
  async setup(db) {
    await seedTypical(db)
    return { expected: newestPage(typicalRows()) }
  },
  input: (state) => state.expected,
  call: (adapter) => adapter.listSessions(undefined, LIST_LIMIT, 0),
  check: isPage,
  limits: [LIST_LIMIT_SPEC],
  mirror: LIST_SESSIONS,
  floor: {
    what: 'JSON.parse of the 100 summaries as JSON text, and a Date for each',
    async prepare(db, state) {
      const text = JSON.stringify(
        state.expected.map(({ id, updatedMs }) => ({
          id,
          state: 'active',
          updatedAt: new Date(updatedMs).toISOString(),
          agentCount: 2,
        })),
      )
      return () => {
        const summaries = JSON.parse(text)
        for (const summary of summaries) summary.updatedAt = new Date(summary.updatedAt)
        return summaries
      }
    },
  },
}

/** All workloads, in the order they run. */
export const WORKLOADS = [
  getTypical(1),
  getTypical(16),
  getTypical(64),
  saveTypical(1),
  saveTypical(16),
  saveTypical(64),
  getLarge,
  saveLarge,
  saveSessions,
  getSessions,
  listSessions,
]
