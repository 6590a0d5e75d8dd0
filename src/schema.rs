//! The schema (exactly the original adapter's) and every SQL statement the adapter runs.
//!
//! Timestamps are `TIMESTAMP` (no time zone) holding UTC wall time. Values are bound in binary from
//! UTC instants and "now" is always `now() AT TIME ZONE 'UTC'`, so neither the Node process' `TZ`
//! nor the connection's `TimeZone` setting changes what is stored.

/// Key for `pg_advisory_xact_lock`, so concurrent `initialize()` calls do not race on DDL.
const DDL_LOCK_KEY: i64 = 0x5354_4b50_4753_5431; // "STKPGST1"

/// All SQL, built once per schema so table names are baked in (never formatted per call).
#[derive(Debug, Clone)]
pub struct Sql {
  /// Creates tables and indexes if missing (one implicit transaction).
  pub create_schema: String,
  /// Upsert guarded by the version: affects 1 row when accepted, 0 on a version conflict.
  pub save_session: String,
  /// Batch upsert from arrays; returns the ids it wrote.
  pub save_sessions: String,
  /// Stored version of one session.
  pub stored_version: String,
  /// How many of the given (id, data, version) triples are stored exactly so: tells, after a
  /// lost connection, whether an earlier attempt of the same save was committed.
  pub applied_sessions: String,
  /// One session's JSON.
  pub get_session: String,
  /// Many sessions' ids and JSON.
  pub get_sessions: String,
  /// Delete one session.
  pub delete_session: String,
  /// Delete many sessions.
  pub delete_sessions: String,
  /// Does a session exist.
  pub has_session: String,
  /// Summaries, newest first.
  pub list_sessions: String,
  /// Summaries in one state, newest first.
  pub list_sessions_by_state: String,
  /// Delete every session.
  pub clear_all: String,
  /// Delete sessions updated before a time.
  pub clear_before: String,
  /// Counts and sizes for `getStats`.
  pub stats: String,
  /// Upsert a key-value entry (TTL in seconds, NULL = never expires).
  pub set_value: String,
  /// A live entry's JSON.
  pub get_value: String,
  /// Delete an entry; returns whether it was live.
  pub delete_value: String,
  /// Is there a live entry.
  pub has_value: String,
  /// Delete expired entries.
  pub purge_expired: String,
}

/// UTC wall time now, as the `TIMESTAMP` columns store it.
const NOW_UTC: &str = "(now() AT TIME ZONE 'UTC')";

impl Sql {
  /// SQL for tables in the connection's `search_path` (the original adapter's behaviour).
  pub fn unqualified() -> Self {
    Self::with_tables("sessions", "key_value", "'sessions'", "'key_value'")
  }

  fn with_tables(sessions: &str, key_value: &str, sessions_regclass: &str, key_value_regclass: &str) -> Self {
    let live = format!("(ttl IS NULL OR ttl > {NOW_UTC})");
    let summary = "SELECT id, data->>'state', updated_at, \
       CASE WHEN jsonb_typeof(data->'agentIds') = 'array' THEN jsonb_array_length(data->'agentIds') ELSE 0 END";
    let upsert_tail = format!(
      "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at \
       WHERE {sessions}.version < EXCLUDED.version"
    );
    Sql {
      create_schema: format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK_KEY});
         CREATE TABLE IF NOT EXISTS {sessions} (
           id TEXT PRIMARY KEY,
           data JSONB NOT NULL,
           version INTEGER NOT NULL DEFAULT 1,
           created_at TIMESTAMP NOT NULL DEFAULT NOW(),
           updated_at TIMESTAMP NOT NULL DEFAULT NOW()
         );
         CREATE INDEX IF NOT EXISTS idx_sessions_state ON {sessions} ((data->>'state'));
         CREATE INDEX IF NOT EXISTS idx_sessions_updated_at ON {sessions} (updated_at);
         CREATE TABLE IF NOT EXISTS {key_value} (
           key TEXT PRIMARY KEY,
           value JSONB NOT NULL,
           ttl TIMESTAMP,
           created_at TIMESTAMP NOT NULL DEFAULT NOW()
         );
         CREATE INDEX IF NOT EXISTS idx_key_value_ttl ON {key_value} (ttl) WHERE ttl IS NOT NULL;"
      ),
      save_session: format!(
        "INSERT INTO {sessions} (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) {upsert_tail}"
      ),
      save_sessions: format!(
        "INSERT INTO {sessions} (id, data, version, created_at, updated_at) \
         SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int4[], $4::timestamp[], $5::timestamp[]) \
         {upsert_tail} RETURNING id"
      ),
      stored_version: format!("SELECT version FROM {sessions} WHERE id = $1"),
      applied_sessions: format!(
        "SELECT count(*) FROM {sessions} s \
         JOIN unnest($1::text[], $2::jsonb[], $3::int4[]) AS i(id, data, version) \
         ON s.id = i.id AND s.version = i.version AND s.data = i.data"
      ),
      get_session: format!("SELECT data FROM {sessions} WHERE id = $1"),
      get_sessions: format!("SELECT id, data FROM {sessions} WHERE id = ANY($1::text[])"),
      delete_session: format!("DELETE FROM {sessions} WHERE id = $1"),
      delete_sessions: format!("DELETE FROM {sessions} WHERE id = ANY($1::text[])"),
      has_session: format!("SELECT EXISTS (SELECT 1 FROM {sessions} WHERE id = $1)"),
      list_sessions: format!("{summary} FROM {sessions} ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2"),
      list_sessions_by_state: format!(
        "{summary} FROM {sessions} WHERE data->>'state' = $3 ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2"
      ),
      clear_all: format!("DELETE FROM {sessions}"),
      clear_before: format!("DELETE FROM {sessions} WHERE updated_at < $1"),
      stats: format!(
        "SELECT count(*), \
           count(*) FILTER (WHERE data->>'state' = 'active'), \
           count(*) FILTER (WHERE data->>'state' = 'paused'), \
           count(*) FILTER (WHERE data->>'state' = 'expired'), \
           count(*) FILTER (WHERE data->>'state' = 'invalidated_pending_cleanup'), \
           count(*) FILTER (WHERE data->>'state' = 'closed'), \
           pg_total_relation_size({sessions_regclass}::regclass) + pg_total_relation_size({key_value_regclass}::regclass) \
         FROM {sessions}"
      ),
      set_value: format!(
        "INSERT INTO {key_value} (key, value, ttl, created_at) \
         VALUES ($1, $2, {NOW_UTC} + $3::float8 * interval '1 second', {NOW_UTC}) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ttl = EXCLUDED.ttl"
      ),
      get_value: format!("SELECT value FROM {key_value} WHERE key = $1 AND {live}"),
      delete_value: format!("DELETE FROM {key_value} WHERE key = $1 RETURNING {live}"),
      has_value: format!("SELECT EXISTS (SELECT 1 FROM {key_value} WHERE key = $1 AND {live})"),
      purge_expired: format!("DELETE FROM {key_value} WHERE ttl IS NOT NULL AND ttl <= {NOW_UTC}"),
    }
  }
}

impl Sql {
  /// Every statement that runs as a prepared statement (all but the DDL).
  pub fn prepared_statements(&self) -> [&str; 19] {
    [
      &self.save_session,
      &self.save_sessions,
      &self.stored_version,
      &self.applied_sessions,
      &self.get_session,
      &self.get_sessions,
      &self.delete_session,
      &self.delete_sessions,
      &self.has_session,
      &self.list_sessions,
      &self.list_sessions_by_state,
      &self.clear_all,
      &self.clear_before,
      &self.stats,
      &self.set_value,
      &self.get_value,
      &self.delete_value,
      &self.has_value,
      &self.purge_expired,
    ]
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn schema_matches_the_original_adapter() {
    let sql = Sql::unqualified();
    for needle in [
      "CREATE TABLE IF NOT EXISTS sessions",
      "id TEXT PRIMARY KEY",
      "data JSONB NOT NULL",
      "version INTEGER NOT NULL DEFAULT 1",
      "idx_sessions_state ON sessions ((data->>'state'))",
      "idx_sessions_updated_at ON sessions (updated_at)",
      "CREATE TABLE IF NOT EXISTS key_value",
      "ttl TIMESTAMP,",
      "idx_key_value_ttl ON key_value (ttl) WHERE ttl IS NOT NULL",
    ] {
      assert!(sql.create_schema.contains(needle), "missing {needle}");
    }
  }

  #[test]
  fn saves_are_guarded_by_the_version() {
    let sql = Sql::unqualified();
    assert!(sql.save_session.contains("WHERE sessions.version < EXCLUDED.version"));
    assert!(sql.save_sessions.contains("WHERE sessions.version < EXCLUDED.version"));
    assert!(sql.save_sessions.contains("unnest("));
  }
}
