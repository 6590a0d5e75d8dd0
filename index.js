'use strict'
// The package's face: PostgresStorageAdapter over the native (Rust) core, with the contract's errors.

const { NativeAdapter } = require('./lib/load-native.js').loadNative()
const errors = require('./lib/errors.js')
const { serializeSession, deserializeSession } = require('./lib/session-json.js')
const check = require('./lib/validate.js')
const { Channel, request, stringsOf } = require('./lib/requests.js')
const { inSlices } = require('./lib/slices.js')
const { METRICS_SNAPSHOT } = require('./lib/metrics-snapshot.js')

const { StorageError, ConflictError, ValidationError, NotFoundError, resolveErrorClasses, fromNative, invalid } = errors
const { InvalidArgument } = check

/** JSON text of a saveSessions batch handed to Rust per chunk. */
const STAGE_BYTES = 1 << 20

function parseSession(json) {
  return json === null ? null : deserializeSession(json)
}

// `[id, json, id, json, ...]` into a Map of sessions, a slice at a time.
function parseSessionMap(value, channel, request) {
  const strings = stringsOf(value, channel, request)
  const sessions = new Map()
  return inSlices(
    strings.length / 2,
    (index) => sessions.set(strings.at(2 * index), deserializeSession(strings.at(2 * index + 1))),
    () => sessions,
    strings.release,
  )
}

// A page of iterateSessions, `[cursorMicros, cursorId, json, ...]`, into `{ sessions, cursor }`.
function parsePage(value, channel, request) {
  const strings = stringsOf(value, channel, request)
  const cursor = strings.at(0) === '' ? null : [strings.at(0), strings.at(1)]
  const sessions = new Array(strings.length - 2)
  return inSlices(
    sessions.length,
    (index) => (sessions[index] = deserializeSession(strings.at(index + 2))),
    () => ({ sessions, cursor }),
    strings.release,
  )
}

// listSessions' summaries: JSON arrays of up to 500 each (held in Rust when large), parsed one
// array per step so that the event loop runs between slices.
function parseSummaries(value, channel, request) {
  const arrays = stringsOf(value, channel, request)
  const summaries = []
  return inSlices(
    arrays.length,
    (index) => {
      for (const summary of JSON.parse(arrays.at(index))) {
        summary.updatedAt = new Date(summary.updatedAt)
        summaries.push(summary)
      }
    },
    () => summaries,
    arrays.release,
  )
}

function operationsByMethod(operations) {
  const byMethod = {}
  for (const { method, ...figures } of operations) byMethod[method] = figures
  return byMethod
}

function parseValue(json) {
  return json === null ? null : JSON.parse(json)
}

// `[key, json, ...]` of the entries found into the values of `keys` in order (`null` where missing).
function valuesInOrder(value, channel, request, keys) {
  const strings = stringsOf(value, channel, request)
  const found = new Map()
  try {
    for (let index = 0; index < strings.length; index += 2) found.set(strings.at(index), strings.at(index + 1))
  } finally {
    strings.release?.()
  }
  return keys.map((key) => parseValue(found.get(key) ?? null))
}

// A page of iterateValues, `[key, json, ...]`, as `[key, value]` pairs with `strip` characters
// (the namespace) cut from each key, and the stored key to continue after.
function parseEntries(value, channel, request, strip) {
  const strings = stringsOf(value, channel, request)
  const entries = new Array(strings.length / 2)
  let last = null
  try {
    for (let index = 0; index < entries.length; index++) {
      last = strings.at(2 * index)
      entries[index] = [last.slice(strip), JSON.parse(strings.at(2 * index + 1))]
    }
  } finally {
    strings.release?.()
  }
  return { entries, last }
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
  // What every key-value key is stored under: `${namespace}:`, or '' without a namespace.
  #keyPrefix = ''

  constructor(config = {}) {
    const { errorClasses, ttl, namespace, ...options } = config ?? {}
    this.#classes = resolveErrorClasses(errorClasses)
    this.#channel = new Channel((error) => this.#typed(error))
    if (ttl !== undefined) this.#defaultTtl = this.#checked(() => check.checkDefaultTtl(ttl, 'constructor'))
    const checkedNamespace = this.#checked(() => check.checkNamespace(namespace))
    if (checkedNamespace !== null) this.#keyPrefix = `${checkedNamespace}:`
    this.#native = this.#checked(() => new NativeAdapter(check.optionsJson(options), this.#channel.wake))
    this.#channel.native = this.#native
  }

  // The one place where failures become the configured error classes: a refused argument
  // (lib/validate.js) becomes ValidationError, errors already typed pass through, and anything
  // from the native layer is decoded.
  #typed(error) {
    const classes = this.#classes
    if (error instanceof InvalidArgument) return invalid(classes, error.message, error.field, error.code)
    for (const name in classes) {
      if (error instanceof classes[name]) return error
    }
    return fromNative(error, classes)
  }

  // Runs checks made before a method returns (not inside its promise): a refusal is thrown typed.
  #checked(run) {
    try {
      return run()
    } catch (error) {
      throw this.#typed(error)
    }
  }

  // Runs `start(ticket)`: input checks, then one native call that completes `ticket`, resolved
  // with `parse(value)`. Any failure, thrown here or reported by Rust, rejects with the typed error.
  #call(start, parse) {
    return request(this.#channel, start, parse)
  }

  // A key as stored: in the namespace, if there is one.
  #stored(key) {
    return this.#keyPrefix === '' ? key : this.#keyPrefix + key
  }

  /** Opens the pool and creates the schema if missing. Idempotent. */
  initialize(config) {
    return this.#call((ticket) => {
      let overrides = null
      if (config != null) {
        if (config.ttl !== undefined) this.#defaultTtl = check.checkDefaultTtl(config.ttl, 'initialize')
        // Rust picks what it may override (config.rs: with_initialize_overrides); the rest is SmallTalk's.
        overrides = check.optionsJson({ location: config.location, options: config.options })
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
      const [id, version, createdMs, updatedMs, json] = check.sessionColumns(session, 'saveSession', 'session')
      return this.#native.saveSession(ticket, id, version, createdMs, updatedMs, json)
    })
  }

  /** Saves sessions atomically (all or none); resolves to the number saved. */
  saveSessions(sessions) {
    // Checked and serialized a slice at a time, and handed to Rust a chunk at a time (so a large
    // batch never blocks the JS thread for long); then saved at once: nothing is written unless
    // every session is valid.
    let stage = null
    let batch
    try {
      check.checkSessionList(sessions)
      const seen = new Set()
      let chunk = [[], [], [], [], []]
      let chunkBytes = 0
      batch = inSlices(
        sessions.length,
        (index) => {
          const columns = check.batchSessionColumns(sessions[index], index, seen)
          for (let column = 0; column < 5; column++) chunk[column].push(columns[column])
          chunkBytes += columns[4].length
          if (chunkBytes > STAGE_BYTES) {
            stage ??= this.#channel.nextStage()
            this.#native.stageSessions(stage, ...chunk)
            chunk = [[], [], [], [], []]
            chunkBytes = 0
          }
        },
        () => chunk,
      )
    } catch (error) {
      if (stage !== null) this.#native.unstage(stage)
      return Promise.reject(this.#typed(error))
    }
    const send = (last) => this.#call((ticket) => this.#native.saveSessions(ticket, stage, ...last))
    if (Array.isArray(batch)) return send(batch)
    return batch.then(send, (error) => {
      if (stage !== null) this.#native.unstage(stage)
      return Promise.reject(this.#typed(error))
    })
  }

  /** The session, or `null`. */
  getSession(sessionId) {
    return this.#call((ticket) => this.#native.getSession(ticket, check.checkId(sessionId, 'getSession')), parseSession)
  }

  /** A Map of the sessions found; missing ids are absent. */
  getSessions(sessionIds) {
    return this.#call(
      (ticket) => this.#native.getSessions(ticket, check.checkIdList(sessionIds, 'getSessions')),
      parseSessionMap,
    )
  }

  /** Deletes a session; `true` when it existed. */
  deleteSession(sessionId) {
    return this.#call((ticket) => this.#native.deleteSession(ticket, check.checkId(sessionId, 'deleteSession')))
  }

  /** Deletes sessions; resolves to the number deleted. */
  deleteSessions(sessionIds) {
    return this.#call((ticket) => this.#native.deleteSessions(ticket, check.checkIdList(sessionIds, 'deleteSessions')))
  }

  /** Whether a session exists. */
  hasSession(sessionId) {
    return this.#call((ticket) => this.#native.hasSession(ticket, check.checkId(sessionId, 'hasSession')))
  }

  /** `[{ id, state, updatedAt, agentCount }]`, newest `updatedAt` first. */
  listSessions(state, limit, offset) {
    return this.#call((ticket) => {
      return this.#native.listSessions(
        ticket,
        check.optionalState(state, 'listSessions', 'state'),
        check.optionalCount(limit, 'listSessions', 'limit'),
        check.optionalCount(offset, 'listSessions', 'offset'),
      )
    }, parseSummaries)
  }

  /**
   * Every session (or those in `state`), newest `updatedAt` first, fetched `batchSize` at a time
   * by keyset pagination: each page costs the same at any depth. For cleanup and export jobs.
   */
  iterateSessions(options) {
    const { state, batchSize } = this.#checked(() => check.iterateOptions(options))
    const next = (cursor) =>
      this.#call(
        (ticket) => this.#native.iterateSessions(ticket, state, batchSize, cursor?.[0] ?? null, cursor?.[1] ?? null),
        parsePage,
      )
    const pages = async function* () {
      let cursor = null
      do {
        const page = await next(cursor)
        yield* page.sessions
        cursor = page.cursor
      } while (cursor !== null)
    }
    return pages()
  }

  /**
   * Stores any JSON value under `key`. `options.ttl`: seconds until it expires (default: the
   * adapter's `ttl`, else never); `ttl: null` stores it without expiry.
   */
  setValue(key, value, options) {
    return this.#call((ticket) => {
      const [checkedKey, json, ttl] = check.setValueArguments(key, value, options, this.#defaultTtl)
      this.#native.setValue(ticket, this.#stored(checkedKey), json, ttl)
    })
  }

  /** Deletes expired key-value entries now; resolves to the number deleted. */
  purgeExpired() {
    return this.#call((ticket) => this.#native.purgeExpired(ticket))
  }

  /** The value, or `null` when missing or expired. */
  getValue(key) {
    return this.#call(
      (ticket) => this.#native.getValue(ticket, this.#stored(check.checkKey(key, 'getValue'))),
      parseValue,
    )
  }

  /** Deletes a value; `true` when a live one existed. */
  deleteValue(key) {
    return this.#call((ticket) => this.#native.deleteValue(ticket, this.#stored(check.checkKey(key, 'deleteValue'))))
  }

  /** Whether a live value exists. */
  hasValue(key) {
    return this.#call((ticket) => this.#native.hasValue(ticket, this.#stored(check.checkKey(key, 'hasValue'))))
  }

  /** The values of `keys`, in their order (`null` where missing or expired), read by one statement. */
  getValues(keys) {
    let stored
    return this.#call(
      (ticket) => {
        stored = check.checkKeyList(keys, 'getValues').map((key) => this.#stored(key))
        this.#native.getValues(ticket, stored)
      },
      (value, channel, request) => valuesInOrder(value, channel, request, stored),
    )
  }

  /**
   * Stores every `[key, value]` of `entries` (a Map, an iterable of pairs, or an object) in one
   * statement: all are stored, or none. `options.ttl` as for setValue, for all of them.
   */
  setValues(entries, options) {
    return this.#call((ticket) => {
      const [keys, jsons, ttl] = check.setValuesArguments(entries, options, this.#defaultTtl)
      this.#native.setValues(
        ticket,
        keys.map((key) => this.#stored(key)),
        jsons,
        ttl,
      )
    })
  }

  /** Deletes `keys` in one statement; resolves to the number of live entries deleted. */
  deleteValues(keys) {
    return this.#call((ticket) =>
      this.#native.deleteValues(
        ticket,
        check.checkKeyList(keys, 'deleteValues').map((key) => this.#stored(key)),
      ),
    )
  }

  /**
   * Every live entry (or those whose key starts with `options.prefix`) as `[key, value]`, in
   * code-point order of keys, fetched `batchSize` at a time by keyset pagination.
   */
  iterateValues(options) {
    const { prefix, batchSize } = this.#checked(() => check.iterateValuesOptions(options))
    const stored = this.#keyPrefix + prefix
    const strip = this.#keyPrefix.length
    const next = (last) =>
      this.#call(
        (ticket) => this.#native.iterateValues(ticket, stored, last, batchSize),
        (value, channel, request) => parseEntries(value, channel, request, strip),
      )
    const pages = async function* () {
      let last = null
      do {
        const page = await next(last)
        yield* page.entries
        last = page.entries.length === batchSize ? page.last : null
      } while (last !== null)
    }
    return pages()
  }

  /**
   * Deletes every entry whose key starts with `options.prefix`, live or expired, in one
   * statement (without a prefix: every entry of the namespace, or of the table when there is no
   * namespace); resolves to the number deleted.
   */
  clearValues(options) {
    return this.#call((ticket) => this.#native.clearValues(ticket, this.#keyPrefix + check.clearValuesPrefix(options)))
  }

  /** Deletes all sessions, or those whose `updatedAt` is before `olderThan`; resolves to the count. */
  clear(olderThan) {
    return this.#call((ticket) => this.#native.clear(ticket, check.clearCutoff(olderThan)))
  }

  /**
   * Deletes every session whose `expiresAt` is before `now` (default: now), on the server in
   * batches; resolves to the count.
   */
  deleteExpiredSessions(now) {
    return this.#call((ticket) => this.#native.deleteExpiredSessions(ticket, check.expiryCutoff(now)))
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
          countedBy: stats.countedBy,
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

  // What a Prometheus scrape reads (prometheus.js): the native counters, synchronously and without
  // a query. Not a call: it is not counted, and it works before initialize() and after close().
  [METRICS_SNAPSHOT]() {
    return this.#native.metricsSnapshot()
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
