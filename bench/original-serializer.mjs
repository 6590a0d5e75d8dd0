// The original TypeScript adapter's SessionSerializer, frozen here for the reference adapters so
// that they keep the original's cost even as the package's own serializer gets faster:
// serialize = JSON.stringify (Dates through Date.prototype.toJSON); deserialize = JSON.parse, then
// `new Date(text)` for the contract's Date fields.

function toDate(holder, key) {
  if (typeof holder[key] === 'string') holder[key] = new Date(holder[key])
}

function reviveTurns(turns) {
  if (!Array.isArray(turns)) return
  for (const turn of turns) {
    if (turn === null || typeof turn !== 'object') continue
    toDate(turn, 'timestamp')
    if (Array.isArray(turn.agentResponses)) {
      for (const response of turn.agentResponses)
        if (response !== null && typeof response === 'object') toDate(response, 'timestamp')
    }
  }
}

export function serializeSession(session) {
  return JSON.stringify(session)
}

export function deserializeSession(json) {
  const session = JSON.parse(json)
  toDate(session, 'createdAt')
  toDate(session, 'updatedAt')
  toDate(session, 'expiresAt')
  reviveTurns(session.conversationHistory)
  for (const state of Object.values(session.agentStates ?? {}))
    if (state !== null && typeof state === 'object') reviveTurns(state.messageHistory)
  return session
}
