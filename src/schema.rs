//! The schema (exactly the original adapter's) and every SQL statement the adapter runs, with
//! the PostgreSQL types of its parameters.
//!
//! Timestamps are `TIMESTAMP` (no time zone) holding UTC wall time. Values are bound in binary from
//! UTC instants and "now" is always `now() AT TIME ZONE 'UTC'`, so neither the Node process' `TZ`
//! nor the connection's `TimeZone` setting changes what is stored.

use tokio_postgres::types::Type;

use crate::error::{Error, Result};

/// Key for `pg_advisory_xact_lock`, so concurrent `initialize()` calls do not race on DDL.
const DDL_LOCK_KEY: i64 = 0x5354_4b50_4753_5431; // "STKPGST1"

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// One statement: its text and its parameters' types (given to the server, never inferred, so
/// the same statement runs prepared or as a one-shot typed query).
#[derive(Debug, Clone)]
pub struct Stmt {
  /// SQL text, with the schema baked in.
  pub text: String,
  /// Types of `$1`, `$2`, ...
  pub types: &'static [Type],
}

/// All SQL, built once per schema so table names are baked in (never formatted per call).
#[derive(Debug, Clone)]
pub struct Sql {
  /// Creates the schema (when one is named), tables and indexes if missing, in one implicit
  /// transaction.
  pub create_schema: String,
  /// Upsert guarded by the version: affects 1 row when accepted, 0 on a version conflict.
  pub save_session: Stmt,
  /// Batch upsert from arrays; returns the ids it wrote.
  pub save_sessions: Stmt,
  /// Stored version of one session.
  pub stored_version: Stmt,
  /// How many of the given (id, data, version) triples are stored exactly so: tells, after a
  /// lost connection, whether an earlier attempt of the same save was committed.
  pub applied_sessions: Stmt,
  /// One session's JSON.
  pub get_session: Stmt,
  /// Many sessions' ids and JSON.
  pub get_sessions: Stmt,
  /// Delete one session.
  pub delete_session: Stmt,
  /// Delete many sessions.
  pub delete_sessions: Stmt,
  /// Does a session exist.
  pub has_session: Stmt,
  /// Summaries, newest first.
  pub list_sessions: Stmt,
  /// Summaries in one state, newest first.
  pub list_sessions_by_state: Stmt,
  /// Delete every session.
  pub clear_all: Stmt,
  /// Delete sessions updated before a time.
  pub clear_before: Stmt,
  /// Counts and sizes for `getStats`.
  pub stats: Stmt,
  /// Upsert a key-value entry (TTL in seconds, NULL = never expires).
  pub set_value: Stmt,
  /// A live entry's JSON.
  pub get_value: Stmt,
  /// Delete an entry; returns whether it was live.
  pub delete_value: Stmt,
  /// Is there a live entry.
  pub has_value: Stmt,
  /// Delete expired entries.
  pub purge_expired: Stmt,
}

/// UTC wall time now, as the `TIMESTAMP` columns store it.
const NOW_UTC: &str = "(now() AT TIME ZONE 'UTC')";

/// `name` as a double-quoted SQL identifier.
pub fn quote_identifier(name: &str) -> String {
  format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a single-quoted SQL string literal.
pub fn quote_literal(text: &str) -> String {
  format!("'{}'", text.replace('\'', "''"))
}

/// Checks a schema name: 1 to 63 bytes, no NUL. Any other character is allowed (it is quoted).
pub fn check_schema_name(name: &str) -> Result<()> {
  if name.is_empty() || name.len() > MAX_IDENTIFIER_BYTES {
    return Err(Error::config(
      "schema",
      format!("must be 1 to {MAX_IDENTIFIER_BYTES} bytes long, got {}", name.len()),
    ));
  }
  if name.contains('\0') {
    return Err(Error::config("schema", "must not contain the character U+0000"));
  }
  Ok(())
}

fn stmt(text: String, types: &'static [Type]) -> Stmt {
  Stmt { text, types }
}

impl Sql {
  /// SQL for the tables in `schema`, or (when `None`) unqualified names resolved through the
  /// connection's `search_path`, as the original adapter did.
  pub fn new(schema: Option<&str>) -> Self {
    match schema {
      None => Self::with_tables(None, "sessions", "key_value", "'sessions'", "'key_value'"),
      Some(schema) => {
        let quoted = quote_identifier(schema);
        let sessions = format!("{quoted}.sessions");
        let key_value = format!("{quoted}.key_value");
        Self::with_tables(
          Some(&quoted),
          &sessions,
          &key_value,
          &quote_literal(&sessions),
          &quote_literal(&key_value),
        )
      }
    }
  }

  fn with_tables(
    schema: Option<&str>,
    sessions: &str,
    key_value: &str,
    sessions_regclass: &str,
    key_value_regclass: &str,
  ) -> Self {
    let live = format!("(ttl IS NULL OR ttl > {NOW_UTC})");
    let summary = "SELECT id, data->>'state', updated_at, \
       CASE WHEN jsonb_typeof(data->'agentIds') = 'array' THEN jsonb_array_length(data->'agentIds') ELSE 0 END";
    let upsert_tail = format!(
      "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at \
       WHERE {sessions}.version < EXCLUDED.version"
    );
    let create_namespace = match schema {
      Some(quoted) => format!("CREATE SCHEMA IF NOT EXISTS {quoted};"),
      None => String::new(),
    };
    Sql {
      create_schema: format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK_KEY});
         {create_namespace}
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
      save_session: stmt(
        format!(
          "INSERT INTO {sessions} (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) {upsert_tail}"
        ),
        &[Type::TEXT, Type::JSONB, Type::INT4, Type::TIMESTAMP, Type::TIMESTAMP],
      ),
      save_sessions: stmt(
        format!(
          "INSERT INTO {sessions} (id, data, version, created_at, updated_at) \
           SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int4[], $4::timestamp[], $5::timestamp[]) \
           {upsert_tail} RETURNING id"
        ),
        &[
          Type::TEXT_ARRAY,
          Type::JSONB_ARRAY,
          Type::INT4_ARRAY,
          Type::TIMESTAMP_ARRAY,
          Type::TIMESTAMP_ARRAY,
        ],
      ),
      stored_version: stmt(format!("SELECT version FROM {sessions} WHERE id = $1"), &[Type::TEXT]),
      applied_sessions: stmt(
        format!(
          "SELECT count(*) FROM {sessions} s \
           JOIN unnest($1::text[], $2::jsonb[], $3::int4[]) AS i(id, data, version) \
           ON s.id = i.id AND s.version = i.version AND s.data = i.data"
        ),
        &[Type::TEXT_ARRAY, Type::JSONB_ARRAY, Type::INT4_ARRAY],
      ),
      get_session: stmt(format!("SELECT data FROM {sessions} WHERE id = $1"), &[Type::TEXT]),
      get_sessions: stmt(
        format!("SELECT id, data FROM {sessions} WHERE id = ANY($1::text[])"),
        &[Type::TEXT_ARRAY],
      ),
      delete_session: stmt(format!("DELETE FROM {sessions} WHERE id = $1"), &[Type::TEXT]),
      delete_sessions: stmt(
        format!("DELETE FROM {sessions} WHERE id = ANY($1::text[])"),
        &[Type::TEXT_ARRAY],
      ),
      has_session: stmt(
        format!("SELECT EXISTS (SELECT 1 FROM {sessions} WHERE id = $1)"),
        &[Type::TEXT],
      ),
      list_sessions: stmt(
        format!("{summary} FROM {sessions} ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2"),
        &[Type::INT8, Type::INT8],
      ),
      list_sessions_by_state: stmt(
        format!("{summary} FROM {sessions} WHERE data->>'state' = $3 ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2"),
        &[Type::INT8, Type::INT8, Type::TEXT],
      ),
      clear_all: stmt(format!("DELETE FROM {sessions}"), &[]),
      clear_before: stmt(format!("DELETE FROM {sessions} WHERE updated_at < $1"), &[Type::TIMESTAMP]),
      stats: stmt(
        format!(
          "SELECT count(*), \
             count(*) FILTER (WHERE data->>'state' = 'active'), \
             count(*) FILTER (WHERE data->>'state' = 'paused'), \
             count(*) FILTER (WHERE data->>'state' = 'expired'), \
             count(*) FILTER (WHERE data->>'state' = 'invalidated_pending_cleanup'), \
             count(*) FILTER (WHERE data->>'state' = 'closed'), \
             pg_total_relation_size({sessions_regclass}::regclass) + pg_total_relation_size({key_value_regclass}::regclass) \
           FROM {sessions}"
        ),
        &[],
      ),
      set_value: stmt(
        format!(
          "INSERT INTO {key_value} (key, value, ttl, created_at) \
           VALUES ($1, $2, {NOW_UTC} + $3::float8 * interval '1 second', {NOW_UTC}) \
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ttl = EXCLUDED.ttl"
        ),
        &[Type::TEXT, Type::JSONB, Type::FLOAT8],
      ),
      get_value: stmt(
        format!("SELECT value FROM {key_value} WHERE key = $1 AND {live}"),
        &[Type::TEXT],
      ),
      delete_value: stmt(
        format!("DELETE FROM {key_value} WHERE key = $1 RETURNING {live}"),
        &[Type::TEXT],
      ),
      has_value: stmt(
        format!("SELECT EXISTS (SELECT 1 FROM {key_value} WHERE key = $1 AND {live})"),
        &[Type::TEXT],
      ),
      purge_expired: stmt(
        format!("DELETE FROM {key_value} WHERE ttl IS NOT NULL AND ttl <= {NOW_UTC}"),
        &[],
      ),
    }
  }

  /// Every statement that runs as a prepared statement (all but the DDL).
  pub fn statements(&self) -> [&Stmt; 19] {
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
    let sql = Sql::new(None);
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
    assert!(!sql.create_schema.contains("CREATE SCHEMA"));
  }

  #[test]
  fn saves_are_guarded_by_the_version() {
    let sql = Sql::new(None);
    assert!(sql
      .save_session
      .text
      .contains("WHERE sessions.version < EXCLUDED.version"));
    assert!(sql
      .save_sessions
      .text
      .contains("WHERE sessions.version < EXCLUDED.version"));
    assert!(sql.save_sessions.text.contains("unnest("));
  }

  #[test]
  fn every_parameter_has_a_type() {
    for statement in Sql::new(None).statements() {
      let highest = (1..=9)
        .filter(|n| statement.text.contains(&format!("${n}")))
        .max()
        .unwrap_or(0);
      assert_eq!(statement.types.len(), highest, "{}", statement.text);
    }
  }

  #[test]
  fn a_named_schema_is_quoted_everywhere() {
    let sql = Sql::new(Some("tenant \"A\"; DROP"));
    assert!(sql
      .create_schema
      .contains("CREATE SCHEMA IF NOT EXISTS \"tenant \"\"A\"\"; DROP\";"));
    assert!(sql
      .get_session
      .text
      .contains("FROM \"tenant \"\"A\"\"; DROP\".sessions WHERE"));
    assert!(sql
      .stats
      .text
      .contains("pg_total_relation_size('\"tenant \"\"A\"\"; DROP\".sessions'::regclass)"));
    let sql = Sql::new(Some("o'brien"));
    assert!(sql.stats.text.contains("'\"o''brien\".key_value'::regclass"));
  }

  #[test]
  fn schema_names_are_checked() {
    assert!(check_schema_name("tenant_42").is_ok());
    assert!(check_schema_name("Ünïcode-ok").is_ok());
    assert_eq!(check_schema_name("").unwrap_err().code(), "E_CONFIG");
    assert!(check_schema_name(&"x".repeat(64)).is_err());
    assert!(check_schema_name("a\0b").is_err());
  }
}
