'use strict'
// The package's face: PostgresStorageAdapter over the native (Rust) core, with the contract's errors.

const { NativeAdapter } = require('./lib/load-native.js').loadNative()
const errors = require('./lib/errors.js')
const { serializeSession, deserializeSession, reviveSession } = require('./lib/session-json.js')
const check = require('./lib/validate.js')
const { Channel, request } = require('./lib/requests.js')

const { StorageError, ConflictError, ValidationError, NotFoundError, resolveErrorClasses, fromNative, invalid } =
  errors

// Options are handed to Rust as JSON; refuse what JSON would silently turn into null or drop.
function optionsToJson(classes, options) {
  return JSON.stringify(options, (key, value) => {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw invalid(classes, `invalid option \`${key}\`: expected a finite number (got ${value})`, key)
    }
    if (typeof value === 'function' || typeof value === 'bigint' || typeof value === 'symbol') {
      throw invalid(classes, `invalid option \`${key}\`: expected a JSON value (got ${typeof value})`, key)
    }
    if (key === 'ca' && value !== null && typeof value === 'object' && value.type === 'Buffer') {
      return Buffer.from(value.data).toString('utf8')
    }
    return value
  })
}

function parseSession(json) {
  return json === null ? null : deserializeSession(json)
}

function parseSessionMap(json) {
  const pairs = JSON.parse(json)
  for (const pair of pairs) reviveSession(pair[1])
  return new Map(pairs)
}

function parseSummaries(json) {
  const summaries = JSON.parse(json)
  for (const summary of summaries) summary.updatedAt = new Date(summary.updatedAt)
  return summaries
}

function operationsByMethod(operations) {
  const byMethod = {}
  for (const { method, ...figures } of operations) byMethod[method] = figures
  return byMethod
}

function parseValue(json) {
  return json === null ? null : JSON.parse(json)
}

/**
 * SmallTalk's StorageAdapter on PostgreSQL, implemented natively (Rust: tokio-postgres +
 * deadpool-postgres). Every method returns a Promise; every rejection is a StorageError
 * (or ConflictError / ValidationError / NotFoundError), or the app's classes when injected.
 */
class PostgresStorageAdapter {
  #native
  #channel
  #classes
  #defaultTtl = null

  constructor(config = {}) {
    const { errorClasses, ttl, ...options } = config ?? {}
    this.#classes = resolveErrorClasses(errorClasses)
    if (ttl !== undefined) this.#defaultTtl = check.checkDefaultTtl(this.#classes, ttl, 'constructor')
    this.#channel = new Channel((error) => this.#typed(error))
    try {
      this.#native = new NativeAdapter(optionsToJson(this.#classes, options), this.#channel.wake)
    } catch (error) {
      throw this.#typed(error)
    }
    this.#channel.native = this.#native
  }

  // Errors built by the face pass through; anything from the native layer is decoded.
  #typed(error) {
    const classes = this.#classes
    for (const name in classes) {
      if (error instanceof classes[name]) return error
    }
    return fromNative(error, classes)
  }

  // Runs `start(ticket)`: input checks, then one native call that completes `ticket`, resolved
  // with `parse(value)`. Any failure, thrown here or reported by Rust, rejects with the typed error.
  #call(start, parse) {
    return request(this.#channel, start, parse)
  }

  /** Opens the pool and creates the schema if missing. Idempotent. */
  initialize(config) {
    return this.#call((ticket) => {
      let overrides = null
      if (config != null) {
        if (config.ttl !== undefined) this.#defaultTtl = check.checkDefaultTtl(this.#classes, config.ttl, 'initialize')
        // Rust picks what it may override (config.rs: with_initialize_overrides); the rest is SmallTalk's.
        overrides = optionsToJson(this.#classes, { location: config.location, options: config.options })
      }
      this.#native.initialize(ticket, overrides)
    })
  }

  /** Releases all connections. Safe to call any number of times, also before initialize(). */
  close() {
    try {
      this.#native.close()
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(this.#typed(error))
    }
  }

  /** `{ healthy: true }` when a live query succeeds, else `{ healthy: false, message }`. Never throws. */
  healthCheck() {
    return request(this.#channel, (ticket) => this.#native.healthCheck(ticket)).then(
      (problem) => (problem == null ? { healthy: true } : { healthy: false, message: problem }),
      (error) => ({ healthy: false, message: error.message }),
    )
  }

  /** Upserts a session with optimistic locking: accepted only when its version is newer. */
  saveSession(session) {
    return this.#call((ticket) => {
      const [id, version, createdMs, updatedMs, json] = check.sessionColumns(this.#classes, session, 'saveSession', 'session')
      return this.#native.saveSession(ticket, id, version, createdMs, updatedMs, json)
    })
  }

  /** Saves sessions atomically (all or none); resolves to the number saved. */
  saveSessions(sessions) {
    return this.#call((ticket) => {
      if (!Array.isArray(sessions)) {
        throw invalid(this.#classes, `saveSessions: sessions must be an array (got ${check.describe(sessions)})`, 'sessions')
      }
      const count = sessions.length
      const ids = new Array(count)
      const versions = new Array(count)
      const created = new Array(count)
      const updated = new Array(count)
      const jsons = new Array(count)
      const seen = new Set()
      for (let index = 0; index < count; index++) {
        const columns = check.sessionColumns(this.#classes, sessions[index], 'saveSessions', `sessions[${index}]`)
        const id = columns[0]
        if (seen.has(id)) {
          throw invalid(
            this.#classes,
            `saveSessions: session id ${JSON.stringify(id)} appears more than once in the batch`,
            `sessions[${index}].id`,
          )
        }
        seen.add(id)
        ids[index] = id
        versions[index] = columns[1]
        created[index] = columns[2]
        updated[index] = columns[3]
        jsons[index] = columns[4]
      }
      return this.#native.saveSessions(ticket, ids, versions, created, updated, jsons)
    })
  }

  /** The session, or `null`. */
  getSession(sessionId) {
    return this.#call((ticket) => this.#native.getSession(ticket, check.checkId(this.#classes, sessionId, 'getSession')), parseSession)
  }

  /** A Map of the sessions found; missing ids are absent. */
  getSessions(sessionIds) {
    return this.#call(
      (ticket) => this.#native.getSessions(ticket, check.checkIdList(this.#classes, sessionIds, 'getSessions')),
      parseSessionMap,
    )
  }

  /** Deletes a session; `true` when it existed. */
  deleteSession(sessionId) {
    return this.#call((ticket) => this.#native.deleteSession(ticket, check.checkId(this.#classes, sessionId, 'deleteSession')))
  }

  /** Deletes sessions; resolves to the number deleted. */
  deleteSessions(sessionIds) {
    return this.#call((ticket) =>
      this.#native.deleteSessions(ticket, check.checkIdList(this.#classes, sessionIds, 'deleteSessions')),
    )
  }

  /** Whether a session exists. */
  hasSession(sessionId) {
    return this.#call((ticket) => this.#native.hasSession(ticket, check.checkId(this.#classes, sessionId, 'hasSession')))
  }

  /** `[{ id, state, updatedAt, agentCount }]`, newest `updatedAt` first. */
  listSessions(state, limit, offset) {
    return this.#call((ticket) => {
      if (state !== undefined && state !== null && typeof state !== 'string') {
        throw invalid(this.#classes, `listSessions: state must be a string (got ${check.describe(state)})`, 'state')
      }
      return this.#native.listSessions(
        ticket,
        state ?? null,
        check.optionalCount(this.#classes, limit, 'listSessions', 'limit'),
        check.optionalCount(this.#classes, offset, 'listSessions', 'offset'),
      )
    }, parseSummaries)
  }

  /**
   * Stores any JSON value under `key`. `options.ttl`: seconds until it expires (default: the
   * adapter's `ttl`, else never); `ttl: null` stores it without expiry.
   */
  setValue(key, value, options) {
    return this.#call((ticket) => {
      check.checkKey(this.#classes, key, 'setValue')
      if (value === undefined) {
        throw invalid(this.#classes, 'setValue: value must not be undefined (use null, or deleteValue)', 'value')
      }
      let ttl = this.#defaultTtl
      if (options !== undefined && options !== null) {
        if (typeof options !== 'object') {
          throw invalid(this.#classes, `setValue: options must be an object (got ${check.describe(options)})`, 'options')
        }
        if (options.ttl !== undefined) ttl = check.checkTtl(this.#classes, options.ttl, 'setValue', 'options.ttl')
      }
      return this.#native.setValue(ticket, key, check.toJson(this.#classes, value, 'setValue', 'value'), ttl)
    })
  }

  /** Deletes expired key-value entries now; resolves to the number deleted. */
  purgeExpired() {
    return this.#call((ticket) => this.#native.purgeExpired(ticket))
  }

  /** The value, or `null` when missing or expired. */
  getValue(key) {
    return this.#call((ticket) => this.#native.getValue(ticket, check.checkKey(this.#classes, key, 'getValue')), parseValue)
  }

  /** Deletes a value; `true` when a live one existed. */
  deleteValue(key) {
    return this.#call((ticket) => this.#native.deleteValue(ticket, check.checkKey(this.#classes, key, 'deleteValue')))
  }

  /** Whether a live value exists. */
  hasValue(key) {
    return this.#call((ticket) => this.#native.hasValue(ticket, check.checkKey(this.#classes, key, 'hasValue')))
  }

  /** Deletes all sessions, or those whose `updatedAt` is before `olderThan`; resolves to the count. */
  clear(olderThan) {
    return this.#call((ticket) => {
      // Only a missing argument means "all": clear(null) is refused, so an unset variable cannot wipe the table.
      const before = olderThan === undefined ? null : check.dateMs(this.#classes, olderThan, 'clear', 'olderThan')
      return this.#native.clear(ticket, before)
    })
  }

  /** Session count, storage size and per-state counts (plus pool figures) in `metrics`. */
  getStats() {
    return this.#call(
      (ticket) => this.#native.getStats(ticket),
      (stats) => ({
        totalSessions: stats.totalSessions,
        sizeBytes: stats.sizeBytes,
        backendType: 'postgres',
        metrics: {
          activeCount: stats.activeCount,
          pausedCount: stats.pausedCount,
          expiredCount: stats.expiredCount,
          invalidatedPendingCleanupCount: stats.invalidatedPendingCleanupCount,
          closedCount: stats.closedCount,
          pool: {
            maxSize: stats.poolMaxSize,
            size: stats.poolSize,
            idle: stats.poolIdle,
            waiting: stats.poolWaiting,
          },
          retries: stats.retries,
          operations: operationsByMethod(stats.operations),
        },
      }),
    )
  }

  /** `JSON.stringify` of the session with Dates as ISO strings. Synchronous. */
  serializeSession(session) {
    return serializeSession(session)
  }

  /** Parses a serialized session, reviving its Date fields. Synchronous. */
  deserializeSession(json) {
    return deserializeSession(json)
  }
}

module.exports = {
  PostgresStorageAdapter,
  StorageError,
  ConflictError,
  ValidationError,
  NotFoundError,
  serializeSession,
  deserializeSession,
}
