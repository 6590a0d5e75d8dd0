// Public API of @smalltalk-ai/postgres-storage (hand-written; the native layer's generated types
// are in native.d.ts and are not public). index.d.mts re-exports this file for the ESM entry.

/**
 * Lifecycle state of a session, as SmallTalk's SessionManager sets it. The adapter stores it in
 * the session's JSON (indexed as `data->>'state'`) and counts each state in `getStats()`.
 *
 * SmallTalk declares the same five values as a string enum (`SessionState.ACTIVE = 'active'`, ...).
 * Its enum members are assignable to this union, so SmallTalk's sessions can be passed in as they
 * are; the methods that return sessions are generic in the session type (see
 * PostgresStorageAdapter), so they can also be handed back as SmallTalk's.
 */
export type SessionState = 'active' | 'paused' | 'expired' | 'invalidated_pending_cleanup' | 'closed'

/** One agent's reply within a turn. */
export interface AgentResponse {
  /** The agent that replied. */
  agentId: string
  /** The reply's text. */
  response: string
  /** When the reply was made; stored as an ISO-8601 string and revived as a Date. */
  timestamp: Date
}

/** One user message and the agents' replies. */
export interface MessageTurn {
  /** Position of the turn in the conversation, from 1. */
  sequence: number
  /** When the user's message arrived; revived as a Date. */
  timestamp: Date
  /** The user's message. */
  userMessage: string
  /** The agents' replies, in order. */
  agentResponses: AgentResponse[]
}

/** Per-agent state kept in a session. */
export interface AgentState {
  /** The agent's configuration (any JSON). */
  config: Record<string, any>
  /** The agent's working context (any JSON). */
  context: Record<string, any>
  /** The turns this agent has seen; their timestamps are revived as Dates. */
  messageHistory: MessageTurn[]
}

/** A SmallTalk conversation session as stored by the adapter. */
export interface Session {
  /** Session id (a UUID v4 in SmallTalk; any non-empty string of at most 255 characters). */
  id: string
  /** Creation time; also written to the `created_at` column (UTC). Must be a valid Date. */
  createdAt: Date
  /** Last change; written to `updated_at` (UTC), orders `listSessions()` and drives `clear(olderThan)`. */
  updatedAt: Date
  /**
   * When SmallTalk considers the session expired (SmallTalk always sets it). Optional here as at
   * runtime: stored in the JSON and revived as a Date when present; the adapter deletes nothing by it.
   */
  expiresAt?: Date
  /** Lifecycle state; `listSessions(state)` filters on it. */
  state: SessionState
  /** The agents taking part; `SessionSummary.agentCount` is its length. */
  agentIds: string[]
  /** Per-agent state, by agent id. */
  agentStates: { [agentId: string]: AgentState }
  /** All turns of the conversation. */
  conversationHistory: MessageTurn[]
  /** Context shared by all agents (any JSON). */
  sharedContext: Record<string, any>
  /** Free-form metadata (any JSON); SmallTalk sets `userId` and `tags`. */
  metadata: { userId?: string; tags?: string[]; [key: string]: any }
  /** Optimistic-lock version: starts at 1 and only grows (an integer up to 2147483647). */
  version: number
}

/**
 * One row of `listSessions()`. `State` is the type of the `state` filter given (SmallTalk's enum,
 * a single state, or by default every SessionState).
 */
export interface SessionSummary<State extends SessionState = SessionState> {
  /** The session's id. */
  id: string
  /** The session's state. */
  state: State
  /** The session's `updatedAt`. */
  updatedAt: Date
  /** Number of entries in the session's `agentIds`. */
  agentCount: number
}

/** What `initialize(config)` accepts (SmallTalk's StorageAdapterConfig). */
export interface StorageAdapterConfig {
  /** A `postgres://` or `postgresql://` URL replaces the connection; any other value (a path) is ignored. */
  location?: string
  /** Default TTL (seconds) of key-value entries, as the `ttl` option; `0`: none. */
  ttl?: number
  /** Accepted for compatibility; not used by this adapter. */
  maxSize?: number
  /** Accepted for compatibility; not used by this adapter. */
  compression?: boolean
  /** Accepted for compatibility; not used by this adapter. */
  encryption?: boolean
  /** Adapter-specific overrides; other keys are accepted and ignored. */
  options?: {
    /** Overrides the pool size. */
    poolSize?: number
    /** Overrides the TLS mode (as the `sslMode` option). */
    sslMode?: SslMode
    [key: string]: any
  }
}

/** TLS mode, as libpq's `sslmode`; `'allow'` behaves as `'prefer'`. */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

/** The versions of an optimistic-lock conflict: the one the save carried, and the one stored. */
export type ConflictingVersions = [attempted: number, stored: number]

/**
 * The error classes the adapter throws; pass the app's own (option `errorClasses`) to get
 * instances of them. Each is optional; a missing one falls back to this package's class. Each
 * given one must be a class (or function usable with `new`) whose instances are Errors, else the
 * constructor throws ValidationError naming it (e.g. `errorClasses.ConflictError`). The adapter
 * calls each constructor with the arguments shown, then sets `code` (and `sqlstate`) on the
 * instance unless the class already set them.
 */
export interface ErrorClasses {
  /** Connection, timeout, lifecycle and query failures; `cause` is the driver's error when there is one. */
  StorageError?: new (message: string, cause?: Error) => Error
  /** Optimistic-lock conflicts; the adapter always passes `conflictingVersions` (`[attempted, stored]`). */
  ConflictError?: new (message: string, conflictingVersions: ConflictingVersions) => Error
  /** Refused input or options; `invalidFields` names the offending field. */
  ValidationError?: new (message: string, invalidFields?: string[]) => Error
  /** A named resource that does not exist (reserved: misses resolve `null` / `false`). */
  NotFoundError?: new (resource: string, id: string) => Error
}

/** TLS options in the shape `pg` takes them. */
export interface SslOptions {
  /** `false`: encrypt without checking the certificate. Default `true` (verify chain and host name). */
  rejectUnauthorized?: boolean
  /** PEM text of the CA certificate(s) to trust (default: the system's trust store). */
  ca?: string | Buffer
}

/**
 * Connection and behaviour options. Each connection field comes from the first of:
 * `connectionString`, the field itself, `DATABASE_URL`, the PostgreSQL environment variable (shown
 * in brackets), the default. Unknown options are refused (ValidationError `E_CONFIG`); `pg`'s
 * names `max`, `connectionTimeoutMillis`, `idleTimeoutMillis`, `application_name`,
 * `statement_timeout` and `query_timeout` are accepted as aliases (giving both names of one
 * option is refused).
 */
export interface PostgresConfig {
  /** Server host name, IP address or Unix socket directory [PGHOST]. Default `'localhost'`. */
  host?: string | string[]
  /** Server port [PGPORT]. Default `5432`. */
  port?: number | number[]
  /** Database name [PGDATABASE]. Default `'smalltalk'`. */
  database?: string
  /** Login role [PGUSER]. Default `'postgres'`. */
  user?: string
  /** Password [PGPASSWORD]. Default `'postgres'`. Never appears in errors or logs. */
  password?: string
  /** `postgres://` / `postgresql://` URL; its parts win over the fields above. */
  connectionString?: string
  /** Maximum pooled connections (1 to 10000). Default `10`. */
  poolSize?: number
  /** `pg`'s name for `poolSize`. */
  max?: number
  /**
   * As on `pg`: `true` or an object verifies the certificate's chain and host name (against `ca`,
   * else the system's roots); `{ rejectUnauthorized: false }` encrypts without checks; `false`: no
   * TLS. Combined with `sslMode` (or a URL's `sslmode`), the stricter wins. Default: no TLS [PGSSLMODE].
   */
  ssl?: boolean | SslOptions
  /** TLS mode, as libpq's sslmode [PGSSLMODE]. Default `'disable'`. */
  sslMode?: SslMode
  /** PEM file with the CA certificate(s) for verify-ca / verify-full [PGSSLROOTCERT]. */
  sslRootCert?: string
  /** Time allowed to open one connection, in ms [PGCONNECT_TIMEOUT, seconds]. Default `10000`. */
  connectTimeoutMs?: number
  /** `pg`'s name for `connectTimeoutMs`. */
  connectionTimeoutMillis?: number
  /** Time a call waits for a free pooled connection before failing, in ms. Default `10000`. */
  acquireTimeoutMs?: number
  /** `application_name` reported to the server [PGAPPNAME]. Default `'smalltalk-postgres-storage'`. */
  applicationName?: string
  /** `pg`'s name for `applicationName`. */
  application_name?: string
  /**
   * Deadline on each call's whole work (waiting for a connection, statements, commit), in ms: past
   * it the call fails with StorageError `E_TIMEOUT` and its connection is discarded, so a silent
   * server or network path never hangs a call. A write still running at the deadline is cancelled
   * on the server, and fails with `E_TIMEOUT` only once the server says it rolled back: it is never
   * committed later. A write sent into silence settles 1 s later, with `E_OUTCOME_UNKNOWN`.
   * Default `30000`.
   */
  queryTimeoutMs?: number
  /** `pg`'s name for `queryTimeoutMs`. */
  query_timeout?: number
  /** Close pooled connections unused for this long, in ms. Default: off (kept until `close()`). */
  idleTimeoutMs?: number
  /** `pg`'s name for `idleTimeoutMs`. */
  idleTimeoutMillis?: number
  /**
   * `statement_timeout` (ms) set on every connection; a statement running longer fails with
   * StorageError `E_TIMEOUT`. Default: off (the server's setting). Not forwarded by PgBouncer.
   */
  statementTimeoutMs?: number
  /** `pg`'s name for `statementTimeoutMs`. */
  statement_timeout?: number
  /** Default TTL (seconds) of key-value entries; `0` or `null`: entries never expire. Default: none. */
  ttl?: number | null
  /**
   * Isolates this adapter's key-value entries: every key-value method works on keys stored as
   * `<namespace>:<key>` (the `namespace:key` form Keyv uses), and `iterateValues` yields them
   * without it. A non-empty string without `:`. Keys outside namespaces are stored as given, as
   * the original adapter stores them. Sessions are not namespaced. Default: none.
   */
  namespace?: string
  /**
   * Tables that `initialize()` creates `UNLOGGED`: their writes skip PostgreSQL's write-ahead log,
   * so they are faster, but **an unlogged table is emptied after a crash** (or an immediate
   * shutdown) and is **not replicated** to standbys (lost on failover). For caches and
   * re-creatable data, opt-in per table. Only tables `initialize()` creates are affected: an
   * existing table is never converted. Default: both logged.
   */
  unlogged?: UnloggedTables
  /** Delete expired key-value entries in the background every N ms (never keeps Node alive). Default: off. */
  purgeIntervalMs?: number
  /**
   * Delete expired sessions (`deleteExpiredSessions()`) in the background every N ms (never keeps
   * Node alive). Default: off.
   */
  sessionExpiryIntervalMs?: number
  /**
   * Schema holding the tables, created if missing (any name; it is quoted). Default: unqualified
   * table names, resolved through the connection's `search_path` (normally `public`).
   */
  schema?: string
  /**
   * `true` (default): `initialize()` creates the tables and indexes that are missing (and nothing
   * when all exist, so a role with only DML rights can initialize). `false`: it only checks that
   * they exist, and fails naming what is missing (for managed schemas).
   */
  createSchema?: boolean
  /**
   * `true` (default): while at most 4 calls are under way, each `getSession`, `hasSession`,
   * `getValue` and `saveSession` goes at once, alone; beyond that each of these kinds runs one
   * statement at a time and the calls arriving meanwhile share the next, one statement per group
   * (for saves, one version-guarded upsert and one commit), each caller getting its own result or
   * error. `false`: one statement per call.
   */
  coalesce?: boolean
  /**
   * Bytes of session JSON kept for conditional reads (default 32 MiB; `0` turns them off). A
   * `getSession` of a session this adapter read before still asks the server, sending the row
   * version it read (`xmin`, `ctid`, `version`); the server sends the data back only when the row
   * changed, by any client, so an unchanged session costs an index lookup and no transfer. Never a
   * stale read. Oldest entries are evicted first; a session over a quarter of the budget is not kept.
   */
  readCacheBytes?: number
  /**
   * `true` (default): prepare each statement once per connection. `false`: send one-shot typed
   * statements, as PgBouncer's transaction pooling requires.
   */
  statementCache?: boolean
  /**
   * With several hosts, which server a connection may use [PGTARGETSESSIONATTRS]: `'read-write'`
   * finds the primary (e.g. after a failover). Default `'any'`.
   */
  targetSessionAttrs?: 'any' | 'read-write' | 'read-only'
  /**
   * How large sessions and values are compressed in TOAST storage: the compression `initialize()`
   * gives the JSON columns of the tables it creates (once, with the table; no connection setting).
   * `'lz4'` (default; about twice as cheap to write as pglz; on PostgreSQL 14+ built with lz4,
   * elsewhere the server's default), `'pglz'`, or `'server'` to leave the columns on the server's
   * `default_toast_compression`. Tables that already exist are never altered.
   */
  toastCompression?: 'lz4' | 'pglz' | 'server'
  /**
   * Error classes to throw instead of this package's (e.g. SmallTalk's own, so that its
   * `instanceof ConflictError` retry works). Checked at construction; see {@link ErrorClasses} for
   * what each class must be and the arguments it is built with. Default: this package's classes.
   */
  errorClasses?: ErrorClasses
}

/** Options of `iterateSessions`. */
export interface IterateSessionsOptions {
  /** Only sessions in this state (default: all). */
  state?: SessionState
  /** Sessions fetched per round trip, 1 to 10000. Default `100`. */
  batchSize?: number
}

/** Options of `iterateValues`. */
export interface IterateValuesOptions {
  /** Only entries whose key starts with this (default: all). */
  prefix?: string
  /** Entries fetched per round trip, 1 to 10000. Default `100`. */
  batchSize?: number
}

/** Options of `clearValues`. */
export interface ClearValuesOptions {
  /** Only entries whose key starts with this (default: all of the namespace, or of the table). */
  prefix?: string
}

/** Which tables `initialize()` creates `UNLOGGED` (see `PostgresConfig.unlogged`). */
export interface UnloggedTables {
  /** The key-value table. Default `false`. */
  keyValue?: boolean
  /** The sessions table. Default `false`. */
  sessions?: boolean
}

/** Options of `setValue` and `setValues`. */
export interface SetValueOptions {
  /** Seconds until the entry expires; `null`: never (overrides the adapter's default `ttl`). */
  ttl?: number | null
}

/** What `getStats()` resolves to. */
export interface StorageStats {
  /** Number of stored sessions. */
  totalSessions: number
  /** Bytes used by the sessions and key_value tables (indexes and TOAST included). */
  sizeBytes: number
  /** Always `'postgres'`. */
  backendType: 'postgres'
  /** Sessions per state, and the pool's figures. */
  metrics: {
    /** Sessions whose state is `'active'`. */
    activeCount: number
    /** Sessions whose state is `'paused'`. */
    pausedCount: number
    /** Sessions whose state is `'expired'`. */
    expiredCount: number
    /** Sessions whose state is `'invalidated_pending_cleanup'`. */
    invalidatedPendingCleanupCount: number
    /** Sessions whose state is `'closed'`. */
    closedCount: number
    /**
     * Where the counts come from: `'counters'` (kept by triggers: constant time at any size) or
     * `'table'` (counted from the table, where the counters could not be made).
     */
    countedBy: 'counters' | 'table'
    /** Connection pool figures. */
    pool: {
      /** Maximum connections (`poolSize`). */
      maxSize: number
      /** Connections open now. */
      size: number
      /** Open connections not in use. */
      idle: number
      /** Calls waiting for a connection. */
      waiting: number
    }
    /** Calls run again on another connection after a lost one, since construction. */
    retries: number
    /** Per method called at least once since construction (e.g. `operations.getSession`). */
    operations: { [method: string]: OperationStats }
  }
}

/**
 * One method's counters and latencies, kept in Rust (lock-free). Latency runs from the start of
 * the call's native work to its end (pool wait included, JS-side parsing not); percentiles are
 * histogram bucket bounds, within 25 %.
 */
export interface OperationStats {
  /** Calls that resolved. */
  ok: number
  /** Calls rejected with ConflictError. */
  conflicts: number
  /** Calls rejected with any other error. */
  errors: number
  /** Mean latency, ms. */
  meanMs: number
  /** Median latency, ms. */
  p50Ms: number
  /** 95th percentile latency, ms. */
  p95Ms: number
  /** 99th percentile latency, ms. */
  p99Ms: number
  /** Largest latency, ms. */
  maxMs: number
  /**
   * Groups in which concurrent calls that found the pool busy were served by one statement
   * (`getSession`, `hasSession`, `getValue`, `saveSession`; see `coalesce`). `0` elsewhere.
   */
  groups: number
  /** Calls served in those groups (`groupedCalls / groups` is the mean group size). */
  groupedCalls: number
  /** The largest group. */
  largestGroup: number
}

/** Result of `healthCheck()`. */
export interface HealthStatus {
  /** `true` when `SELECT 1` succeeded through the pool. */
  healthy: boolean
  /** Why not, when `healthy` is `false` (never contains the password). */
  message?: string
}

/**
 * Stable error codes set on `error.code` (public API: codes are added, never renamed).
 * - `E_CONFIG`: a bad option (constructor or `initialize(config)`); thrown as ValidationError.
 * - `E_CONNECTION`: the server is unreachable, refused the login or TLS, or dropped the connection.
 * - `E_TIMEOUT`: connecting, waiting for a pooled connection or the whole call (`queryTimeoutMs`) took too long, or the server cancelled a statement.
 *   A write that fails with it wrote nothing, and never will: the server stopped and rolled it back.
 * - `E_OUTCOME_UNKNOWN`: a write was sent and no answer came back (a silent server or network path, or a
 *   connection lost mid-write and not recoverable in time): it may or may not be stored. Read it back before
 *   retrying. Only writes fail with it.
 * - `E_CLOSED`: the adapter was used after `close()`.
 * - `E_NOT_INITIALIZED`: the adapter was used before `initialize()`.
 * - `E_CONFLICT`: a save whose `version` is not newer than the stored one; thrown as ConflictError.
 * - `E_VALIDATION`: refused input, checked before anything is written; thrown as ValidationError.
 * - `E_NOT_FOUND`: reserved for NotFoundError (misses resolve `null` / `false` instead).
 * - `E_QUERY`: any other database error, e.g. the tables were dropped (`sqlstate` says which).
 * - `E_INTERNAL`: a bug in the adapter, reported as an error instead of a crash.
 */
export type ErrorCode =
  | 'E_CONFIG'
  | 'E_CONNECTION'
  | 'E_TIMEOUT'
  | 'E_OUTCOME_UNKNOWN'
  | 'E_CLOSED'
  | 'E_NOT_INITIALIZED'
  | 'E_CONFLICT'
  | 'E_VALIDATION'
  | 'E_NOT_FOUND'
  | 'E_QUERY'
  | 'E_INTERNAL'

/** Base class of every error the adapter throws; `name` is `'StorageError'`. */
export declare class StorageError extends Error {
  /**
   * @param message - What failed, naming the id, key or option involved.
   * @param cause - The underlying error, e.g. the driver's.
   */
  constructor(message: string, cause?: unknown)
  /** Stable error code (set by the adapter). */
  code?: ErrorCode
  /** PostgreSQL SQLSTATE, when the server reported one (e.g. `'42P01'`). */
  sqlstate?: string
  /** The underlying error (its `code` is the SQLSTATE for database errors). */
  cause?: unknown
}

/** Optimistic-lock conflict (`code` `E_CONFLICT`): a save whose version is not newer than the stored one. */
export declare class ConflictError extends StorageError {
  /**
   * @param message - Names the session id and both versions.
   * @param conflictingVersions - `[attempted, stored]`.
   */
  constructor(message: string, conflictingVersions?: ConflictingVersions)
  /**
   * `[attempted, stored]`: always set on the conflicts the adapter raises (optional only because
   * an instance you construct yourself may leave it out).
   */
  conflictingVersions?: ConflictingVersions
}

/** Input (`code` `E_VALIDATION`) or an option (`E_CONFIG`) refused before anything was written. */
export declare class ValidationError extends StorageError {
  /**
   * @param message - Names the method, the field and what was wrong with it.
   * @param invalidFields - The offending field(s).
   */
  constructor(message: string, invalidFields?: string[])
  /** The offending field(s), e.g. `['session.version']`. */
  invalidFields?: string[]
}

/**
 * A named resource does not exist (`code` `E_NOT_FOUND`). Message: `"<resource> not found: <id>"`.
 * Reserved: the adapter resolves `null` / `false` for a missing session or value.
 */
export declare class NotFoundError extends StorageError {
  /**
   * @param resource - What was looked for, e.g. `'Session'`.
   * @param id - Its id or key.
   */
  constructor(resource: string, id: string)
  /** What was looked for. */
  resource: string
  /** Its id or key. */
  id: string
}

/**
 * SmallTalk's StorageAdapter on PostgreSQL, implemented natively in Rust (tokio-postgres and
 * deadpool-postgres). Every method but the two serializers returns a Promise. Rejections are
 * StorageError or a subclass (or the classes given in `errorClasses`); besides those listed per
 * method, any call that reaches the database can reject with `E_NOT_INITIALIZED` (before
 * `initialize()`), `E_CLOSED` (after `close()`), `E_CONNECTION`, `E_TIMEOUT` or `E_QUERY`.
 *
 * The methods that hand sessions back (`getSession`, `getSessions`, `listSessions`,
 * `deserializeSession`) are generic in the session type `S`, which must be assignable to this
 * package's `Session` and defaults to it. TypeScript picks `S` from where the result goes: an
 * adapter used where SmallTalk's `StorageAdapter` is expected returns SmallTalk's `Session` (with
 * its `SessionState` enum); used on its own it returns this package's `Session`. As with
 * `getValue<T>`, `S` describes what was stored; the adapter does not check it on the way out.
 *
 * @example
 * ```ts
 * const adapter = new PostgresStorageAdapter({ connectionString: process.env.DATABASE_URL })
 * await adapter.initialize()
 * await adapter.saveSession(session)
 * const restored = await adapter.getSession(session.id)
 * await adapter.close()
 * ```
 */
export declare class PostgresStorageAdapter {
  /**
   * Validates the options; opens nothing (see `initialize()`).
   * @param config - Connection and behaviour options; each connection field falls back to its
   *   PostgreSQL environment variable, then to its default.
   * @throws ValidationError (`E_CONFIG`) naming a bad option.
   */
  constructor(config?: PostgresConfig)
  /**
   * Opens the pool and creates the tables and indexes if missing. Idempotent.
   * @param config - SmallTalk's StorageAdapterConfig: a `postgres://` `location` replaces the
   *   connection; `options.poolSize` / `options.sslMode` override those options.
   * @throws StorageError (`E_CONNECTION`, `E_TIMEOUT`, `E_QUERY`), ValidationError (`E_CONFIG`).
   */
  initialize(config?: StorageAdapterConfig): Promise<void>
  /** Releases all connections. Safe to call any number of times, also before `initialize()`. */
  close(): Promise<void>
  /**
   * Runs `SELECT 1` through the pool. Never rejects.
   * @returns `{ healthy: true }`, or `{ healthy: false, message }` saying why not.
   */
  healthCheck(): Promise<HealthStatus>
  /**
   * Upserts a session with optimistic locking, in one statement: accepted only when
   * `session.version` is newer than the stored one (or the session is new).
   * @param session - The session; `version` is an integer from 1 to 2147483647.
   * @throws ConflictError (`E_CONFLICT`, `conflictingVersions = [attempted, stored]`) when the
   *   stored version is the same or newer; nothing is written.
   * @throws ValidationError (`E_VALIDATION`) for a malformed session; nothing is written.
   */
  saveSession(session: Session): Promise<void>
  /**
   * Saves all sessions in one transaction, or none, with the same locking as `saveSession`.
   * @param sessions - Sessions with distinct ids.
   * @returns The number saved (`sessions.length`).
   * @throws ConflictError if any one conflicts, ValidationError if any one is malformed or an id
   *   repeats; then nothing is written.
   */
  saveSessions(sessions: Session[]): Promise<number>
  /**
   * @param sessionId - A non-empty string of at most 255 characters.
   * @returns The session with its Dates revived, or `null` when there is none.
   * @throws ValidationError (`E_VALIDATION`) for a malformed id.
   */
  getSession<S extends Session = Session>(sessionId: string): Promise<S | null>
  /**
   * Reads many sessions in one round trip.
   * @returns The sessions found, by id; missing ids are absent.
   * @throws ValidationError (`E_VALIDATION`) for a malformed id.
   */
  getSessions<S extends Session = Session>(sessionIds: string[]): Promise<Map<string, S>>
  /**
   * @returns `true` when the session existed.
   * @throws ValidationError (`E_VALIDATION`) for a malformed id.
   */
  deleteSession(sessionId: string): Promise<boolean>
  /**
   * Deletes many sessions in one round trip.
   * @returns The number deleted.
   * @throws ValidationError (`E_VALIDATION`) for a malformed id.
   */
  deleteSessions(sessionIds: string[]): Promise<number>
  /**
   * Session summaries of all states, newest `updatedAt` first (e.g. `listSessions(undefined, 20, 40)`).
   * The summaries' `state` takes its type from where the result goes (SmallTalk's enum), else SessionState.
   * @param limit - At most this many (default: all).
   * @param offset - Skip this many first (default 0).
   * @throws ValidationError (`E_VALIDATION`) for a negative / non-integer count.
   */
  listSessions<State extends SessionState = SessionState>(
    state: undefined,
    limit?: number,
    offset?: number,
  ): Promise<SessionSummary<State>[]>
  /**
   * Session summaries, newest `updatedAt` first.
   * @param state - Only sessions in this state (default: all); its type (SmallTalk's `SessionState`
   *   enum, one state, ...) is the type of the summaries' `state`.
   * @param limit - At most this many (default: all).
   * @param offset - Skip this many first (default 0).
   * @throws ValidationError (`E_VALIDATION`) for a non-string state or a negative / non-integer count.
   */
  listSessions<State extends SessionState = SessionState>(
    state?: State,
    limit?: number,
    offset?: number,
  ): Promise<SessionSummary<State>[]>
  /**
   * @returns Whether a session with this id exists.
   * @throws ValidationError (`E_VALIDATION`) for a malformed id.
   */
  hasSession(sessionId: string): Promise<boolean>
  /**
   * Every session (or those in `options.state`), newest `updatedAt` first, fetched
   * `options.batchSize` at a time (default 100, at most 10000) by keyset pagination: each page
   * costs the same at any depth, unlike a deep `listSessions` offset. For cleanup and export jobs;
   * sessions saved or deleted meanwhile may or may not be seen.
   * @example
   * ```ts
   * for await (const session of adapter.iterateSessions({ state: 'expired' })) await archive(session)
   * ```
   * @throws ValidationError (`E_VALIDATION`, synchronously) for a bad option.
   */
  iterateSessions<S extends Session = Session>(options?: IterateSessionsOptions): AsyncIterableIterator<S>
  /**
   * Stores any JSON value under `key`, replacing what was there (and its expiry).
   * @param key - A non-empty string of at most 1024 characters.
   * @param value - Any JSON-serializable value except `undefined` (use `deleteValue`).
   * @param options - `ttl`: seconds until it expires (default: the adapter's `ttl`, else never);
   *   `ttl: null` stores it without expiry.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key or ttl, or a value JSON cannot hold.
   */
  setValue(key: string, value: unknown, options?: SetValueOptions): Promise<void>
  /**
   * @returns The value, or `null` when missing or expired.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key.
   */
  getValue<T = unknown>(key: string): Promise<T | null>
  /**
   * @returns `true` when a live value existed.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key.
   */
  deleteValue(key: string): Promise<boolean>
  /**
   * @returns Whether a live (unexpired) value exists.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key.
   */
  hasValue(key: string): Promise<boolean>
  /**
   * The values of `keys`, in the same order, read by one statement (one snapshot).
   * @returns One entry per key: the value, or `null` when missing or expired.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key (naming `keys[i]`).
   */
  getValues<T = unknown>(keys: readonly string[]): Promise<(T | null)[]>
  /**
   * Stores every `[key, value]` of `entries` in one statement: atomic, all are stored or none. A
   * key given twice keeps its last value, as a `Map` would.
   * @param entries - A `Map`, any iterable of `[key, value]` pairs, or a plain object.
   * @param options - `ttl` for all of them, as for `setValue`.
   * @throws ValidationError (`E_VALIDATION`) for a malformed entry; nothing is stored then.
   */
  setValues(
    entries: Iterable<readonly [string, unknown]> | Readonly<Record<string, unknown>>,
    options?: SetValueOptions,
  ): Promise<void>
  /**
   * Deletes `keys` in one statement (atomic).
   * @returns The number of live (unexpired) entries deleted.
   * @throws ValidationError (`E_VALIDATION`) for a malformed key.
   */
  deleteValues(keys: readonly string[]): Promise<number>
  /**
   * Every live entry, or those whose key starts with `options.prefix`, as `[key, value]`, in
   * code-point order of the keys, fetched `options.batchSize` at a time (default 100, at most
   * 10000) by keyset pagination: each page costs the same at any depth. Entries written meanwhile
   * may or may not be seen; none is seen twice.
   * @example
   * ```ts
   * for await (const [key, value] of adapter.iterateValues({ prefix: 'user:' })) console.log(key, value)
   * ```
   * @throws ValidationError (`E_VALIDATION`, synchronously) for a bad option.
   */
  iterateValues<T = unknown>(options?: IterateValuesOptions): AsyncIterableIterator<[string, T]>
  /**
   * Deletes every key-value entry whose key starts with `options.prefix`, live or expired, in one
   * statement. Without a prefix: every entry of the adapter's `namespace`, or, without a
   * namespace, every entry of the table. Sessions are left alone.
   * @returns The number deleted.
   * @throws ValidationError (`E_VALIDATION`) for a bad option.
   */
  clearValues(options?: ClearValuesOptions): Promise<number>
  /**
   * Deletes expired key-value entries now (they already read as absent).
   * @returns The number deleted.
   */
  purgeExpired(): Promise<number>
  /**
   * Deletes sessions (the key-value store is left alone); the way to clean up old sessions.
   * @param olderThan - Only sessions whose `updatedAt` is before this (default: all).
   * @returns The number deleted.
   * @throws ValidationError (`E_VALIDATION`) for an invalid Date.
   */
  clear(olderThan?: Date): Promise<number>
  /**
   * Deletes every session whose `expiresAt` is before `now`, on the server, in batches of 1,000
   * (each commits on its own: a failure part-way says how many were deleted before it; running it
   * again is safe). Sessions without `expiresAt` never expire.
   * @param now - Default: now.
   * @returns The number deleted.
   * @throws ValidationError (`E_VALIDATION`) for an invalid Date.
   */
  deleteExpiredSessions(now?: Date): Promise<number>
  /**
   * Session count, storage size, per-state counts, pool figures and per-operation metrics. Exact,
   * and constant-time where the state counters are in place (`metrics.countedBy`).
   */
  getStats(): Promise<StorageStats>
  /** `JSON.stringify` of the session with Dates as ISO-8601 strings: the stored format. Synchronous. */
  serializeSession(session: Session): string
  /** Parses a serialized session, turning the contract's Date fields back into Dates. Synchronous. */
  deserializeSession<S extends Session = Session>(json: string): S
}

/**
 * `JSON.stringify` of the session with Dates as ISO-8601 strings: the format stored in `sessions.data`.
 * @param session - The session to serialize.
 */
export declare function serializeSession(session: Session): string
/**
 * Parses a serialized session, turning the contract's Date fields back into Dates.
 * @param json - Text from `serializeSession` (or the `sessions.data` column).
 * @throws SyntaxError when `json` is not JSON.
 */
export declare function deserializeSession<S extends Session = Session>(json: string): S
