// SmallTalk's conversation workload: what its SessionManager's `addMessage` does to the store,
// turn after turn, on C concurrent conversations whose history grows every turn. One turn =
// `getSession` (restore), `getSession` again (SessionManager's version check), then `saveSession`
// with the new turn appended and `version + 1`. Every adapter (and the Redis reference) keeps its
// own conversations, started alike, in interleaved rounds; the measure is turns per second. A
// conversation ends after TURNS_PER_CONVERSATION turns and the worker starts the next one, so
// the sessions' sizes stay in the same range for every adapter and round (start to start + 50
// turns: about 5-20 KB from a 3-turn start, 65-80 KB from a 200-turn one).
//
// Each result is checked: the restored session is the one saved last (its history holds exactly
// `start + version - 1` turns, and both reads agree), so a stale read fails the run.
import { typicalSession } from './data.mjs'
import { measureWorkload } from './rounds.mjs'

/** Turns of one conversation before its worker starts the next. */
const TURNS_PER_CONVERSATION = 50

/** The workloads: `[conversations, turns of history at the start]`. */
export const CONVERSATIONS = [
  { key: 'conversation-4', concurrency: 4, startTurns: 3 },
  { key: 'conversation-16', concurrency: 16, startTurns: 3 },
  { key: 'conversation-64', concurrency: 64, startTurns: 3 },
  { key: 'conversation-4-200', concurrency: 4, startTurns: 200 },
]

function title({ concurrency, startTurns }) {
  return `${concurrency} conversations${startTurns > 3 ? `, ${startTurns}-turn history` : ''}`
}

/** A new turn of conversation `seed`: a user message and both agents' replies, about 300 bytes. */
function turn(sequence, seed) {
  const timestamp = new Date(Date.UTC(2026, 0, 15, 10, 0, 0) + seed * 1000 + sequence * 7000)
  return {
    sequence,
    timestamp,
    userMessage: `turn ${sequence}: what about the museum tickets and the train to the coast tomorrow?`,
    agentResponses: ['planner', 'critic'].map((agentId, index) => ({
      agentId,
      response: `${agentId} on turn ${sequence}: the morning train, then the museum before noon; book both today.`,
      timestamp: new Date(timestamp.getTime() + 400 + index * 150),
    })),
  }
}

/** The conversation's session at the start: a typical session with `startTurns` turns. */
function startingSession(id, seed, startTurns) {
  const session = typicalSession(id, seed)
  session.conversationHistory = Array.from({ length: startTurns }, (_, index) => turn(index + 1, seed))
  session.version = 1
  return session
}

/** One workload of the section, in the shape rounds.mjs measures. */
function workload(spec, runId) {
  // Per adapter, per worker: the conversation's id (each adapter has its own conversations).
  const conversations = new WeakMap()
  let adapters = 0
  const conversationOf = (adapter, worker) => {
    let mine = conversations.get(adapter)
    if (mine === undefined) {
      mine = { index: adapters++, workers: new Map() }
      conversations.set(adapter, mine)
    }
    let current = mine.workers.get(worker)
    if (current === undefined || current.turns === TURNS_PER_CONVERSATION) {
      const generation = current === undefined ? 0 : current.generation + 1
      current = { generation, turns: 0, started: false }
      mine.workers.set(worker, current)
    }
    current.id = `bench-conv-${runId}-${spec.key}-${mine.index}-${worker}-${current.generation}`
    return current
  }
  return {
    key: spec.key,
    title: title(spec),
    concurrency: spec.concurrency,
    startTurns: spec.startTurns,
    limits: [],
    floor: null,
    setup: async () => ({}),
    // Every turn leaves a dead row version (and its TOAST) behind: vacuumed before each run, as
    // autovacuum would on a server that has it on, so no contestant reads through the last one's.
    beforeEachRun: (db) => db.query('VACUUM sessions'),
    input: (_state, worker) => worker,
    async call(adapter, worker) {
      const conversation = conversationOf(adapter, worker)
      const { id } = conversation
      if (!conversation.started) {
        await adapter.saveSession(startingSession(id, worker, spec.startTurns))
        conversation.started = true
      }
      const restored = await adapter.getSession(id)
      const checked = await adapter.getSession(id)
      if (checked.version !== restored.version) throw new Error(`${id}: the version check read another version`)
      restored.conversationHistory.push(turn(restored.conversationHistory.length + 1, worker))
      restored.version += 1
      restored.updatedAt = new Date()
      await adapter.saveSession(restored)
      conversation.turns++
      return { restored, checked }
    },
    check: ({ restored, checked }) =>
      restored.conversationHistory.length === spec.startTurns + restored.version - 1 &&
      checked.conversationHistory.length === restored.conversationHistory.length - 1,
  }
}

/**
 * Measures the conversation workloads for `adapters` (`[{ name, adapter }]`, the Redis reference
 * among them when it runs); resolves to `{ workloads: [{ key, title, concurrency, startTurns,
 * adapters: { name: figures } }], failures, checkedOps }`.
 */
export async function measureConversations({ adapters, db, options, progress, record, only }) {
  const runId = Date.now().toString(36)
  const specs = CONVERSATIONS.filter((spec) => only(spec.key))
  const result = { workloads: [], failures: 0, checkedOps: 0 }
  for (const [index, spec] of specs.entries()) {
    const measured = workload(spec, runId)
    const step = `[conversation ${index + 1}/${specs.length}] ${measured.title}`
    const figures = await measureWorkload({
      workload: measured,
      state: {},
      db,
      adapters,
      options: { ...options, floor: false },
      pgbench: null,
      target: null,
      progress,
      step,
      record,
    })
    result.failures += figures.failures
    result.checkedOps += figures.checkedOps
    result.workloads.push({
      key: spec.key,
      title: measured.title,
      concurrency: spec.concurrency,
      startTurns: spec.startTurns,
      adapters: figures.adapters,
    })
  }
  return result
}
