// Types of the Keyv store, `@smalltalk-ai/postgres-storage/keyv` (keyv.js). Only the types come from
// keyv (an optional peer dependency): the store itself loads nothing of it.
import { EventEmitter } from 'node:events'
import type { KeyvEntry, KeyvStoreAdapter } from 'keyv'
import type { PostgresConfig } from './index.js'

/**
 * The options of `KeyvPostgresStore`: the adapter's (connection, `schema`, `poolSize`,
 * `unlogged`, `purgeIntervalMs`, `errorClasses`, ...), but not `namespace` and `ttl`, which are
 * Keyv's own (`new Keyv({ store, namespace, ttl })`, the TTL in milliseconds): given here, they
 * are refused (`ValidationError`, code `E_CONFIG`).
 */
export type KeyvPostgresStoreOptions = Omit<PostgresConfig, 'namespace' | 'ttl'>

/**
 * Keyv's storage adapter on PostgreSQL, for `new Keyv({ store: new KeyvPostgresStore(options) })`.
 * Entries live in the adapter's `key_value` table (in `schema`, when given) under the keys Keyv
 * passes (`<namespace>:<key>`), each value as the JSON string Keyv serialized, and Keyv's TTL as
 * the row's expiry, so expired entries read as absent. The pool opens, and the tables are created
 * if missing, on the first call.
 *
 * Every call rejects with the package's typed errors (`ValidationError` for a bad key, TTL or
 * option, writing nothing; `StorageError` with its `code` otherwise); Keyv reports a failed `set`,
 * `delete` or `clear` as its `'error'` event. A failure to open (connect, create the tables) is
 * also emitted as `'error'`, and the next call tries again.
 *
 * @example
 * ```ts
 * import Keyv from 'keyv'
 * import { KeyvPostgresStore } from '@smalltalk-ai/postgres-storage/keyv'
 *
 * const keyv = new Keyv({ store: new KeyvPostgresStore({ connectionString: process.env.DATABASE_URL }), namespace: 'cache' })
 * await keyv.set('user:1', { name: 'Ada' }, 60_000) // expires in a minute
 * ```
 */
export declare class KeyvPostgresStore extends EventEmitter implements KeyvStoreAdapter {
  /**
   * Validates the options (a string is a connection string); opens nothing.
   * @throws ValidationError (`E_CONFIG`) for a bad or unknown option, `namespace` or `ttl`.
   */
  constructor(config?: KeyvPostgresStoreOptions | string)
  /** Read by Keyv: `dialect: 'postgres'` makes `keyv.iterator()` use this store's `iterator()`. */
  opts: { dialect: 'postgres'; [option: string]: unknown }
  /** Set by Keyv (its `namespace`): the entries `clear()` deletes and `iterator()` yields. */
  namespace?: string | undefined
  /** The value stored under `key` (as Keyv serialized it), or `undefined` when missing or expired. */
  get<Value = string>(key: string): Promise<Value | undefined>
  /** The values of `keys` in their order (`undefined` where missing or expired), read by one statement. */
  getMany<Value = string>(keys: string[]): Promise<Array<Value | undefined>>
  /**
   * Stores `value` under `key`.
   * @param ttl - Milliseconds until it expires (rounded up to the millisecond); `undefined` or `0`: never.
   * @returns `true`.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key or TTL, or a value JSON cannot hold.
   */
  set(key: string, value: unknown, ttl?: number): Promise<boolean>
  /**
   * Stores the entries: those that share a TTL in one statement, all or none (a refused entry
   * stores nothing); a key given twice keeps its last entry.
   */
  setMany(entries: KeyvEntry[]): Promise<void>
  /** Deletes `key`; `true` when a live entry existed. */
  delete(key: string): Promise<boolean>
  /** Deletes `keys` in one statement; `true` when any of them was live. */
  deleteMany(keys: string[]): Promise<boolean>
  /** Whether a live entry exists under `key`. */
  has(key: string): Promise<boolean>
  /** Whether a live entry exists under each of `keys`, read by one statement. */
  hasMany(keys: string[]): Promise<boolean[]>
  /**
   * Deletes every entry of `namespace` (`<namespace>:...`), live or expired, in one statement;
   * with no namespace, every entry of the table.
   */
  clear(): Promise<void>
  /**
   * The live entries of `namespace` (every entry of the table with none) as `[key, value]`, keys
   * as stored (`<namespace>:<key>`, which Keyv strips), in code-point order, 100 per round trip.
   */
  iterator<Value = string>(namespace?: string): AsyncGenerator<[string, Value], void>
  /** Closes the pool; later calls reject with `E_CLOSED`. Safe to call any number of times. */
  disconnect(): Promise<void>
}
