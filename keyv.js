'use strict'
// The Keyv store (`@smalltalk-ai/postgres-storage/keyv`): Keyv's KeyvStoreAdapter on the
// adapter's key-value calls. It needs nothing of keyv at run time (Keyv hands it keys and
// serialized values; it hands them back), so loading it never loads keyv: keyv stays an optional
// peer dependency, and the main entry (index.js) never refers to this file.

const { EventEmitter } = require('node:events')
const { PostgresStorageAdapter } = require('./index.js')
const { resolveErrorClasses, invalid } = require('./lib/errors.js')
const check = require('./lib/validate.js')

// Options that mean something else to Keyv, refused so that a value meant for Keyv (a namespace
// Keyv already puts in front of every key, a TTL in milliseconds) is not applied a second time,
// or read as seconds.
const KEYV_OPTIONS = {
  namespace: 'Keyv prefixes keys with its own namespace: pass it to Keyv (`new Keyv({ store, namespace })`)',
  ttl: 'Keyv applies its own default TTL, in milliseconds: pass it to Keyv (`new Keyv({ store, ttl })`)',
}

/**
 * Keyv's storage adapter on PostgreSQL: entries live in the adapter's `key_value` table (in
 * `schema`, when given) as `<namespace>:<key>`, the value Keyv serialized as a JSON string, and
 * the TTL Keyv passes (milliseconds) as the row's expiry, so expired entries read as absent on
 * the server too. The pool opens on the first call.
 */
class KeyvPostgresStore extends EventEmitter {
  /** Read by Keyv: the `postgres` dialect makes `keyv.iterator()` use `iterator()` below. */
  opts = { dialect: 'postgres' }
  /** Set by Keyv: the namespace whose entries `clear()` and `iterator()` see. */
  namespace = undefined
  #adapter
  #classes
  #opening = null
  #isOpen = false

  /**
   * @param config - The adapter's options (see PostgresConfig) but `namespace` and `ttl`, or a
   *   connection string.
   */
  constructor(config = {}) {
    super()
    const options = typeof config === 'string' ? { connectionString: config } : { ...(config ?? {}) }
    this.#classes = resolveErrorClasses(options.errorClasses)
    for (const [name, why] of Object.entries(KEYV_OPTIONS)) {
      if (options[name] !== undefined) {
        throw invalid(this.#classes, `invalid option \`${name}\`: ${why}`, name, 'E_CONFIG')
      }
    }
    this.#adapter = new PostgresStorageAdapter(options)
  }

  // Opens the pool and creates the tables once, on the first call; a failed attempt is reported
  // as an 'error' event (Keyv forwards it as its own) and the next call tries again.
  #ready() {
    if (this.#isOpen) return Promise.resolve()
    this.#opening ??= this.#adapter.initialize().then(
      () => {
        this.#isOpen = true
      },
      (error) => {
        this.#opening = null
        // An 'error' event without a listener would throw, in place of the call's own rejection.
        if (this.listenerCount('error') > 0) this.emit('error', error)
        throw error
      },
    )
    return this.#opening
  }

  #run(call) {
    return this.#isOpen ? call(this.#adapter) : this.#ready().then(() => call(this.#adapter))
  }

  // Runs a check of lib/validate.js, its refusal thrown as the configured ValidationError.
  #checked(run) {
    try {
      return run()
    } catch (error) {
      if (error instanceof check.InvalidArgument) throw invalid(this.#classes, error.message, error.field)
      throw error
    }
  }

  /** The value stored under `key`, or `undefined` when missing or expired. */
  async get(key) {
    const value = await this.#run((adapter) => adapter.getValue(key))
    return value === null ? undefined : value
  }

  /** The values of `keys`, in their order (`undefined` where missing or expired), read by one statement. */
  async getMany(keys) {
    const values = await this.#run((adapter) => adapter.getValues(keys))
    return values.map((value) => (value === null ? undefined : value))
  }

  /** Stores `value` under `key`, expiring after `ttl` milliseconds when given; resolves to `true`. */
  async set(key, value, ttl) {
    const seconds = this.#checked(() => check.keyvTtlSeconds(ttl, 'set', 'ttl'))
    await this.#run((adapter) => adapter.setValue(key, value, { ttl: seconds }))
    return true
  }

  /**
   * Stores `{ key, value, ttl }` entries: one statement, all or nothing, for the entries that
   * share a TTL (as Keyv's do, unless given their own); a key given twice keeps its last entry.
   */
  async setMany(entries) {
    // Checked whole before anything is sent: with several TTLs, several statements.
    const groups = this.#checked(() => check.keyvEntryGroups(entries))
    await this.#run(async (adapter) => {
      for (const [ttl, group] of groups) await adapter.setValues(group, { ttl })
    })
  }

  /** Deletes `key`; `true` when a live entry existed. */
  delete(key) {
    return this.#run((adapter) => adapter.deleteValue(key))
  }

  /** Deletes `keys` in one statement; `true` when any of them was live. */
  async deleteMany(keys) {
    return (await this.#run((adapter) => adapter.deleteValues(keys))) > 0
  }

  /** Whether a live entry exists under `key`. */
  has(key) {
    return this.#run((adapter) => adapter.hasValue(key))
  }

  /** Whether a live entry exists under each of `keys`, read by one statement. */
  async hasMany(keys) {
    // Keyv stores serialized text (or, without a serializer, `{ value, expires }`), never JSON
    // null, so a null from getValues is a missing entry.
    const values = await this.#run((adapter) => adapter.getValues(keys))
    return values.map((value) => value !== null)
  }

  /**
   * Deletes every entry of the namespace Keyv set (`<namespace>:...`), live or expired, in one
   * statement; without a namespace, every entry of the table.
   */
  async clear() {
    const prefix = this.namespace ? `${this.namespace}:` : ''
    await this.#run((adapter) => adapter.clearValues({ prefix }))
  }

  /**
   * The live entries of `namespace` (all of the table without one) as `[key, value]`, keys as
   * stored (`<namespace>:<key>`, which Keyv strips), in code-point order, 100 per round trip.
   */
  async *iterator(namespace) {
    await this.#ready()
    yield* this.#adapter.iterateValues({ prefix: namespace ? `${namespace}:` : '' })
  }

  /** Closes the pool; later calls reject with `E_CLOSED`. */
  disconnect() {
    return this.#adapter.close()
  }
}

module.exports = { KeyvPostgresStore }
