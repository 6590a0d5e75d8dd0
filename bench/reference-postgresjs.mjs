// The same reference adapter on postgres.js (npm `postgres`): the original's SQL and JSON data
// flow (see reference-pg.mjs for the choices), written the postgres.js way: tagged templates,
// statements prepared on each connection (postgres.js' default `prepare: true`), `sql.begin` for
// the batch transaction, `max` = the same pool size.
//
// One adaptation: postgres.js serializes every value bound to a json/jsonb parameter with
// JSON.stringify, so the serialized session string would be stored as a JSON *string*. A custom
// type for jsonb passes a string through untouched (and stringifies anything else), so the flow
// stays "serialize, bind the text" as with pg; reading still JSON.parses jsonb like pg does.
import postgres from 'postgres'
import { ConflictError } from '../index.mjs'
import { deserializeSession, serializeSession } from './original-serializer.mjs'

const JSONB = 3802

export class PostgresJsReferenceAdapter {
  #options
  #sql = null
  #parseBeforeBind

  /** `config`: as PgReferenceAdapter's (`searchPath` included). */
  constructor({ host, port, database, user, password, poolSize = 10, saveFlow = 'parse', searchPath } = {}) {
    if (saveFlow !== 'string' && saveFlow !== 'parse') throw new Error(`unknown saveFlow ${saveFlow}`)
    this.#parseBeforeBind = saveFlow === 'parse'
    this.#options = {
      host,
      port,
      database,
      user,
      password,
      max: poolSize,
      prepare: true,
      onnotice: () => {},
      ...(searchPath ? { connection: { search_path: searchPath } } : {}),
      types: {
        jsonb: {
          to: JSONB,
          from: [JSONB],
          serialize: (value) => (typeof value === 'string' ? value : JSON.stringify(value)),
          parse: (text) => JSON.parse(text),
        },
      },
    }
  }

  async initialize() {
    this.#sql = postgres(this.#options)
    await this.#sql`SELECT 1`
  }

  async close() {
    const sql = this.#sql
    this.#sql = null
    if (sql !== null) await sql.end({ timeout: 5 })
  }

  #data(session) {
    const serialized = serializeSession(session)
    return this.#parseBeforeBind ? JSON.parse(serialized) : serialized
  }

  static async #upsert(sql, session, data) {
    const result = await sql`
      INSERT INTO sessions (id, data, version, created_at, updated_at)
      VALUES (${session.id}, ${data}, ${session.version}, ${session.createdAt}, ${session.updatedAt})
      ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
      WHERE sessions.version < EXCLUDED.version`
    if (result.count === 0) throw conflict(session)
  }

  async saveSession(session) {
    await PostgresJsReferenceAdapter.#upsert(this.#sql, session, this.#data(session))
  }

  async saveSessions(sessions) {
    if (sessions.length === 0) return 0
    await this.#sql.begin(async (sql) => {
      for (const session of sessions) await PostgresJsReferenceAdapter.#upsert(sql, session, this.#data(session))
    })
    return sessions.length
  }

  async getSession(sessionId) {
    const rows = await this.#sql`SELECT data FROM sessions WHERE id = ${sessionId}`
    if (rows.length === 0) return null
    return deserializeSession(JSON.stringify(rows[0].data))
  }

  async getSessions(sessionIds) {
    const sessions = new Map()
    if (sessionIds.length === 0) return sessions
    const rows = await this.#sql`SELECT id, data FROM sessions WHERE id = ANY(${sessionIds})`
    for (const row of rows) sessions.set(row.id, deserializeSession(JSON.stringify(row.data)))
    return sessions
  }

  async listSessions(state, limit, offset) {
    const sql = this.#sql
    const rows = await sql`
      SELECT id, data->>'state' AS state, updated_at, jsonb_array_length(data->'agentIds') AS agent_count
      FROM sessions ${state ? sql`WHERE data->>'state' = ${state}` : sql``}
      ORDER BY updated_at DESC LIMIT ${limit ?? null} OFFSET ${offset ?? 0}`
    return rows.map((row) => ({ id: row.id, state: row.state, updatedAt: row.updated_at, agentCount: row.agent_count }))
  }
}

function conflict(session) {
  return new ConflictError(
    `Version conflict for session ${session.id}: version ${session.version} is not newer than the stored one`,
    [session.version],
  )
}
