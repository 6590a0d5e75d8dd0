//! The schema (exactly the original adapter's) and `initialize`'s DDL: what is missing is created,
//! then every statement is prepared.
//!
//! Timestamps are `TIMESTAMP` (no time zone) holding UTC wall time. Values are bound in binary from
//! UTC instants and "now" is always `now() AT TIME ZONE 'UTC'`, so neither the Node process' `TZ`
//! nor the connection's `TimeZone` setting changes what is stored.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use crate::error::{Error, Result};
use crate::op::Call;
use crate::option_values::Unlogged;
use crate::statement::{Stmt, Tables};
use crate::store::{column, Conn, Store};

/// Key for `pg_advisory_xact_lock`, so concurrent `initialize()` calls do not race on DDL.
const DDL_LOCK_KEY: i64 = 0x5354_4b50_4753_5431; // "STKPGST1"

/// The tables and indexes of the original schema, each with the DDL that makes it.
const SCHEMA_OBJECTS: [(&str, &str); 5] = [
  (
    "sessions",
    "CREATE TABLE IF NOT EXISTS {sessions} (
       id TEXT PRIMARY KEY,
       data JSONB NOT NULL,
       version INTEGER NOT NULL DEFAULT 1,
       created_at TIMESTAMP NOT NULL DEFAULT NOW(),
       updated_at TIMESTAMP NOT NULL DEFAULT NOW()
     )",
  ),
  (
    "key_value",
    "CREATE TABLE IF NOT EXISTS {key_value} (
       key TEXT PRIMARY KEY,
       value JSONB NOT NULL,
       ttl TIMESTAMP,
       created_at TIMESTAMP NOT NULL DEFAULT NOW()
     )",
  ),
  (
    "idx_sessions_state",
    "CREATE INDEX IF NOT EXISTS idx_sessions_state ON {sessions} ((data->>'state'))",
  ),
  (
    "idx_sessions_updated_at",
    "CREATE INDEX IF NOT EXISTS idx_sessions_updated_at ON {sessions} (updated_at)",
  ),
  (
    "idx_key_value_ttl",
    "CREATE INDEX IF NOT EXISTS idx_key_value_ttl ON {key_value} (ttl) WHERE ttl IS NOT NULL",
  ),
];

/// For each table, the statement giving its JSON column the TOAST compression `{method}`: run when
/// `initialize()` creates the table (an existing table is never altered).
const COMPRESSED_COLUMNS: [(&str, &str); 2] = [
  (
    "sessions",
    "ALTER TABLE {sessions} ALTER COLUMN data SET COMPRESSION {method}",
  ),
  (
    "key_value",
    "ALTER TABLE {key_value} ALTER COLUMN value SET COMPRESSION {method}",
  ),
];

/// Indexes of ours, beyond the original schema: created when missing and allowed, never required.
const EXTRA_INDEXES: [(&str, &str); 3] = [
  (
    // Serves listSessions' order (updated_at DESC, id DESC, scanned backwards) and its keyset pages
    // directly, so the plan stays a cheap index scan whatever the table's statistics say.
    "idx_sessions_updated_at_id",
    "CREATE INDEX IF NOT EXISTS idx_sessions_updated_at_id ON {sessions} (updated_at, id)",
  ),
  (
    // Serves deleteExpiredSessions: the sessions whose expiresAt (ISO text) is before a time.
    "idx_sessions_expires_at",
    "CREATE INDEX IF NOT EXISTS idx_sessions_expires_at ON {sessions} (((data->>'expiresAt') COLLATE \"C\"))",
  ),
  (
    // Serves iterateValues' pages and clearValues' prefixes: keys in code-point order, whatever
    // the database's collation.
    "idx_key_value_key_c",
    "CREATE INDEX IF NOT EXISTS idx_key_value_key_c ON {key_value} (key COLLATE \"C\")",
  ),
];

/// The DDL that creates `missing` (names of [`SCHEMA_OBJECTS`]) and, for a named schema, the
/// schema itself, in one implicit transaction under an advisory lock (concurrent
/// `initialize()` calls do not race). A created table's JSON column gets `compression` (a
/// method the server has), if given, and the tables `unlogged` names are created `UNLOGGED`.
pub fn ddl(tables: &Tables, missing: &[String], compression: Option<&str>, unlogged: Unlogged) -> String {
  let mut ddl = format!("SELECT pg_advisory_xact_lock({DDL_LOCK_KEY});");
  if let Some(quoted) = tables.namespace() {
    ddl.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {quoted};"));
  }
  for (name, create) in SCHEMA_OBJECTS {
    if missing.iter().any(|missing| missing == name) {
      let create = if unlogged.table(name) {
        create.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
      } else {
        create.to_string()
      };
      ddl.push_str(&tables.expand(&create));
      ddl.push(';');
      if let Some(method) = compression {
        for (_, alter) in COMPRESSED_COLUMNS.iter().filter(|(table, _)| *table == name) {
          ddl.push_str(&tables.expand_with(alter, &[("{method}", method)]));
          ddl.push(';');
        }
      }
      // A new table gets our indexes in the same transaction.
      for (_, extra) in EXTRA_INDEXES
        .iter()
        .filter(|(_, extra)| extra.contains(&format!(" ON {{{name}}} ")))
      {
        ddl.push_str(&tables.expand(extra));
        ddl.push(';');
      }
    }
  }
  ddl
}

/// Creates what is missing of the schema (or, with `createSchema: false`, says what is missing)
/// and prepares every statement on that connection, so the first call after `initialize()` is
/// as fast as the rest. Nothing is created when everything exists, so a role with only DML
/// rights can initialize.
pub async fn create(store: &Store, tables: &Tables, statements: &[&Stmt], call: Call) -> Result<()> {
  let op = call.op();
  let options = store.options();
  let client = store.client(op).await?;
  let missing = missing_objects(&client, tables, call, &SCHEMA_OBJECTS).await?;
  if !missing.is_empty() {
    if !options.create_schema.0 {
      return Err(Error::Query {
        context: op.to_string(),
        message: format!(
          "the database lacks {} and createSchema is false: create them (see the README's Schema section) \
           or let initialize() create them",
          missing.join(", ")
        ),
        sqlstate: Some(SqlState::UNDEFINED_TABLE.code().to_string()),
      });
    }
    let compression = match options.toast_compression.method() {
      Some(method) if server_has_compression(&client, call, method).await? => Some(method),
      _ => None,
    };
    client
      .batch_execute(&ddl(tables, &missing, compression, options.unlogged))
      .await
      .map_err(|e| Error::from_pg(op, &e))?;
  }
  if options.create_schema.0 {
    for name in missing_objects(&client, tables, call, &EXTRA_INDEXES).await? {
      if let Some((_, create)) = EXTRA_INDEXES.iter().find(|(extra, _)| *extra == name) {
        // Ours, not the original schema's: a role that may not create it still works without it.
        let _ = client.batch_execute(&tables.expand(create)).await;
      }
    }
  }
  // The tables may have been dropped and recreated: forget plans made against the old ones.
  store.forget_prepared_statements();
  if options.statement_cache.0 {
    for stmt in statements {
      store.prepared(&client, stmt, op).await?;
    }
  }
  Ok(())
}

/// Whether the server can compress TOAST data with `method`: servers before 14 have no column
/// compression, and some are built without lz4. They refuse `SET COMPRESSION`, and then the
/// tables keep the server's default.
async fn server_has_compression(client: &impl Conn, call: Call, method: &str) -> Result<bool> {
  let op = call.op();
  let rows = tokio_postgres::GenericClient::query_typed(
    client.pg(),
    "SELECT $1 = ANY(enumvals) AS supported FROM pg_settings WHERE name = 'default_toast_compression'",
    &[(&method, Type::TEXT)],
  )
  .await
  .map_err(|e| Error::from_pg(op, &e))?;
  match rows.first() {
    Some(row) => Ok(column::<Option<bool>>(row, "supported", op)?.unwrap_or(false)),
    None => Ok(false),
  }
}

/// Which of `objects` (tables or indexes, by name) do not exist.
async fn missing_objects(
  client: &impl Conn,
  tables: &Tables,
  call: Call,
  objects: &[(&str, &str)],
) -> Result<Vec<String>> {
  let op = call.op();
  let names: Vec<&str> = objects.iter().map(|(name, _)| *name).collect();
  let qualified: Vec<String> = names.iter().map(|name| tables.qualify(name)).collect();
  let rows = tokio_postgres::GenericClient::query_typed(
    client.pg(),
    "SELECT name FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS o(name, qualified, n) \
     WHERE to_regclass(qualified) IS NULL ORDER BY n",
    &[(&names, Type::TEXT_ARRAY), (&qualified, Type::TEXT_ARRAY)],
  )
  .await
  .map_err(|e| Error::from_pg(op, &e))?;
  rows.iter().map(|row| column::<String>(row, "name", op)).collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn schema_matches_the_original_adapter() {
    let all: Vec<String> = SCHEMA_OBJECTS.iter().map(|(name, _)| name.to_string()).collect();
    let ddl = ddl(&Tables::new(None), &all, None, Unlogged::default());
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
      assert!(ddl.contains(needle), "missing {needle}");
    }
    assert!(!ddl.contains("CREATE SCHEMA"));
    assert!(!ddl.contains("UNLOGGED"));
    assert!(
      ddl.find("idx_key_value_key_c") > ddl.find("CREATE TABLE IF NOT EXISTS key_value"),
      "{ddl}"
    );
  }

  #[test]
  fn only_the_tables_named_unlogged_are_created_unlogged() {
    let all: Vec<String> = SCHEMA_OBJECTS.iter().map(|(name, _)| name.to_string()).collect();
    let unlogged = Unlogged {
      key_value: true,
      sessions: false,
    };
    let ddl = ddl(&Tables::new(None), &all, None, unlogged);
    assert!(ddl.contains("CREATE UNLOGGED TABLE IF NOT EXISTS key_value"), "{ddl}");
    assert!(ddl.contains("CREATE TABLE IF NOT EXISTS sessions"), "{ddl}");
    // An existing table is never converted: nothing is said of a table that is not missing.
    let ddl = super::ddl(&Tables::new(None), &["idx_sessions_state".to_string()], None, unlogged);
    assert!(!ddl.contains("UNLOGGED") && !ddl.contains("key_value"), "{ddl}");
  }

  #[test]
  fn a_created_table_gets_the_compression_and_an_existing_one_is_left_alone() {
    let tables = Tables::new(Some("t"));
    let ddl = super::ddl(&tables, &["sessions".to_string()], Some("lz4"), Unlogged::default());
    assert!(
      ddl.contains("ALTER TABLE \"t\".sessions ALTER COLUMN data SET COMPRESSION lz4;"),
      "{ddl}"
    );
    assert!(!ddl.contains("key_value"), "{ddl}");
    let ddl = super::ddl(
      &tables,
      &["key_value".to_string(), "idx_sessions_state".to_string()],
      Some("pglz"),
      Unlogged::default(),
    );
    assert!(
      ddl.contains("ALTER TABLE \"t\".key_value ALTER COLUMN value SET COMPRESSION pglz;"),
      "{ddl}"
    );
    assert!(!ddl.contains("ALTER TABLE \"t\".sessions"), "{ddl}");
    let all: Vec<String> = SCHEMA_OBJECTS.iter().map(|(name, _)| name.to_string()).collect();
    assert!(!super::ddl(&tables, &all, None, Unlogged::default()).contains("COMPRESSION"));
  }
}
