'use strict'
// Input checks run before anything reaches the database: a refused call writes nothing.

const { invalid } = require('./errors.js')

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

function checkText(classes, value, method, field, maxLength) {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(classes, `${method}: ${field} must be a non-empty string (got ${describe(value)})`, field)
  }
  if (value.length > maxLength) {
    throw invalid(classes, `${method}: ${field} is longer than ${maxLength} characters (${value.length})`, field)
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
  return [id, version, createdMs, updatedMs, toJson(classes, session, method, where)]
}

/** JSON.stringify, with circular structures and BigInts refused as ValidationError. */
function toJson(classes, value, method, field) {
  let json
  try {
    json = JSON.stringify(value)
  } catch (error) {
    throw invalid(classes, `${method}: ${field} cannot be stored as JSON: ${error.message}`, field)
  }
  if (json === undefined) {
    throw invalid(classes, `${method}: ${field} cannot be stored as JSON (got ${describe(value)})`, field)
  }
  return json
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
  optionalCount,
}
