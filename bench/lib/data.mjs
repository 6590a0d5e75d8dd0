// The benchmark's sessions: deterministic, shaped like SmallTalk's (see docs/contract.md),
// and the same objects for every adapter. Every id starts with ID_PREFIX so the harness can tell
// its rows from anybody else's.

/** Prefix of every session id the benchmark writes. */
export const ID_PREFIX = 'bench-'

/** Fixed clock so two runs store the same bytes. */
const BASE_MS = Date.UTC(2026, 0, 15, 9, 30, 0)

const AGENTS = ['planner', 'critic']

function makeTurns(count, seed, { userWords, replyWords }) {
  const turns = new Array(count)
  for (let index = 0; index < count; index++) {
    const sequence = index + 1
    const timestamp = new Date(BASE_MS + seed * 1000 + sequence * 7000)
    turns[index] = {
      sequence,
      timestamp,
      userMessage: sentence(userWords, seed + sequence),
      agentResponses: AGENTS.map((agentId, agentIndex) => ({
        agentId,
        response: sentence(replyWords, seed + sequence * 3 + agentIndex),
        timestamp: new Date(timestamp.getTime() + 400 + agentIndex * 150),
      })),
    }
  }
  return turns
}

const WORDS = (
  'trip plan budget hotel train museum dinner route weather ticket option detail review note ' +
  'summary price booking window seat morning evening walk river bridge castle garden market'
).split(' ')

function sentence(words, seed) {
  const out = new Array(words)
  for (let index = 0; index < words; index++) out[index] = WORDS[(seed * 31 + index * 17) % WORDS.length]
  return out.join(' ')
}

function makeSession(id, seed, turnCount, text) {
  const createdAt = new Date(BASE_MS + seed * 1000)
  const history = makeTurns(turnCount, seed, text)
  return {
    id,
    createdAt,
    updatedAt: new Date(createdAt.getTime() + 60_000),
    expiresAt: new Date(createdAt.getTime() + 3_600_000),
    state: 'active',
    agentIds: [...AGENTS],
    agentStates: Object.fromEntries(
      AGENTS.map((agentId) => [
        agentId,
        {
          config: {
            model: agentId === 'planner' ? 'gpt-4o' : 'gpt-4o-mini',
            temperature: 0.2,
            tools: ['search', 'calc'],
          },
          context: { lastTopic: 'planning', notes: { count: 2 } },
          messageHistory: history.slice(-2),
        },
      ]),
    ),
    conversationHistory: history,
    sharedContext: { destination: 'Lisbon', days: 4, preferences: { pace: 'slow', food: ['fish', 'pastry'] } },
    metadata: { userId: `user-${seed % 97}`, tags: ['bench', 'typical'] },
    version: 1,
  }
}

/** A typical session: 3 turns, 2 agents (about 3.4 KB serialized). */
export function typicalSession(id, seed = 0) {
  return makeSession(id, seed, 3, { userWords: 6, replyWords: 8 })
}

/** A large session: 1000 turns, 2 agents (about 260 KB serialized). */
export function largeSession(id, seed = 0) {
  const session = makeSession(id, seed, 1000, { userWords: 1, replyWords: 1 })
  session.metadata.tags = ['bench', 'large']
  return session
}

/** A mid-sized session of `turns` turns (the stall workload's ~69 KB with the default 175). */
export function mediumSession(id, seed = 0, turns = MEDIUM_TURNS) {
  const session = makeSession(id, seed, turns, { userWords: 6, replyWords: 8 })
  session.metadata.tags = ['bench', 'medium']
  return session
}

/** Turns of `mediumSession`: about 69 KB serialized, the size of the stall section's batches. */
export const MEDIUM_TURNS = 175

/** `count` ids `${ID_PREFIX}${group}-${index}`. */
export function ids(group, count, from = 0) {
  return Array.from({ length: count }, (_, index) => `${ID_PREFIX}${group}-${from + index}`)
}

/** The size in bytes (UTF-8) of the session's stored JSON. */
export function serializedBytes(session) {
  return Buffer.byteLength(JSON.stringify(session))
}
