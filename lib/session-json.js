'use strict'
// The stored format: JSON.stringify with Dates as ISO strings; parse revives exactly the contract's
// Date fields. Both are on the JS thread, so both take the fast road where the output is provably
// the same: JSON.stringify leaves V8's fast path at every object with a toJSON (each Date), so the
// session's known Date fields are formatted here and handed to JSON.stringify as plain strings; and
// ISO strings in the exact toISOString() shape are read by arithmetic instead of Date's parser.

const DATE_TO_JSON = Date.prototype.toJSON
const DATE_TO_ISO = Date.prototype.toISOString
const DATE_VALUE_OF = Date.prototype.valueOf
const MS_PER_DAY = 86400000
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => (n < 10 ? '0' : '') + n)
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'))

/** What JSON.stringify would write for `value` if it is a plain Date (string, or null); else `value`. */
function plainDate(value) {
  if (
    !(value instanceof Date) ||
    value.toJSON !== DATE_TO_JSON ||
    value.toISOString !== DATE_TO_ISO ||
    value.valueOf !== DATE_VALUE_OF
  ) {
    return value
  }
  const ms = value.getTime()
  if (Number.isNaN(ms)) return null
  // Years 1970-9999 by arithmetic (days to civil date, H. Hinnant); others the builtin way.
  if (ms < 0 || ms >= 253402300800000) return value.toISOString()
  const days = Math.floor(ms / MS_PER_DAY)
  let rest = ms - days * MS_PER_DAY
  const shifted = days + 719468
  const era = Math.floor(shifted / 146097)
  const dayOfEra = shifted - era * 146097
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  const hours = Math.floor(rest / 3600000)
  rest -= hours * 3600000
  const minutes = Math.floor(rest / 60000)
  rest -= minutes * 60000
  const seconds = Math.floor(rest / 1000)
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest - seconds * 1000]}Z`
}

// A copy JSON.stringify may serialize instead of `value`: only plain objects qualify (no toJSON,
// not an array); its own enumerable keys keep their order.
function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.toJSON !== 'function'
}

function withPlainTimestamp(holder) {
  if (!isPlainObject(holder) || !(holder.timestamp instanceof Date)) return holder
  const copy = { ...holder }
  copy.timestamp = plainDate(holder.timestamp)
  return copy
}

function plainTurns(turns) {
  if (!Array.isArray(turns) || typeof turns.toJSON === 'function') return turns
  const copies = new Array(turns.length)
  for (let index = 0; index < turns.length; index++) {
    const turn = turns[index]
    if (!isPlainObject(turn)) {
      copies[index] = turn
      continue
    }
    const copy = withPlainTimestamp(turn) === turn ? { ...turn } : withPlainTimestamp(turn)
    const responses = turn.agentResponses
    if (Array.isArray(responses) && typeof responses.toJSON !== 'function') {
      copy.agentResponses = responses.map(withPlainTimestamp)
    }
    copies[index] = copy
  }
  return copies
}

/**
 * `JSON.stringify(session)`, Dates as ISO-8601 strings: the same text, produced faster for the
 * contract's Date fields (createdAt/updatedAt/expiresAt and turn/response timestamps).
 */
function serializeSession(session) {
  if (!isPlainObject(session)) return JSON.stringify(session)
  const copy = { ...session }
  for (const key of ['createdAt', 'updatedAt', 'expiresAt']) {
    if (key in copy) copy[key] = plainDate(copy[key])
  }
  if ('conversationHistory' in copy) copy.conversationHistory = plainTurns(copy.conversationHistory)
  const agentStates = copy.agentStates
  if (isPlainObject(agentStates)) {
    const states = {}
    for (const agentId of Object.keys(agentStates)) {
      const state = agentStates[agentId]
      if (isPlainObject(state) && Array.isArray(state.messageHistory)) {
        states[agentId] = { ...state }
        states[agentId].messageHistory = plainTurns(state.messageHistory)
      } else {
        states[agentId] = state
      }
    }
    copy.agentStates = states
  }
  return JSON.stringify(copy)
}

// The decimal number in text[from, to), or -1 if any character there is not a digit.
function digits(text, from, to) {
  let value = 0
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index) - 48
    if (code < 0 || code > 9) return -1
    value = value * 10 + code
  }
  return value
}

/** `new Date(text)`, reading the exact toISOString() shape "YYYY-MM-DDTHH:mm:ss.sssZ" by arithmetic. */
function isoDate(text) {
  if (
    text.length === 24 &&
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58 &&
    text.charCodeAt(19) === 46 &&
    text.charCodeAt(23) === 90
  ) {
    const year = digits(text, 0, 4)
    const month = digits(text, 5, 7)
    const day = digits(text, 8, 10)
    const hours = digits(text, 11, 13)
    const minutes = digits(text, 14, 16)
    const seconds = digits(text, 17, 19)
    const ms = digits(text, 20, 23)
    // Only unambiguous values: Date.UTC would normalise out-of-range fields (and maps years
    // 0-99 to 1900-1999), where Date's parser answers Invalid Date or reads them otherwise.
    if (
      year >= 100 &&
      month >= 1 && month <= 12 &&
      day >= 1 && day <= 28 &&
      hours >= 0 && hours <= 23 &&
      minutes >= 0 && minutes <= 59 &&
      seconds >= 0 && seconds <= 59 &&
      ms >= 0
    ) {
      return new Date(Date.UTC(year, month - 1, day, hours, minutes, seconds, ms))
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

/** Parses a serialized session and revives its Date fields. */
function deserializeSession(json) {
  return reviveSession(JSON.parse(json))
}

module.exports = { serializeSession, deserializeSession, reviveSession, isoDate, plainDate }
