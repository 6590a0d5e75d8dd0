'use strict'
// Input checks, run before anything reaches the database: a refused call writes nothing.
//
// The rule: every argument a caller passes to a method is checked here, once, before the native
// call, and a refusal is an InvalidArgument naming the field (e.g. `session.metadata.tags[2]`),
// which index.js turns into the configured ValidationError (code E_VALIDATION) in one place; this
// file knows nothing of the error classes. Constructor and initialize() options are checked once
// too, by the Rust core (src/config.rs), which names the option; this file only refuses what JSON
// would silently change on the way there. The Rust core trusts this file for the shape and range
// of what it is given and only guards its own invariants (it never panics on a value it did not
// expect). What only PostgreSQL can judge (jsonb's size limit, a repeated id the database sees
// first) comes back as E_VALIDATION from the database's SQLSTATE.

const { serializeSession } = require('./session-json.js')

/** A refused argument: `message` says why, `field` names it. index.js maps it to the app's ValidationError. */
class InvalidArgument extends Error {
  constructor(message, field) {
    super(message)
    this.name = 'InvalidArgument'
    this.code = 'E_VALIDATION'
    this.field = field
  }
}

const invalid = (message, field) => new InvalidArgument(message, field)

/** Longest accepted session id, in UTF-16 code units. */
const MAX_ID_LENGTH = 255
/** Longest accepted key-value key, in UTF-16 code units. */
const MAX_KEY_LENGTH = 1024
/** Largest version the INTEGER column holds. */
const MAX_VERSION = 2147483647
/** Earliest instant PostgreSQL's TIMESTAMP holds (4714-11-24 BC); later JS Dates all fit. */
const MIN_TIMESTAMP_MS = Date.UTC(-4713, 10, 24)
/** Longest TTL, in seconds (about 3,000 years; far beyond it, expiry overflows TIMESTAMP). */
const MAX_TTL_SECONDS = 1e11

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

function checkText(value, method, field, maxLength) {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${method}: ${field} must be a non-empty string (got ${describe(value)})`, field)
  }
  if (value.length > maxLength) {
    throw invalid(`${method}: ${field} is longer than ${maxLength} characters (${value.length})`, field)
  }
  if (value.includes('\u0000')) {
    throw invalid(`${method}: ${field} contains the character U+0000, which PostgreSQL text cannot hold`, field)
  }
  if (LONE_SURROGATE.test(value)) {
    throw invalid(`${method}: ${field} contains a lone UTF-16 surrogate (not valid Unicode text)`, field)
  }
  return value
}

/** A session id: a non-empty string of at most MAX_ID_LENGTH characters. */
function checkId(id, method, field = 'sessionId') {
  return checkText(id, method, field, MAX_ID_LENGTH)
}

/** A key-value key: a non-empty string of at most MAX_KEY_LENGTH characters. */
function checkKey(key, method) {
  return checkText(key, method, 'key', MAX_KEY_LENGTH)
}

/** A valid Date's epoch milliseconds, within PostgreSQL's TIMESTAMP range. */
function dateMs(value, method, field) {
  const ms = value instanceof Date ? value.getTime() : NaN
  if (Number.isNaN(ms)) {
    throw invalid(`${method}: ${field} must be a valid Date (got ${describe(value)})`, field)
  }
  if (ms < MIN_TIMESTAMP_MS) {
    throw invalid(
      `${method}: ${field} is before 4714-11-24 BC, the earliest time PostgreSQL can store (got ${value.toISOString()})`,
      field,
    )
  }
  return ms
}

/** Checks a session and returns what the native layer takes: [id, version, createdMs, updatedMs, json]. */
function sessionColumns(session, method, where) {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    throw invalid(`${method}: ${where} must be a session object (got ${describe(session)})`, where)
  }
  const id = checkId(session.id, method, `${where}.id`)
  const version = session.version
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw invalid(
      `${method}: ${where}.version must be an integer from 1 to ${MAX_VERSION} (got ${describe(version)})`,
      `${where}.version`,
    )
  }
  const createdMs = dateMs(session.createdAt, method, `${where}.createdAt`)
  const updatedMs = dateMs(session.updatedAt, method, `${where}.updatedAt`)
  if (session.expiresAt !== undefined) dateMs(session.expiresAt, method, `${where}.expiresAt`)
  if (session.state !== undefined && typeof session.state !== 'string') {
    throw invalid(`${method}: ${where}.state must be a string (got ${describe(session.state)})`, `${where}.state`)
  }
  if (session.agentIds !== undefined && !Array.isArray(session.agentIds)) {
    throw invalid(
      `${method}: ${where}.agentIds must be an array (got ${describe(session.agentIds)})`,
      `${where}.agentIds`,
    )
  }
  return [id, version, createdMs, updatedMs, toJson(session, method, where, serializeSession)]
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

// JSON.stringify writes NaN, ±Infinity and an Invalid Date as null, and a Map, Set, RegExp, Error
// (and the like) holding no enumerable property as {}: what would be stored is not what was given.
// Such output always contains "null" or "{}", so only then is the value walked, to name the culprit.
const EMPTIED_BY_JSON = new Set([
  '[object Map]',
  '[object Set]',
  '[object WeakMap]',
  '[object WeakSet]',
  '[object RegExp]',
  '[object Error]',
  '[object Promise]',
  '[object ArrayBuffer]',
])

// The path of the first value JSON.stringify would lose, and what it is; or null.
function lostValue(value, path) {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { path, what: String(value) }
  if (value === null || typeof value !== 'object') return null
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? { path, what: 'an Invalid Date' } : null
  if (typeof value.toJSON === 'function') {
    const json = value.toJSON()
    return json === value ? null : lostValue(json, path)
  }
  const keys = Object.keys(value)
  if (keys.length === 0 && !Array.isArray(value)) {
    const tag = Object.prototype.toString.call(value)
    return EMPTIED_BY_JSON.has(tag) ? { path, what: `a ${tag.slice(8, -1)}` } : null
  }
  const isArray = Array.isArray(value)
  for (const key of keys) {
    const found = lostValue(value[key], isArray ? `${path}[${key}]` : `${path}.${key}`)
    if (found !== null) return found
  }
  return null
}

/**
 * JSON.stringify, refusing as ValidationError what would not be stored as given: circular
 * structures, BigInts, strings holding U+0000 (jsonb cannot store it), NaN and ±Infinity, Invalid
 * Dates, and Maps, Sets, RegExps and Errors (which JSON turns into {}).
 */
function toJson(value, method, field, stringify = JSON.stringify) {
  let json
  try {
    json = stringify(value)
  } catch (error) {
    throw invalid(`${method}: ${field} cannot be stored as JSON: ${error.message}`, field)
  }
  if (json === undefined) {
    throw invalid(`${method}: ${field} cannot be stored as JSON (got ${describe(value)})`, field)
  }
  if (json.includes('\\u0000') && ESCAPED_NUL.test(json)) {
    const where = pathOfNul(value, field) ?? field
    throw invalid(`${method}: ${where} contains the character U+0000, which PostgreSQL jsonb cannot store`, where)
  }
  if (json.includes('null') || json.includes('{}')) {
    const lost = lostValue(value, field)
    if (lost !== null) {
      throw invalid(
        `${method}: ${lost.path} is ${lost.what}, which JSON cannot store as given (it would be stored as null or {})`,
        lost.path,
      )
    }
  }
  return json
}

/** A TTL in seconds: a positive number up to MAX_TTL_SECONDS, or null for "never expires". */
function checkTtl(ttl, method, field) {
  if (ttl === null) return null
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
    throw invalid(
      `${method}: ${field} must be a positive number of seconds up to ${MAX_TTL_SECONDS}, or null (got ${describe(ttl)})`,
      field,
    )
  }
  return ttl
}

/** An array of session ids. */
function checkIdList(ids, method) {
  if (!Array.isArray(ids)) {
    throw invalid(`${method}: sessionIds must be an array (got ${describe(ids)})`, 'sessionIds')
  }
  for (let index = 0; index < ids.length; index++) checkId(ids[index], method, `sessionIds[${index}]`)
  return ids
}

/** A non-negative integer, or undefined/null for "not given". */
function optionalCount(value, method, field) {
  if (value === undefined || value === null) return null
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${method}: ${field} must be a non-negative integer (got ${describe(value)})`, field)
  }
  return value
}

/** Largest page of iterateSessions. */
const MAX_BATCH_SIZE = 10000

/** iterateSessions' options: `{ state?, batchSize? }`, as `{ state: string | null, batchSize }`. */
function iterateOptions(options) {
  const { state, batchSize = 100 } = knownOptions(options, 'iterateSessions', ['state', 'batchSize'])
  return {
    state: optionalState(state, 'iterateSessions', 'options.state'),
    batchSize: checkBatchSize(batchSize, 'iterateSessions'),
  }
}

/** A page size of iterateSessions / iterateValues. */
function checkBatchSize(batchSize, method) {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw invalid(
      `${method}: options.batchSize must be an integer from 1 to ${MAX_BATCH_SIZE} (got ${describe(batchSize)})`,
      'options.batchSize',
    )
  }
  return batchSize
}

/** The adapter-wide default TTL (`ttl` option): 0 or null mean "entries never expire". */
function checkDefaultTtl(ttl, method) {
  return ttl === 0 || ttl === null ? null : checkTtl(ttl, method, 'ttl')
}

/** A state filter: a string, or undefined/null for "all states" (as null). */
function optionalState(state, method, field) {
  if (state !== undefined && state !== null && typeof state !== 'string') {
    throw invalid(`${method}: ${field} must be a string (got ${describe(state)})`, field)
  }
  return state ?? null
}

/** saveSessions' argument: an array (its sessions are checked one by one, by batchSessionColumns). */
function checkSessionList(sessions) {
  if (!Array.isArray(sessions)) {
    throw invalid(`saveSessions: sessions must be an array (got ${describe(sessions)})`, 'sessions')
  }
  return sessions
}

/** sessionColumns of `sessions[index]` of a batch, refusing an id already in `seen` (and adding it there). */
function batchSessionColumns(session, index, seen) {
  const columns = sessionColumns(session, 'saveSessions', `sessions[${index}]`)
  if (seen.has(columns[0])) {
    throw invalid(
      `saveSessions: session id ${JSON.stringify(columns[0])} appears more than once in the batch`,
      `sessions[${index}].id`,
    )
  }
  seen.add(columns[0])
  return columns
}

/**
 * setValue's arguments as the native layer takes them, `[key, json, ttl]`: `options.ttl` if
 * given, else `defaultTtl` (the adapter's).
 */
function setValueArguments(key, value, options, defaultTtl) {
  checkKey(key, 'setValue')
  if (value === undefined) {
    throw invalid('setValue: value must not be undefined (use null, or deleteValue)', 'value')
  }
  const ttl = ttlOption(options, 'setValue', defaultTtl)
  return [key, toJson(value, 'setValue', 'value'), ttl]
}

/** An array of key-value keys, for the batch calls. */
function checkKeyList(keys, method) {
  if (!Array.isArray(keys)) {
    throw invalid(`${method}: keys must be an array (got ${describe(keys)})`, 'keys')
  }
  for (let index = 0; index < keys.length; index++) checkText(keys[index], method, `keys[${index}]`, MAX_KEY_LENGTH)
  return keys
}

/**
 * setValues' arguments as `[keys, jsons, ttl]`: `entries` is a Map or any iterable of
 * `[key, value]` pairs, or a plain object; a key given twice keeps its last value (as a Map
 * would). `options.ttl` as for setValue.
 */
function setValuesArguments(entries, options, defaultTtl) {
  const method = 'setValues'
  let pairs
  if (entries !== null && typeof entries === 'object' && typeof entries[Symbol.iterator] === 'function') {
    pairs = entries
  } else if (entries !== null && typeof entries === 'object' && !Array.isArray(entries)) {
    pairs = Object.entries(entries)
  } else {
    throw invalid(
      `${method}: entries must be a Map, an iterable of [key, value] pairs or an object (got ${describe(entries)})`,
      'entries',
    )
  }
  const values = new Map()
  let index = 0
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw invalid(
        `${method}: entries[${index}] must be a [key, value] pair (got ${describe(pair)})`,
        `entries[${index}]`,
      )
    }
    const key = checkText(pair[0], method, `entries[${index}][0]`, MAX_KEY_LENGTH)
    if (pair[1] === undefined) {
      throw invalid(
        `${method}: the value of ${JSON.stringify(key)} must not be undefined (use null, or deleteValues)`,
        `entries[${index}][1]`,
      )
    }
    values.delete(key)
    values.set(key, toJson(pair[1], method, `entries[${index}][1]`))
    index++
  }
  return [[...values.keys()], [...values.values()], ttlOption(options, method, defaultTtl)]
}

/** `options.ttl` of setValue / setValues (checked), else `defaultTtl`. */
function ttlOption(options, method, defaultTtl) {
  if (options === undefined || options === null) return defaultTtl
  if (typeof options !== 'object') {
    throw invalid(`${method}: options must be an object (got ${describe(options)})`, 'options')
  }
  return options.ttl === undefined ? defaultTtl : checkTtl(options.ttl, method, 'options.ttl')
}

/** A key prefix: any string (empty: every key) a key could start with. */
function checkPrefix(prefix, method) {
  if (prefix === undefined || prefix === null) return ''
  if (typeof prefix !== 'string') {
    throw invalid(`${method}: options.prefix must be a string (got ${describe(prefix)})`, 'options.prefix')
  }
  return prefix === '' ? prefix : checkText(prefix, method, 'options.prefix', MAX_KEY_LENGTH)
}

/** Only `allowed` keys in an options object (or none given). */
function knownOptions(options, method, allowed) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`${method}: options must be an object (got ${describe(options)})`, 'options')
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw invalid(`${method}: unknown option \`${key}\` (the options are ${allowed.join(' and ')})`, `options.${key}`)
    }
  }
  return options
}

/** iterateValues' options: `{ prefix?, batchSize? }`, as `{ prefix, batchSize }`. */
function iterateValuesOptions(options) {
  const method = 'iterateValues'
  const { prefix, batchSize = 100 } = knownOptions(options, method, ['prefix', 'batchSize'])
  return { prefix: checkPrefix(prefix, method), batchSize: checkBatchSize(batchSize, method) }
}

/** clearValues' options: `{ prefix? }`, as the prefix ('' for every entry). */
function clearValuesPrefix(options) {
  return checkPrefix(knownOptions(options, 'clearValues', ['prefix']).prefix, 'clearValues')
}

/** Longest TTL of the Keyv store, in milliseconds (MAX_TTL_SECONDS). */
const MAX_KEYV_TTL_MS = MAX_TTL_SECONDS * 1000

/**
 * A TTL as Keyv gives it to its store, in milliseconds (undefined, null or 0: none, as Keyv
 * reads them), as the adapter's TTL in seconds, or null for none. Rounded up to the whole
 * millisecond, so that an entry never expires before Keyv's own `expires` says it does.
 */
function keyvTtlSeconds(ttl, method, field) {
  if (ttl === undefined || ttl === null || ttl === 0) return null
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0 || ttl > MAX_KEYV_TTL_MS) {
    throw invalid(
      `${method}: ${field} must be a positive number of milliseconds up to ${MAX_KEYV_TTL_MS}, or undefined (got ${describe(ttl)})`,
      field,
    )
  }
  return Math.ceil(ttl) / 1000
}

/**
 * The Keyv store's setMany entries (Keyv's `[{ key, value, ttl? }]`, TTLs in milliseconds),
 * each checked as setValue checks its arguments, grouped by TTL: `[[ttlSeconds, [[key, value],
 * ...]], ...]` in order of first appearance; a key given twice keeps its last entry.
 */
function keyvEntryGroups(entries) {
  const method = 'setMany'
  if (!Array.isArray(entries)) {
    throw invalid(`${method}: entries must be an array of { key, value, ttl? } (got ${describe(entries)})`, 'entries')
  }
  const latest = new Map()
  entries.forEach((entry, index) => {
    const where = `entries[${index}]`
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw invalid(`${method}: ${where} must be { key, value, ttl? } (got ${describe(entry)})`, where)
    }
    const key = checkText(entry.key, method, `${where}.key`, MAX_KEY_LENGTH)
    if (entry.value === undefined) {
      throw invalid(`${method}: ${where}.value must not be undefined`, `${where}.value`)
    }
    toJson(entry.value, method, `${where}.value`)
    const ttl = keyvTtlSeconds(entry.ttl, method, `${where}.ttl`)
    latest.delete(key)
    latest.set(key, [entry.value, ttl])
  })
  const groups = new Map()
  for (const [key, [value, ttl]] of latest) {
    if (!groups.has(ttl)) groups.set(ttl, [])
    groups.get(ttl).push([key, value])
  }
  return [...groups]
}

/**
 * The `namespace` option: a non-empty string without `:` (so that no two namespaces share a
 * stored key), or undefined for none.
 */
function checkNamespace(namespace) {
  if (namespace === undefined || namespace === null) return null
  checkText(namespace, 'constructor', 'namespace', MAX_ID_LENGTH)
  if (namespace.includes(':')) {
    throw invalid(`invalid option \`namespace\`: it must not contain ":" (got ${describe(namespace)})`, 'namespace')
  }
  return namespace
}

/**
 * clear()'s cutoff in epoch ms, or null for "all". Only a missing argument means "all":
 * clear(null) is refused, so an unset variable cannot wipe the table.
 */
function clearCutoff(olderThan) {
  return olderThan === undefined ? null : dateMs(olderThan, 'clear', 'olderThan')
}

/** deleteExpiredSessions()' time in epoch ms: `now` (a valid Date), or the current time when omitted. */
function expiryCutoff(now) {
  return now === undefined ? Date.now() : dateMs(now, 'deleteExpiredSessions', 'now')
}

/**
 * Constructor or initialize() options as the JSON handed to Rust, which checks them; refused here
 * is only what JSON would silently turn into null or drop (a Buffer `ca` becomes its text).
 */
function optionsJson(options) {
  return JSON.stringify(options, (key, value) => {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw invalid(`invalid option \`${key}\`: expected a finite number (got ${value})`, key)
    }
    if (typeof value === 'function' || typeof value === 'bigint' || typeof value === 'symbol') {
      throw invalid(`invalid option \`${key}\`: expected a JSON value (got ${typeof value})`, key)
    }
    if (key === 'ca' && value !== null && typeof value === 'object' && value.type === 'Buffer') {
      return Buffer.from(value.data).toString('utf8')
    }
    return value
  })
}

module.exports = {
  InvalidArgument,
  expiryCutoff,
  checkId,
  checkKey,
  checkIdList,
  sessionColumns,
  checkSessionList,
  batchSessionColumns,
  setValueArguments,
  checkKeyList,
  setValuesArguments,
  iterateValuesOptions,
  clearValuesPrefix,
  checkNamespace,
  keyvTtlSeconds,
  keyvEntryGroups,
  clearCutoff,
  optionalState,
  optionalCount,
  iterateOptions,
  checkDefaultTtl,
  optionsJson,
}
