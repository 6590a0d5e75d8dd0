// Public API of @smalltalk-ai/postgres-storage (hand-written; the native layer's generated types
// are in native.d.ts and are not public).

/** Lifecycle state of a session. */
export type SessionState = 'active' | 'paused' | 'expired' | 'invalidated_pending_cleanup' | 'closed'

/** One agent's reply within a turn. */
export interface AgentResponse {
  agentId: string
  response: string
  timestamp: Date
}

/** One user message and the agents' replies. */
export interface MessageTurn {
  sequence: number
  timestamp: Date
  userMessage: string
  agentResponses: AgentResponse[]
}

/** Per-agent state kept in a session. */
export interface AgentState {
  config: Record<string, any>
  context: Record<string, any>
  messageHistory: MessageTurn[]
}

/** A SmallTalk conversation session as stored by the adapter. */
export interface Session {
  /** Session id (a UUID v4 in SmallTalk; any non-empty string of at most 255 characters). */
  id: string
  createdAt: Date
  updatedAt: Date
  expiresAt: Date
  state: SessionState
  agentIds: string[]
  agentStates: { [agentId: string]: AgentState }
  conversationHistory: MessageTurn[]
  sharedContext: Record<string, any>
  metadata: { userId?: string; tags?: string[]; [key: string]: any }
  /** Optimistic-lock version: starts at 1 and only grows (an integer up to 2147483647). */
  version: number
}

/** One row of `listSessions()`. */
export interface SessionSummary {
  id: string
  state: SessionState
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
  options?: {
    /** Overrides the pool size. */
    poolSize?: number
    /** Overrides the TLS mode. */
    sslMode?: 'disable' | 'require' | 'verify-full'
    [key: string]: any
  }
}

/** The error classes the adapter throws; pass the app's own to get instances of them. */
export interface ErrorClasses {
  StorageError?: new (message: string, cause?: unknown) => Error
  ConflictError?: new (message: string, conflictingVersions?: number[]) => Error
  ValidationError?: new (message: string, invalidFields?: string[]) => Error
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
 * Connection and behaviour options. Each connection field falls back to the standard PostgreSQL
 * environment variable (shown in brackets) and then to the default.
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
  /** `true` = `sslMode: 'require'`; an object = verify (see SslOptions). Default: no TLS [PGSSLMODE]. */
  ssl?: boolean | SslOptions
  /** TLS mode, as libpq's sslmode [PGSSLMODE]. Default `'disable'`. */
  sslMode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'
  /** PEM file with the CA certificate(s) for verify-ca / verify-full [PGSSLROOTCERT]. */
  sslRootCert?: string
  /** Time allowed to open one connection, in ms [PGCONNECT_TIMEOUT, seconds]. Default `10000`. */
  connectTimeoutMs?: number
  /** Time a call waits for a free pooled connection before failing, in ms. Default `10000`. */
  acquireTimeoutMs?: number
  /** `application_name` reported to the server [PGAPPNAME]. Default `'smalltalk-postgres-storage'`. */
  applicationName?: string
  /**
   * `statement_timeout` (ms) set on every connection; a statement running longer fails with
   * StorageError `E_TIMEOUT`. Default: off (the server's setting). Not forwarded by PgBouncer.
   */
  statementTimeoutMs?: number
  /** Default TTL (seconds) of key-value entries; `0` or `null`: entries never expire. Default: none. */
  ttl?: number | null
  /** Delete expired key-value entries in the background every N ms (never keeps Node alive). Default: off. */
  purgeIntervalMs?: number
  /**
   * Schema holding the tables, created if missing (any name; it is quoted). Default: unqualified
   * table names, resolved through the connection's `search_path` (normally `public`).
   */
  schema?: string
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
  /** Error classes to throw instead of this package's (e.g. SmallTalk's own). */
  errorClasses?: ErrorClasses
}

/** Options of `setValue`. */
export interface SetValueOptions {
  /** Seconds until the entry expires; `null`: never (overrides the adapter's default `ttl`). */
  ttl?: number | null
}

/** What `getStats()` resolves to. */
export interface StorageStats {
  totalSessions: number
  /** Bytes used by the sessions and key_value tables (indexes and TOAST included). */
  sizeBytes: number
  backendType: 'postgres'
  metrics: {
    activeCount: number
    pausedCount: number
    expiredCount: number
    invalidatedPendingCleanupCount: number
    closedCount: number
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
}

/** Result of `healthCheck()`. */
export interface HealthStatus {
  healthy: boolean
  message?: string
}

/** Stable error codes set on `error.code`. */
export type ErrorCode =
  | 'E_CONFIG'
  | 'E_CONNECTION'
  | 'E_TIMEOUT'
  | 'E_CLOSED'
  | 'E_NOT_INITIALIZED'
  | 'E_CONFLICT'
  | 'E_VALIDATION'
  | 'E_NOT_FOUND'
  | 'E_QUERY'
  | 'E_INTERNAL'

/** Base class of every error the adapter throws. */
export declare class StorageError extends Error {
  constructor(message: string, cause?: unknown)
  /** Stable error code (set by the adapter). */
  code?: ErrorCode
  /** PostgreSQL SQLSTATE, when the server reported one. */
  sqlstate?: string
  cause?: unknown
}

/** Optimistic-lock conflict: a save whose version is not newer than the stored one. */
export declare class ConflictError extends StorageError {
  constructor(message: string, conflictingVersions?: number[])
  /** `[attempted, stored]`. */
  conflictingVersions?: number[]
}

/** Input or configuration refused before anything was written. */
export declare class ValidationError extends StorageError {
  constructor(message: string, invalidFields?: string[])
  /** The offending field(s), e.g. `['session.version']`. */
  invalidFields?: string[]
}

/** A named resource does not exist. Message: `"<resource> not found: <id>"`. */
export declare class NotFoundError extends StorageError {
  constructor(resource: string, id: string)
  resource: string
  id: string
}

/** SmallTalk's StorageAdapter on PostgreSQL, implemented natively in Rust. */
export declare class PostgresStorageAdapter {
  /** Validates the options (throws ValidationError on a bad one) and opens nothing. */
  constructor(config?: PostgresConfig)
  /** Opens the pool and creates the schema if missing. Idempotent. Rejects with StorageError. */
  initialize(config?: StorageAdapterConfig): Promise<void>
  /** Releases all connections. Safe to call any number of times, also before `initialize()`. */
  close(): Promise<void>
  /** `{ healthy: true }` when a live query succeeds, else `{ healthy: false, message }`. Never rejects. */
  healthCheck(): Promise<HealthStatus>
  /** Upserts a session; rejects with ConflictError unless `session.version` is newer than the stored one. */
  saveSession(session: Session): Promise<void>
  /** Saves all sessions in one transaction, or none; resolves to the number saved. */
  saveSessions(sessions: Session[]): Promise<number>
  /** The session, or `null`. */
  getSession(sessionId: string): Promise<Session | null>
  /** The sessions found, by id; missing ids are absent. */
  getSessions(sessionIds: string[]): Promise<Map<string, Session>>
  /** Deletes a session; `true` when it existed. */
  deleteSession(sessionId: string): Promise<boolean>
  /** Deletes sessions; resolves to the number deleted. */
  deleteSessions(sessionIds: string[]): Promise<number>
  /** Summaries, newest `updatedAt` first, optionally filtered by state and paginated. */
  listSessions(state?: SessionState, limit?: number, offset?: number): Promise<SessionSummary[]>
  /** Whether a session exists. */
  hasSession(sessionId: string): Promise<boolean>
  /**
   * Stores any JSON value under `key` (at most 1024 characters). `options.ttl`: seconds until it
   * expires (default: the adapter's `ttl`, else never); `ttl: null` stores it without expiry.
   */
  setValue(key: string, value: unknown, options?: SetValueOptions): Promise<void>
  /** The value, or `null` when missing or expired. */
  getValue<T = unknown>(key: string): Promise<T | null>
  /** Deletes a value; `true` when a live one existed. */
  deleteValue(key: string): Promise<boolean>
  /** Whether a live (unexpired) value exists. */
  hasValue(key: string): Promise<boolean>
  /** Deletes expired key-value entries now; resolves to the number deleted. */
  purgeExpired(): Promise<number>
  /** Deletes all sessions, or those whose `updatedAt` is before `olderThan`; resolves to the count. */
  clear(olderThan?: Date): Promise<number>
  /** Session counts, storage size, per-state counts and pool figures. */
  getStats(): Promise<StorageStats>
  /** `JSON.stringify` of the session with Dates as ISO-8601 strings. */
  serializeSession(session: Session): string
  /** Parses a serialized session, turning the contract's Date fields back into Dates. */
  deserializeSession(json: string): Session
}

/** `JSON.stringify` of the session with Dates as ISO-8601 strings. */
export declare function serializeSession(session: Session): string
/** Parses a serialized session, turning the contract's Date fields back into Dates. */
export declare function deserializeSession(json: string): Session
