'use strict'
// The stored format: JSON.stringify with Dates as ISO strings; parse revives exactly the contract's Date fields.

// The number in `text` at [start, start + count), or -1 unless all are digits.
function digits(text, start, count) {
  let value = 0
  for (let index = start; index < start + count; index++) {
    const digit = text.charCodeAt(index) - 48
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}

/**
 * `new Date(text)`, with a fast path for what toISOString writes ("2026-01-15T09:30:00.000Z",
 * years 0100-9999): the same instant, without the general date parser. Anything else (other
 * forms, out-of-range fields) takes `new Date(text)`, so the result is always the same.
 */
function isoDate(text) {
  if (
    text.length === 24 &&
    text.charCodeAt(4) === 45 && // -
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 && // T
    text.charCodeAt(13) === 58 && // :
    text.charCodeAt(16) === 58 &&
    text.charCodeAt(19) === 46 && // .
    text.charCodeAt(23) === 90 // Z
  ) {
    const year = digits(text, 0, 4)
    const month = digits(text, 5, 2)
    const day = digits(text, 8, 2)
    const hour = digits(text, 11, 2)
    const minute = digits(text, 14, 2)
    const second = digits(text, 17, 2)
    const ms = digits(text, 20, 3)
    // Date.UTC reads years 0-99 as 1900-1999; V8 rolls a day 29-31 past the month's end over, as Date.UTC does.
    if (
      year >= 100 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= 31 &&
      hour >= 0 &&
      hour <= 23 &&
      minute >= 0 &&
      minute <= 59 &&
      second >= 0 &&
      second <= 59 &&
      ms >= 0
    ) {
      return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms))
    }
  }
  return new Date(text)
}

function toDate(holder, key) {
  const value = holder[key]
  if (typeof value === 'string') holder[key] = isoDate(value)
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

module.exports = { serializeSession, deserializeSession, isoDate }
