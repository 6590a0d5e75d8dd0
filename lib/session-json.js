'use strict'
// The stored format: JSON.stringify with Dates as ISO strings; parse revives exactly the contract's Date fields.

function toDate(holder, key) {
  const value = holder[key]
  if (typeof value === 'string') holder[key] = new Date(value)
}

function reviveTurns(turns) {
  if (!Array.isArray(turns)) return
  for (const turn of turns) {
    if (turn === null || typeof turn !== 'object') continue
    toDate(turn, 'timestamp')
    const responses = turn.agentResponses
    if (Array.isArray(responses)) {
      for (const response of responses) {
        if (response !== null && typeof response === 'object') toDate(response, 'timestamp')
      }
    }
  }
}

/**
 * Turns the contract's Date fields of a parsed session back into Dates (in place): top-level
 * createdAt/updatedAt/expiresAt, and every turn's (and agent response's) timestamp in
 * conversationHistory and in each agentStates[*].messageHistory. Nothing else.
 */
function reviveSession(session) {
  if (session === null || typeof session !== 'object') return session
  toDate(session, 'createdAt')
  toDate(session, 'updatedAt')
  toDate(session, 'expiresAt')
  reviveTurns(session.conversationHistory)
  const agentStates = session.agentStates
  if (agentStates !== null && typeof agentStates === 'object') {
    for (const agentId of Object.keys(agentStates)) {
      const state = agentStates[agentId]
      if (state !== null && typeof state === 'object') reviveTurns(state.messageHistory)
    }
  }
  return session
}

/** `JSON.stringify` of the session; Dates become ISO-8601 strings. */
function serializeSession(session) {
  return JSON.stringify(session)
}

/** Parses a serialized session and revives its Date fields. */
function deserializeSession(json) {
  return reviveSession(JSON.parse(json))
}

module.exports = { serializeSession, deserializeSession, reviveSession }
