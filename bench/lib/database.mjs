// The harness' own access to the benchmark database, through a plain `pg` client that no adapter
// under test shares: a guard against running on somebody's data, seeding, and the checks of what
// the save workloads stored. Nothing here is timed.
import pg from 'pg'
import { ID_PREFIX } from './data.mjs'

const SEED_CHUNK = 250

export class BenchDatabase {
  #client

  constructor(client) {
    this.#client = client
  }

  /** Connects to `target` (`{ host, port, database, user, password }`). */
  static async connect(target) {
    const client = new pg.Client({ ...target, application_name: 'smalltalk-bench-harness' })
    client.on('error', () => {})
    await client.connect()
    // Rows seeded here are compressed as the adapter's own writes are (its default toastCompression).
    await client.query("SET default_toast_compression = 'lz4'").catch(() => {})
    return new BenchDatabase(client)
  }

  async close() {
    await this.#client.end()
  }

  query(text, params) {
    return this.#client.query(text, params)
  }

  /** Whether the `sessions` table exists (in the search path). */
  async hasSessionsTable() {
    const { rows } = await this.query(`SELECT to_regclass('sessions') IS NOT NULL AS present`)
    return rows[0].present
  }

  /** Number of sessions that the benchmark did not write (ids not starting with ID_PREFIX). */
  async foreignRows() {
    if (!(await this.hasSessionsTable())) return 0
    const { rows } = await this.query(`SELECT count(*)::int AS n FROM sessions WHERE left(id, $1) <> $2`, [
      ID_PREFIX.length,
      ID_PREFIX,
    ])
    return rows[0].n
  }

  /** Deletes every benchmark row; nothing else. */
  async deleteBenchRows() {
    if (!(await this.hasSessionsTable())) return 0
    const result = await this.query(`DELETE FROM sessions WHERE left(id, $1) = $2`, [ID_PREFIX.length, ID_PREFIX])
    return result.rowCount
  }

  /** Deletes the benchmark rows among `ids`. */
  async deleteRows(ids) {
    const result = await this.query('DELETE FROM sessions WHERE id = ANY($1::text[]) AND left(id, $2) = $3', [
      ids,
      ID_PREFIX.length,
      ID_PREFIX,
    ])
    return result.rowCount
  }

  /**
   * Gives back the space of the benchmark's churn when `sessions` is left empty (so it held
   * nobody else's rows): with autovacuum off, a run leaves hundreds of MB of dead rows and TOAST.
   * VACUUM FULL on an empty table is instant. Resolves to whether it ran.
   */
  async compactIfEmpty() {
    if (!(await this.hasSessionsTable())) return false
    const { rows } = await this.query('SELECT NOT EXISTS (SELECT 1 FROM sessions) AS empty')
    if (!rows[0].empty) return false
    await this.query('VACUUM FULL sessions')
    return true
  }

  /** Drops the package's tables when they hold nothing at all (the benchmark created them). */
  async dropTablesIfEmpty() {
    if (!(await this.hasSessionsTable())) return false
    const { rows } = await this.query(`SELECT to_regclass('key_value') IS NOT NULL AS present`)
    const counts = await this.query(
      `SELECT (SELECT count(*) FROM sessions)::int${rows[0].present ? ' + (SELECT count(*) FROM key_value)::int' : ''} AS n`,
    )
    if (counts.rows[0].n !== 0) return false
    await this.query('DROP TABLE IF EXISTS sessions; DROP TABLE IF EXISTS key_value')
    return true
  }

  /**
   * Writes the sessions as the adapters store them (the serialized JSON as jsonb, `version`, and the
   * Dates as UTC wall time), bypassing every adapter, then refreshes the planner's statistics
   * (unless `analyze` is false). `table` is `sessions` or a schema-qualified one of the benchmark's.
   */
  async seed(sessions, { table = 'sessions', analyze = true } = {}) {
    for (let start = 0; start < sessions.length; start += SEED_CHUNK) {
      const chunk = sessions.slice(start, start + SEED_CHUNK)
      await this.query(
        `INSERT INTO ${table} (id, data, version, created_at, updated_at)
         SELECT id, data::jsonb, version, created::timestamptz AT TIME ZONE 'UTC', updated::timestamptz AT TIME ZONE 'UTC'
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) AS t(id, data, version, created, updated)`,
        [
          chunk.map((session) => session.id),
          chunk.map((session) => JSON.stringify(session)),
          chunk.map((session) => session.version),
          chunk.map((session) => session.createdAt.toISOString()),
          chunk.map((session) => session.updatedAt.toISOString()),
        ],
      )
    }
    if (analyze) await this.query(`VACUUM ANALYZE ${table}`)
  }

  /** `Map<id, version>` of the stored rows among `ids`. */
  async storedVersions(ids) {
    const { rows } = await this.query('SELECT id, version FROM sessions WHERE id = ANY($1::text[])', [ids])
    return new Map(rows.map((row) => [row.id, row.version]))
  }

  /** `Map<id, stored JSON text>` of the rows among `ids` (the text the adapters read back). */
  async storedTexts(ids) {
    const { rows } = await this.query('SELECT id, data::text AS text FROM sessions WHERE id = ANY($1::text[])', [ids])
    return new Map(rows.map((row) => [row.id, row.text]))
  }

  /** The distinct last statements of the connections named `applicationName` in this database. */
  async lastStatements(applicationName) {
    const { rows } = await this.query(
      'SELECT DISTINCT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [applicationName],
    )
    return rows.map((row) => row.query)
  }

  /** `SHOW` of a server setting. */
  async setting(name) {
    const { rows } = await this.query(`SELECT current_setting($1) AS value`, [name])
    return rows[0].value
  }
}
