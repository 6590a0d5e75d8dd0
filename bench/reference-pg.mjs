// The reference: SmallTalk's original TypeScript PostgresStorageAdapter, on `pg`, reduced to the
// methods the benchmark calls. It is what users run today, so it keeps the original's SQL and
// JSON data flow exactly; it is neither slowed down nor made smarter than the original.
//
// Choices, method by method (as the original adapter does them):
// - Pool: `new pg.Pool({ host, port, database, user, password, max: poolSize })`, pg's other
//   defaults (as the original). Plain parameterised queries (pg's unnamed statements), no named
//   prepared statements: the original had none.
// - Serialization: the original SessionSerializer, frozen in ./original-serializer.mjs (not the
//   package's own, which may get faster).
// - saveSession: as the original's flow goes, "serialize, parse, let pg stringify":
//   `JSON.parse(serializeSession(session))` is bound to `data` and pg JSON.stringifies it; the
//   Dates `createdAt`/`updatedAt` are bound as Date objects (pg turns them into local-time text).
//   One upsert guarded by the version; rowCount 0 → ConflictError. `--reference-save-flow string`
//   binds the serialized string instead (a lighter variant, for comparison).
// - getSession: `SELECT data FROM sessions WHERE id = $1`; pg parses the jsonb into an object, then
//   the original does `deserializeSession(JSON.stringify(row.data))` (stringify, then parse with
//   Date revival, through the package's exported deserializeSession).
// - saveSessions: one pooled client, BEGIN, the same upsert once per session in a loop, COMMIT
//   (ROLLBACK and rethrow on any error, ConflictError included). Resolves to the count.
// - getSessions: `SELECT id, data FROM sessions WHERE id = ANY($1)`, the same stringify/parse per
//   row, into a Map.
// - listSessions: `SELECT id, data->>'state' AS state, updated_at,
//   jsonb_array_length(data->'agentIds') AS agent_count FROM sessions [WHERE data->>'state' = $1]
//   ORDER BY updated_at DESC LIMIT $n OFFSET $m`, rows mapped to `{ id, state, updatedAt, agentCount }`
//   (pg parses `updated_at` into a Date). A missing limit binds NULL (no limit), a missing offset 0.
// - initialize() opens the pool and checks it with `SELECT 1`; the schema (identical DDL) is created
//   by the package's own initialize(), once, before any adapter runs.
import pg from 'pg'
import { ConflictError } from '../index.mjs'
import { deserializeSession, serializeSession } from './original-serializer.mjs'

const UPSERT = `INSERT INTO sessions (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE sessions.version < EXCLUDED.version`

const LIST = `SELECT id, data->>'state' AS state, updated_at, jsonb_array_length(data->'agentIds') AS agent_count FROM sessions`

export class PgReferenceAdapter {
  #config
  #pool = null
  #parseBeforeBind

  /**
   * `config`: `{ host, port, database, user, password, poolSize = 10, saveFlow = 'parse',
   * searchPath }`; `searchPath` (the benchmark's own schemas only) sets the connections' search_path.
   */
  constructor({ poolSize = 10, saveFlow = 'parse', searchPath, ...connection } = {}) {
    if (saveFlow !== 'string' && saveFlow !== 'parse') throw new Error(`unknown saveFlow ${saveFlow}`)
    this.#config = { ...connection, max: poolSize, ...(searchPath ? { options: `-c search_path=${searchPath}` } : {}) }
    this.#parseBeforeBind = saveFlow === 'parse'
  }

  async initialize() {
    this.#pool = new pg.Pool(this.#config)
    this.#pool.on('error', () => {})
    await this.#pool.query('SELECT 1')
  }

  async close() {
    const pool = this.#pool
    this.#pool = null
    if (pool !== null) await pool.end()
  }

  #upsertParams(session) {
    const serialized = serializeSession(session)
    const data = this.#parseBeforeBind ? JSON.parse(serialized) : serialized
    return [session.id, data, session.version, session.createdAt, session.updatedAt]
  }

  async saveSession(session) {
    const result = await this.#pool.query(UPSERT, this.#upsertParams(session))
    if (result.rowCount === 0) throw conflict(session)
  }

  async saveSessions(sessions) {
    if (sessions.length === 0) return 0
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      for (const session of sessions) {
        const result = await client.query(UPSERT, this.#upsertParams(session))
        if (result.rowCount === 0) throw conflict(session)
      }
      await client.query('COMMIT')
      return sessions.length
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  async getSession(sessionId) {
    const result = await this.#pool.query('SELECT data FROM sessions WHERE id = $1', [sessionId])
    if (result.rows.length === 0) return null
    return deserializeSession(JSON.stringify(result.rows[0].data))
  }

  async getSessions(sessionIds) {
    const sessions = new Map()
    if (sessionIds.length === 0) return sessions
    const result = await this.#pool.query('SELECT id, data FROM sessions WHERE id = ANY($1)', [sessionIds])
    for (const row of result.rows) sessions.set(row.id, deserializeSession(JSON.stringify(row.data)))
    return sessions
  }

  async listSessions(state, limit, offset) {
    const params = []
    let text = LIST
    if (state) {
      params.push(state)
      text += ` WHERE data->>'state' = $${params.length}`
    }
    params.push(limit ?? null, offset ?? 0)
    text += ` ORDER BY updated_at DESC LIMIT $${params.length - 1} OFFSET $${params.length}`
    const result = await this.#pool.query(text, params)
    return result.rows.map((row) => ({
      id: row.id,
      state: row.state,
      updatedAt: row.updated_at,
      agentCount: row.agent_count,
    }))
  }
}

function conflict(session) {
  return new ConflictError(
    `Version conflict for session ${session.id}: version ${session.version} is not newer than the stored one`,
    [session.version],
  )
}
