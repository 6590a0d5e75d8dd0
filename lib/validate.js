'use strict'
// Input checks run before anything reaches the database: a refused call writes nothing.

const { invalid } = require('./errors.js')
const { serializeSession } = require('./session-json.js')

/** Longest accepted session id, in UTF-16 code units. */
const MAX_ID_LENGTH = 255
/** Longest accepted key-value key, in UTF-16 code units. */
const MAX_KEY_LENGTH = 1024
/** Largest version the INTEGER column holds. */
const MAX_VERSION = 2147483647

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Date) return 'an invalid Date'
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value)
    case 'number':
    case 'boolean':
      return String(value)
    case 'bigint':
      return `${value}n`
    default:
      return typeof value
  }
}

// A lone UTF-16 surrogate cannot be encoded as UTF-8: the stored text would differ from the given one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/

function checkText(classes, value, method, field, maxLength) {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(classes, `${method}: ${field} must be a non-empty string (got ${describe(value)})`, field)
  }
  if (value.length > maxLength) {
    throw invalid(classes, `${method}: ${field} is longer than ${maxLength} characters (${value.length})`, field)
  }
  if (value.includes('\u0000')) {
    throw invalid(classes, `${method}: ${field} contains the character U+0000, which PostgreSQL text cannot hold`, field)
  }
  if (LONE_SURROGATE.test(value)) {
    throw invalid(classes, `${method}: ${field} contains a lone UTF-16 surrogate (not valid Unicode text)`, field)
  }
  return value
}

/** A session id: a non-empty string of at most MAX_ID_LENGTH characters. */
function checkId(classes, id, method, field = 'sessionId') {
  return checkText(classes, id, method, field, MAX_ID_LENGTH)
}

/** A key-value key: a non-empty string of at most MAX_KEY_LENGTH characters. */
function checkKey(classes, key, method) {
  return checkText(classes, key, method, 'key', MAX_KEY_LENGTH)
}

/** A valid Date's epoch milliseconds. */
function dateMs(classes, value, method, field) {
  const ms = value instanceof Date ? value.getTime() : NaN
  if (Number.isNaN(ms)) {
    throw invalid(classes, `${method}: ${field} must be a valid Date (got ${describe(value)})`, field)
  }
  return ms
}

/** Checks a session and returns what the native layer takes: [id, version, createdMs, updatedMs, json]. */
function sessionColumns(classes, session, method, where) {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    throw invalid(classes, `${method}: ${where} must be a session object (got ${describe(session)})`, where)
  }
  const id = checkId(classes, session.id, method, `${where}.id`)
  const version = session.version
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw invalid(
      classes,
      `${method}: ${where}.version must be an integer from 1 to ${MAX_VERSION} (got ${describe(version)})`,
      `${where}.version`,
    )
  }
  const createdMs = dateMs(classes, session.createdAt, method, `${where}.createdAt`)
  const updatedMs = dateMs(classes, session.updatedAt, method, `${where}.updatedAt`)
  if (session.expiresAt !== undefined) dateMs(classes, session.expiresAt, method, `${where}.expiresAt`)
  if (session.state !== undefined && typeof session.state !== 'string') {
    throw invalid(classes, `${method}: ${where}.state must be a string (got ${describe(session.state)})`, `${where}.state`)
  }
  if (session.agentIds !== undefined && !Array.isArray(session.agentIds)) {
    throw invalid(
      classes,
      `${method}: ${where}.agentIds must be an array (got ${describe(session.agentIds)})`,
      `${where}.agentIds`,
    )
  }
  return [id, version, createdMs, updatedMs, toJson(classes, session, method, where, serializeSession)]
}

// JSON.stringify writes U+0000 as the escape \u0000 (an odd run of backslashes before "u0000").
const ESCAPED_NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/

// The path of the first string (key or value) holding U+0000, e.g. "session.metadata.note".
function pathOfNul(value, path, seen = new Set()) {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null
  if (value === null || typeof value !== 'object' || seen.has(value)) return null
  seen.add(value)
  const json = typeof value.toJSON === 'function' ? value.toJSON() : value
  if (json !== value) return pathOfNul(json, path, seen)
  for (const key of Object.keys(value)) {
    if (key.includes('\u0000')) return `${path}[${JSON.stringify(key)}]`
    const child = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`
    const found = pathOfNul(value[key], child, seen)
    if (found !== null) return found
  }
  return null
}

/**
 * JSON.stringify, refusing as ValidationError what PostgreSQL's jsonb cannot store exactly:
 * circular structures, BigInts, and strings holding U+0000 (jsonb rejects \u0000; we refuse it
 * rather than store something else).
 */
function toJson(classes, value, method, field, stringify = JSON.stringify) {
  let json
  try {
    json = stringify(value)
  } catch (error) {
    throw invalid(classes, `${method}: ${field} cannot be stored as JSON: ${error.message}`, field)
  }
  if (json === undefined) {
    throw invalid(classes, `${method}: ${field} cannot be stored as JSON (got ${describe(value)})`, field)
  }
  if (json.includes('\\u0000') && ESCAPED_NUL.test(json)) {
    const where = pathOfNul(value, field) ?? field
    throw invalid(classes, `${method}: ${where} contains the character U+0000, which PostgreSQL jsonb cannot store`, where)
  }
  return json
}

/** A TTL in seconds: a positive finite number, or null for "never expires". */
function checkTtl(classes, ttl, method, field) {
  if (ttl === null) return null
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw invalid(classes, `${method}: ${field} must be a positive number of seconds or null (got ${describe(ttl)})`, field)
  }
  return ttl
}

/** An array of session ids. */
function checkIdList(classes, ids, method) {
  if (!Array.isArray(ids)) {
    throw invalid(classes, `${method}: sessionIds must be an array (got ${describe(ids)})`, 'sessionIds')
  }
  for (let index = 0; index < ids.length; index++) checkId(classes, ids[index], method, `sessionIds[${index}]`)
  return ids
}

/** A non-negative integer, or undefined/null for "not given". */
function optionalCount(classes, value, method, field) {
  if (value === undefined || value === null) return null
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(classes, `${method}: ${field} must be a non-negative integer (got ${describe(value)})`, field)
  }
  return value
}

/** The adapter-wide default TTL (`ttl` option): 0 or null mean "entries never expire". */
function checkDefaultTtl(classes, ttl, method) {
  return ttl === 0 || ttl === null ? null : checkTtl(classes, ttl, method, 'ttl')
}

module.exports = {
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_VERSION,
  describe,
  checkId,
  checkKey,
  checkIdList,
  dateMs,
  sessionColumns,
  toJson,
  checkTtl,
  checkDefaultTtl,
  optionalCount,
}
