//! Per-state session counts kept by triggers, so that `getStats()` costs the same at any table
//! size: every insert, delete and state change of a session, by any client (SmallTalk's own
//! TypeScript adapter included), appends a +1 / -1 row to a table of deltas, which the adapter
//! folds into one counter row per state now and then; `getStats()` sums both.
//!
//! - **Append only:** a write adds a delta row and updates nothing, so concurrent writers never
//!   wait for each other, and a bulk load or a `clear()` of a million rows costs a million small
//!   inserts (updating one counter row per write would build version chains that grow with every
//!   row a transaction changes).
//! - **Exact:** deltas are written in the writer's transaction (a rolled-back write counts
//!   nothing), folding moves them into the counters in one transaction, and `getStats()` reads both
//!   in one snapshot. `TRUNCATE` resets them.
//! - **Cheap writes:** a save that keeps the state (most saves) fires no trigger.
//! - **Safe for other roles:** the trigger and folding functions run as their owner
//!   (`SECURITY DEFINER`), so a role with DML rights on `sessions` only still writes; the counts
//!   are readable by every role (as `pg_class.reltuples` already tells the table's size).
//! - Made by `initialize()` when it may create objects (`createSchema`), seeded from the table
//!   under a lock that holds writers back meanwhile; where it may not (or on engines that refuse
//!   triggers on the table, such as Citus' distributed tables), `getStats()` counts the table
//!   itself and says so (`countedBy: 'table'`).

use std::sync::atomic::Ordering;

use tokio_postgres::types::Type;

use std::sync::Arc;

use super::{Sessions, Stats};
use crate::error::{Error, Result};
use crate::op::Call;
use crate::retry::with_client;
use crate::statement::{quote_identifier, Stmt, Tables};
use crate::store::{column, Conn};

/// The states `getStats()` counts one by one; every other state (or none) counts as `other`.
const STATES: [&str; 5] = ["active", "paused", "expired", "invalidated_pending_cleanup", "closed"];

/// The trigger names, each with the events it fires on.
const TRIGGERS: [&str; 3] = [
  "smalltalk_session_states_insert_delete",
  "smalltalk_session_states_update",
  "smalltalk_session_states_truncate",
];

/// Key for `pg_advisory_xact_lock`, so concurrent `initialize()` calls do not race on the counters,
/// and for `pg_try_advisory_xact_lock`, so that one fold runs at a time.
const COUNTERS_LOCK_KEY: i64 = 0x5354_4b50_4753_5432; // "STKPGST2"

/// The counters' tables, functions and triggers, and their seeding from the table as it is.
/// `{schema}` is the sessions table's schema (quoted), `{key:OLD}` / `{key:NEW}` a row's counter
/// key.
const COUNTERS_DDL: &str = "
CREATE TABLE IF NOT EXISTS {schema}.session_state_counts (state text PRIMARY KEY, sessions bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.session_state_deltas (state text NOT NULL, sessions integer NOT NULL);
GRANT SELECT ON {schema}.session_state_counts, {schema}.session_state_deltas TO PUBLIC;
CREATE OR REPLACE FUNCTION {schema}.smalltalk_count_session_states() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {tag}
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO {schema}.session_state_deltas (state, sessions) VALUES ({key:OLD}, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO {schema}.session_state_deltas (state, sessions) VALUES ({key:NEW}, 1);
  END IF;
  RETURN NULL;
END
{tag};
CREATE OR REPLACE FUNCTION {schema}.smalltalk_reset_session_states() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {tag}
BEGIN
  DELETE FROM {schema}.session_state_deltas;
  DELETE FROM {schema}.session_state_counts;
  RETURN NULL;
END
{tag};
CREATE OR REPLACE FUNCTION {schema}.smalltalk_fold_session_states() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {tag}
  WITH moved AS (
    DELETE FROM {schema}.session_state_deltas WHERE pg_try_advisory_xact_lock({lock}) RETURNING state, sessions
  ), folded AS (
    INSERT INTO {schema}.session_state_counts AS c (state, sessions)
      SELECT state, sum(sessions) FROM moved GROUP BY state
      ON CONFLICT (state) DO UPDATE SET sessions = c.sessions + EXCLUDED.sessions
      RETURNING 1
  )
  SELECT count(*) FROM moved
{tag};
DROP TRIGGER IF EXISTS smalltalk_session_states_insert_delete ON {sessions};
DROP TRIGGER IF EXISTS smalltalk_session_states_update ON {sessions};
DROP TRIGGER IF EXISTS smalltalk_session_states_truncate ON {sessions};
CREATE TRIGGER smalltalk_session_states_insert_delete AFTER INSERT OR DELETE ON {sessions}
  FOR EACH ROW EXECUTE FUNCTION {schema}.smalltalk_count_session_states();
CREATE TRIGGER smalltalk_session_states_update AFTER UPDATE ON {sessions}
  FOR EACH ROW WHEN (OLD.data->>'state' IS DISTINCT FROM NEW.data->>'state')
  EXECUTE FUNCTION {schema}.smalltalk_count_session_states();
CREATE TRIGGER smalltalk_session_states_truncate AFTER TRUNCATE ON {sessions}
  FOR EACH STATEMENT EXECUTE FUNCTION {schema}.smalltalk_reset_session_states();
DELETE FROM {schema}.session_state_deltas;
DELETE FROM {schema}.session_state_counts;
SET LOCAL enable_seqscan = off;
INSERT INTO {schema}.session_state_counts (state, sessions)
  SELECT s.state, (SELECT count(*) FROM {sessions} WHERE data->>'state' = s.state) FROM unnest({states}) AS s(state);
INSERT INTO {schema}.session_state_counts (state, sessions)
  SELECT 'other', (SELECT count(*) FROM {sessions}) - (SELECT coalesce(sum(sessions), 0) FROM {schema}.session_state_counts);
";

/// Deltas above which `getStats()` folds them (in the background) before the next one.
const FOLD_ABOVE: i64 = 10_000;

/// The DDL of the counters for the sessions table of `tables`, whose schema is `schema`.
pub fn counters_ddl(tables: &Tables, schema: &str) -> String {
  // The functions' bodies are dollar-quoted with a tag the schema's name cannot end early.
  let mut tag = String::from("$smalltalk$");
  while schema.contains(&tag) || tables.sessions.contains(&tag) {
    tag.insert(tag.len() - 1, '_');
  }
  let quoted_states: Vec<String> = STATES.iter().map(|state| format!("'{state}'")).collect();
  let key = |row: &str| {
    format!(
      "CASE WHEN {row}.data->>'state' IN ({}) THEN {row}.data->>'state' ELSE 'other' END",
      quoted_states.join(", ")
    )
  };
  let (old_key, new_key) = (key("OLD"), key("NEW"));
  let states = format!("ARRAY[{}]::text[]", quoted_states.join(", "));
  let lock = COUNTERS_LOCK_KEY.to_string();
  let schema = quote_identifier(schema);
  tables.expand_with(
    COUNTERS_DDL,
    &[
      ("{schema}", &schema),
      ("{key:OLD}", &old_key),
      ("{key:NEW}", &new_key),
      ("{states}", &states),
      ("{lock}", &lock),
      ("{tag}", &tag),
    ],
  )
}

/// `getStats()` from the counters and the deltas not folded yet: `ok` is false (and the counts
/// are not to be trusted) when a trigger is missing or disabled; `deltas` says how many wait.
pub fn counted_stats(tables: &Tables) -> Stmt {
  let mut text = format!(
    "SELECT (SELECT count(*) = {} FROM pg_trigger WHERE tgrelid = $1::regclass AND tgenabled <> 'D' \
     AND tgname IN ({})) AS ok, count(*) FILTER (WHERE delta) AS deltas, coalesce(sum(sessions), 0)::int8 AS total",
    TRIGGERS.len(),
    TRIGGERS.map(|name| format!("'{name}'")).join(", ")
  );
  for state in STATES {
    text.push_str(&format!(
      ", coalesce(sum(sessions) FILTER (WHERE state = '{state}'), 0)::int8 AS {state}"
    ));
  }
  text.push_str(
    ", pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS size_bytes \
     FROM (SELECT state, sessions, false AS delta FROM {state_counts} \
     UNION ALL SELECT state, sessions, true FROM {state_deltas}) AS counted",
  );
  Stmt::new(tables, &text, &[Type::TEXT, Type::TEXT])
}

impl Sessions {
  /// `getStats()`' counts from the counters, or `None` when a trigger is missing or disabled.
  pub(super) async fn counted(self: &Arc<Self>, call: Call) -> Result<Option<Stats>> {
    let store = &self.store;
    let op = call.op();
    let tables = &self.tables;
    let row = with_client!(store, op, |client| async {
      store
        .query_opt(&client, &self.counted_stats, &[&tables.sessions, &tables.key_value], op)
        .await
    })?;
    match row {
      Some(row) if column::<bool>(&row, "ok", op)? => {
        if column::<i64>(&row, "deltas", op)? > FOLD_ABOVE {
          self.fold_later();
        }
        Ok(Some(Stats::from_row(&row, "counters", op)?))
      }
      _ => Ok(None),
    }
  }

  /// Folds the deltas into the counters (one fold at a time across every client; a no-op while
  /// another runs), when the counters are in place: keeps `getStats()` reading a few rows.
  pub async fn fold_counters(&self, call: Call) -> Result<()> {
    if !self.counted.load(Ordering::Relaxed) {
      return Ok(());
    }
    let store = &self.store;
    let op = call.op();
    with_client!(store, op, |client, attempt| async {
      store.write(&client, attempt, &self.fold, &[], op).await.map(|_| ())
    })
  }

  /// [`fold_counters`](Self::fold_counters) in the background.
  fn fold_later(self: &Arc<Self>) {
    let sessions = self.clone();
    tokio::spawn(async move {
      // A failed fold leaves the deltas for the next one; the counts stay exact either way.
      let _ = sessions.fold_counters(Call::GET_STATS).await;
    });
  }

  /// Makes sure the counters are in place (creating them when `create` allows), and returns
  /// whether they are. A failure to create them (no right to, or an engine that refuses) is not
  /// an error: `getStats()` then counts the table.
  pub async fn prepare_counters(&self, call: Call, create: bool) -> Result<bool> {
    let op = call.op();
    let client = self.store.client(op).await?;
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    let row = tokio_postgres::GenericClient::query_typed(
      client.pg(),
      "SELECT n.nspname AS schema, to_regclass($2) IS NOT NULL AS counted, \
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled <> 'D' AND t.tgname = ANY($3)) AS triggers \
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
      &[
        (&self.tables.sessions, Type::TEXT),
        (&self.tables.qualify("session_state_counts"), Type::TEXT),
        (&TRIGGERS.as_slice(), Type::TEXT_ARRAY),
      ],
    )
    .await
    .map_err(pg_error)?
    .into_iter()
    .next();
    let Some(row) = row else {
      return Ok(false);
    };
    let in_place =
      column::<bool>(&row, "counted", op)? && column::<i64>(&row, "triggers", op)? == TRIGGERS.len() as i64;
    if in_place || !create {
      self.counted.store(in_place, Ordering::Relaxed);
      return Ok(in_place);
    }
    let schema: String = column(&row, "schema", op)?;
    let ddl = format!(
      "BEGIN; SELECT pg_advisory_xact_lock({COUNTERS_LOCK_KEY}); LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE; {} COMMIT",
      self.tables.sessions,
      counters_ddl(&self.tables, &schema)
    );
    let created = match client.batch_execute(&ddl).await {
      Ok(()) => true,
      Err(error) if error.as_db_error().is_some() => {
        client.batch_execute("ROLLBACK").await.map_err(pg_error)?;
        false
      }
      Err(error) => return Err(pg_error(error)),
    };
    self.counted.store(created, Ordering::Relaxed);
    Ok(created)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_counters_count_the_known_states_and_the_rest_as_other() {
    let ddl = counters_ddl(&Tables::new(Some("t")), "t");
    assert!(ddl.contains("CREATE TABLE IF NOT EXISTS \"t\".session_state_counts"));
    assert!(ddl.contains("AFTER UPDATE ON \"t\".sessions"));
    assert!(ddl.contains("WHEN (OLD.data->>'state' IS DISTINCT FROM NEW.data->>'state')"));
    assert!(ddl.contains("THEN NEW.data->>'state' ELSE 'other' END"));
    assert!(ddl.contains("SECURITY DEFINER"));
    assert!(ddl.contains("pg_try_advisory_xact_lock(6004507011357824050)"), "{ddl}");
    assert!(!ddl.contains('{'), "{ddl}");
    for trigger in TRIGGERS {
      assert!(ddl.contains(&format!("CREATE TRIGGER {trigger} ")), "{trigger}");
    }
  }

  #[test]
  fn a_schema_name_holding_the_dollar_quote_tag_cannot_end_a_function_body() {
    let schema = "x$smalltalk$; DROP TABLE y; --";
    let ddl = counters_ddl(&Tables::new(Some(schema)), schema);
    assert!(ddl.contains("AS $smalltalk_$"), "{ddl}");
    // Every body opens and closes with the tag, which appears nowhere else.
    assert_eq!(ddl.matches("$smalltalk_$").count(), 6, "{ddl}");
  }

  #[test]
  fn the_counted_stats_name_every_column_getstats_reads() {
    let stmt = counted_stats(&Tables::new(None));
    for name in ["ok", "deltas", "total", "size_bytes"].iter().chain(STATES.iter()) {
      assert!(stmt.text.contains(&format!("AS {name}")), "{name}: {}", stmt.text);
    }
    assert!(stmt.text.contains("FROM session_state_counts UNION ALL"));
    assert!(stmt.text.ends_with("FROM session_state_deltas) AS counted"));
  }
}
