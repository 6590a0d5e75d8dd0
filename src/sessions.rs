//! Session queries, single and batch. Session JSON passes through as text (see `jsonb.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::Object;
use tokio::time::Instant;

use tokio_postgres::types::ToSql;

use crate::coalesce::{Coalescer, Served, Work};
use crate::error::{Error, Result};
use crate::jsonb::{JsonText, RawJson};
use crate::retry::{with_client, Attempt};
use crate::schema::statements;
use crate::store::{column, Call, Conn, Op, Store};

/// The summary columns of `listSessions`: id, state, updatedAt, agentCount.
macro_rules! summary {
  () => {
    "SELECT id, data->>'state' AS state, updated_at, \
     CASE WHEN jsonb_typeof(data->'agentIds') = 'array' THEN jsonb_array_length(data->'agentIds') ELSE 0 END AS agent_count \
     FROM {sessions}"
  };
}

/// The version guard of every save: a row is replaced only by a newer version.
macro_rules! upsert_guard {
  () => {
    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at \
     WHERE {sessions}.version < EXCLUDED.version"
  };
}

statements! {
  /// The session statements.
  pub struct SessionSql {
    /// Upsert guarded by the version: affects 1 row when accepted, 0 on a version conflict.
    save_session(TEXT, JSONB, INT4, TIMESTAMP, TIMESTAMP) = concat!(
      "INSERT INTO {sessions} (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
      upsert_guard!()
    );
    /// Batch upsert from arrays; returns the ids it wrote.
    save_sessions(TEXT_ARRAY, JSONB_ARRAY, INT4_ARRAY, TIMESTAMP_ARRAY, TIMESTAMP_ARRAY) = concat!(
      "INSERT INTO {sessions} (id, data, version, created_at, updated_at) \
       SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int4[], $4::timestamp[], $5::timestamp[])",
      upsert_guard!(),
      " RETURNING id"
    );
    /// Stored version of one session.
    stored_version(TEXT) = "SELECT version FROM {sessions} WHERE id = $1";
    /// Stored versions of several sessions, and whether each is stored with exactly this data.
    stored_versions(TEXT_ARRAY, JSONB_ARRAY) = "SELECT id, s.version, s.data = i.data AS same FROM {sessions} s \
       JOIN unnest($1::text[], $2::jsonb[]) AS i(id, data) USING (id)";
    /// How many of the given (id, data, version) triples are stored exactly so: tells, after a
    /// lost connection, whether an earlier attempt of the same save was committed.
    applied_sessions(TEXT_ARRAY, JSONB_ARRAY, INT4_ARRAY) = "SELECT count(*) AS matching FROM {sessions} s \
       JOIN unnest($1::text[], $2::jsonb[], $3::int4[]) AS i(id, data, version) \
       ON s.id = i.id AND s.version = i.version AND s.data = i.data";
    /// One session's JSON.
    get_session(TEXT) = "SELECT data FROM {sessions} WHERE id = $1";
    /// Many sessions' ids and JSON.
    get_sessions(TEXT_ARRAY) = "SELECT id, data FROM {sessions} WHERE id = ANY($1::text[])";
    /// Delete one session.
    delete_session(TEXT) = "DELETE FROM {sessions} WHERE id = $1";
    /// Delete many sessions.
    delete_sessions(TEXT_ARRAY) = "DELETE FROM {sessions} WHERE id = ANY($1::text[])";
    /// Does a session exist.
    has_session(TEXT) = "SELECT EXISTS (SELECT 1 FROM {sessions} WHERE id = $1) AS found";
    /// Which of several sessions exist.
    existing_ids(TEXT_ARRAY) = "SELECT id FROM {sessions} WHERE id = ANY($1::text[])";
    /// Summaries, newest first.
    list_sessions(INT8, INT8) = concat!(summary!(), " ORDER BY updated_at DESC, id DESC LIMIT $1 OFFSET $2");
    /// Summaries in one state, newest first.
    list_sessions_by_state(INT8, INT8, TEXT) = concat!(
      summary!(),
      " WHERE data->>'state' = $3 ORDER BY updated_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    /// Delete every session.
    clear_all() = "DELETE FROM {sessions}";
    /// Delete sessions updated before a time.
    clear_before(TIMESTAMP) = "DELETE FROM {sessions} WHERE updated_at < $1";
    /// Counts and sizes for `getStats`; `$1`/`$2` are the tables' names as identifiers (bound,
    /// never spliced into a string literal). Run with sequential scans off (see `stats()`), each
    /// state is counted from idx_sessions_state without reading (or detoasting) a session.
    stats(TEXT, TEXT) = "SELECT (SELECT count(*) FROM {sessions}) AS total, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'active') AS active, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'paused') AS paused, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'expired') AS expired, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'invalidated_pending_cleanup') AS invalidated_pending_cleanup, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'closed') AS closed, \
       pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS size_bytes";
    /// The first page of `iterateSessions`: newest first, at most `$1`.
    page(INT8) = "SELECT id, updated_at, data FROM {sessions} ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// A later page: the rows after the cursor `($2, $3)` in the same order (keyset: constant cost
    /// at any depth, through idx_sessions_updated_at_id).
    page_after(INT8, TIMESTAMP, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// The first page of `iterateSessions({ state })`.
    page_in_state(INT8, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE data->>'state' = $2 ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// A later page of `iterateSessions({ state })`.
    page_in_state_after(INT8, TEXT, TIMESTAMP, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE data->>'state' = $2 AND (updated_at, id) < ($3, $4) ORDER BY updated_at DESC, id DESC LIMIT $1";
  }
}

/// How often a save retries when the row it conflicted with vanished before its version was read.
const CONFLICT_RETRIES: usize = 3;

/// One session to write: the columns the table mirrors, plus its serialized JSON.
#[derive(Debug, Clone)]
pub struct SessionInput {
  /// Session id (primary key).
  pub id: String,
  /// `JSON.stringify` of the session, Dates as ISO strings.
  pub json: String,
  /// Optimistic-lock version (>= 1).
  pub version: i32,
  /// `createdAt` as an instant.
  pub created_at: SystemTime,
  /// `updatedAt` as an instant.
  pub updated_at: SystemTime,
}

/// Session counts and table sizes for `getStats`, decoded by column name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
  /// All sessions.
  pub total: i64,
  /// Sessions in state `active`.
  pub active: i64,
  /// Sessions in state `paused`.
  pub paused: i64,
  /// Sessions in state `expired`.
  pub expired: i64,
  /// Sessions in state `invalidated_pending_cleanup`.
  pub invalidated_pending_cleanup: i64,
  /// Sessions in state `closed`.
  pub closed: i64,
  /// Bytes used by both tables, indexes and TOAST included.
  pub size_bytes: i64,
}

/// Milliseconds since the Unix epoch (a JS `Date`'s value) to an instant.
pub fn instant_from_ms(field: &str, ms: f64) -> Result<SystemTime> {
  // JS Dates span +-8.64e15 ms; anything else (NaN, Infinity) is not a valid Date.
  if !ms.is_finite() || ms.abs() > 8.64e15 {
    return Err(Error::validation(field, format!("{field} must be a valid Date")));
  }
  let offset = Duration::from_micros((ms.abs() * 1000.0).round() as u64);
  Ok(if ms >= 0.0 {
    UNIX_EPOCH + offset
  } else {
    UNIX_EPOCH - offset
  })
}

/// Microseconds since the Unix epoch (a page cursor) to an instant.
fn instant_from_micros(micros: i64) -> Option<SystemTime> {
  let offset = Duration::from_micros(micros.unsigned_abs());
  if micros >= 0 {
    UNIX_EPOCH.checked_add(offset)
  } else {
    UNIX_EPOCH.checked_sub(offset)
  }
}

/// An instant to microseconds since the Unix epoch (a page cursor, exact for `TIMESTAMP`).
fn micros_from_instant(instant: SystemTime) -> i64 {
  match instant.duration_since(UNIX_EPOCH) {
    Ok(after) => after.as_micros() as i64,
    Err(before) => -(before.duration().as_micros() as i64),
  }
}

/// An instant to whole milliseconds since the Unix epoch.
pub fn ms_from_instant(instant: SystemTime) -> i64 {
  match instant.duration_since(UNIX_EPOCH) {
    Ok(after) => (after.as_micros() / 1000) as i64,
    Err(before) => -(before.duration().as_micros().div_ceil(1000) as i64),
  }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
  match serde_json::to_string(text) {
    Ok(quoted) => out.push_str(&quoted),
    // Serializing a &str cannot fail; keep the output valid JSON regardless.
    Err(_) => out.push_str("null"),
  }
}

impl Store {
  /// Upserts one session if its version is newer than the stored one; otherwise `E_CONFLICT`.
  /// Saves of one id are applied in call order (each waits for the one before it to finish). Run
  /// again on a lost connection; a rerun that finds this very save already stored succeeds. While
  /// the pool is busy it is saved with the concurrent saves of other sessions.
  pub async fn save_session(self: &Arc<Self>, call: Call, session: SessionInput) -> Result<()> {
    let deadline = self.deadline();
    let Ok(_turn) = tokio::time::timeout_at(deadline, self.turns.take(&session.id)).await else {
      return Err(self.deadline_passed(call.on(&session.id)));
    };
    if let Some(queues) = self.queues_if_busy() {
      return queues.save_session.join(self, SaveSession(session), deadline).await;
    }
    self.save_alone(call, &session, deadline).await
  }

  /// One save on a connection of its own, by `deadline`.
  async fn save_alone(&self, call: Call, session: &SessionInput, deadline: Instant) -> Result<()> {
    let op = call.on(&session.id);
    with_client!(self, op, deadline, None, |client, attempt| async {
      self.save_one(&client, session, attempt, op).await
    })
  }

  /// One version-guarded upsert on `client`; `attempt.number > 1` when an earlier attempt may
  /// have committed it before its connection was lost.
  async fn save_one(&self, client: &Object, session: &SessionInput, attempt: &Attempt, op: Op<'_>) -> Result<()> {
    let sql = &self.sql.sessions;
    for _ in 0..CONFLICT_RETRIES {
      let params: [&(dyn ToSql + Sync); 5] = [
        &session.id,
        &JsonText(&session.json),
        &session.version,
        &session.created_at,
        &session.updated_at,
      ];
      if self.write(client, attempt, &sql.save_session, &params, op).await?.count == 1 {
        return Ok(());
      }
      if attempt.number > 1 && self.already_applied(client, std::slice::from_ref(session), op).await? {
        return Ok(());
      }
      let stored = self.query_opt(client, &sql.stored_version, &[&session.id], op).await?;
      if let Some(row) = stored {
        return Err(Error::Conflict {
          id: session.id.clone(),
          attempted: i64::from(session.version),
          stored: i64::from(column::<i32>(&row, "version", op)?),
        });
      }
      // The conflicting row was deleted in between: the next attempt inserts.
    }
    Err(Error::Query {
      context: op.to_string(),
      message: "the session kept changing concurrently; try again".into(),
      sqlstate: None,
    })
  }

  /// Saves concurrent `saveSession` calls with one version-guarded upsert (rows locked in id
  /// order) that waits at most `attempt.lock_wait` for a lock: each caller gets its own outcome, a
  /// conflict fails only its own call, and if the statement fails for another reason (a bad row,
  /// a locked row) each session is saved on its own, a locked one alone by its own deadline.
  async fn save_group(&self, client: &Object, group: &[SaveSession], attempt: &Attempt) -> Result<Vec<Served<()>>> {
    let call = Call(SaveSession::METHOD);
    let op = call.op();
    let mut in_id_order: Vec<&SessionInput> = group.iter().map(|save| &save.0).collect();
    in_id_order.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = in_id_order.iter().map(|s| s.id.as_str()).collect();
    let jsons: Vec<JsonText<'_>> = in_id_order.iter().map(|s| JsonText(&s.json)).collect();
    let versions: Vec<i32> = in_id_order.iter().map(|s| s.version).collect();
    let created: Vec<SystemTime> = in_id_order.iter().map(|s| s.created_at).collect();
    let updated: Vec<SystemTime> = in_id_order.iter().map(|s| s.updated_at).collect();
    let sql = &self.sql.sessions;
    let rows = match self
      .write(
        client,
        attempt,
        &sql.save_sessions,
        &[&ids, &jsons, &versions, &created, &updated],
        op,
      )
      .await
    {
      Ok(written) => written.rows,
      Err(error) if error.is_connection_loss() || error.is_transient() => return Err(error),
      Err(_) => {
        // One bad or locked row fails the statement (and writes nothing): save each on its own,
        // so that it fails or waits only for its own call.
        let mut outcomes = Vec::with_capacity(group.len());
        for save in group {
          let outcome = self.save_one(client, &save.0, attempt, call.on(&save.0.id)).await;
          outcomes.push(Served::member(outcome)?);
        }
        return Ok(outcomes);
      }
    };
    let written: HashSet<&str> = rows
      .iter()
      .filter_map(|row| row.try_get::<_, &str>("id").ok())
      .collect();
    let refused: Vec<&SessionInput> = group
      .iter()
      .map(|save| &save.0)
      .filter(|session| !written.contains(session.id.as_str()))
      .collect();
    let mut stored: HashMap<String, (i32, bool)> = HashMap::new();
    if !refused.is_empty() {
      let refused_ids: Vec<&str> = refused.iter().map(|s| s.id.as_str()).collect();
      let refused_jsons: Vec<JsonText<'_>> = refused.iter().map(|s| JsonText(&s.json)).collect();
      for row in self
        .query(client, &sql.stored_versions, &[&refused_ids, &refused_jsons], op)
        .await?
      {
        stored.insert(
          column(&row, "id", op)?,
          (column(&row, "version", op)?, column(&row, "same", op)?),
        );
      }
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for save in group {
      let session = &save.0;
      outcomes.push(if written.contains(session.id.as_str()) {
        Served::Done(Ok(()))
      } else {
        match stored.get(&session.id) {
          // A rerun after a lost connection finds its own earlier commit.
          Some(&(version, true)) if attempt.number > 1 && version == session.version => Served::Done(Ok(())),
          Some(&(version, _)) => Served::Done(Err(Error::Conflict {
            id: session.id.clone(),
            attempted: i64::from(session.version),
            stored: i64::from(version),
          })),
          // Deleted between the upsert and the look-up: save it on its own.
          None => Served::member(self.save_one(client, session, attempt, call.on(&session.id)).await)?,
        }
      });
    }
    Ok(outcomes)
  }

  /// Whether every session in `sessions` is stored with exactly this version and data.
  async fn already_applied(&self, client: &impl Conn, sessions: &[SessionInput], op: Op<'_>) -> Result<bool> {
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let jsons: Vec<JsonText<'_>> = sessions.iter().map(|s| JsonText(&s.json)).collect();
    let versions: Vec<i32> = sessions.iter().map(|s| s.version).collect();
    let rows = self
      .query(
        client,
        &self.sql.sessions.applied_sessions,
        &[&ids, &jsons, &versions],
        op,
      )
      .await?;
    let matching: i64 = match rows.first() {
      Some(row) => column(row, "matching", op)?,
      None => 0,
    };
    Ok(matching == sessions.len() as i64)
  }

  /// Saves all sessions in one transaction (one upsert from arrays) or none of them.
  pub async fn save_sessions(&self, call: Call, sessions: &[SessionInput]) -> Result<u32> {
    if sessions.is_empty() {
      return Ok(0);
    }
    let op = call.op();
    // Rows are locked in id order, whatever the caller's order, so that two batches sharing ids
    // cannot deadlock; errors still name sessions in the caller's order.
    let mut in_id_order: Vec<&SessionInput> = sessions.iter().collect();
    in_id_order.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = in_id_order.iter().map(|s| s.id.as_str()).collect();
    let jsons: Vec<JsonText<'_>> = in_id_order.iter().map(|s| JsonText(&s.json)).collect();
    let versions: Vec<i32> = in_id_order.iter().map(|s| s.version).collect();
    let created: Vec<SystemTime> = in_id_order.iter().map(|s| s.created_at).collect();
    let updated: Vec<SystemTime> = in_id_order.iter().map(|s| s.updated_at).collect();

    with_client!(self, op, |client, attempt| async {
      let written = self
        .write_begun(
          &client,
          attempt,
          &self.sql.sessions.save_sessions,
          &[&ids, &jsons, &versions, &created, &updated],
          op,
        )
        .await?;
      if written.rows.len() == sessions.len() {
        self.end_write(&client, true, op).await?;
        return Ok(sessions.len() as u32);
      }
      // Nothing of this batch may be written: decide what to report, then roll back.
      let outcome = async {
        if attempt.number > 1 && self.already_applied(&client, sessions, op).await? {
          Ok(sessions.len() as u32)
        } else {
          Err(self.batch_conflict(&client, call, sessions, &written.rows).await?)
        }
      }
      .await;
      self.end_write(&client, false, op).await?;
      outcome
    })
  }

  /// The conflict error naming the first session of the batch that was not written.
  async fn batch_conflict(
    &self,
    client: &impl Conn,
    call: Call,
    sessions: &[SessionInput],
    written: &[tokio_postgres::Row],
  ) -> Result<Error> {
    let written: HashSet<&str> = written
      .iter()
      .filter_map(|row| row.try_get::<_, &str>("id").ok())
      .collect();
    let Some(session) = sessions.iter().find(|s| !written.contains(s.id.as_str())) else {
      return Ok(Error::Query {
        context: call.op().to_string(),
        message: format!("wrote {} of {} sessions", written.len(), sessions.len()),
        sqlstate: None,
      });
    };
    let op = call.on(&session.id);
    let stored = self
      .query_opt(client, &self.sql.sessions.stored_version, &[&session.id], op)
      .await?;
    Ok(Error::Conflict {
      id: session.id.clone(),
      attempted: i64::from(session.version),
      stored: match stored {
        Some(row) => i64::from(column::<i32>(&row, "version", op)?),
        None => 0,
      },
    })
  }

  /// One session's JSON, or `None`. While the pool is busy it is read with the concurrent reads.
  pub async fn get_session(self: &Arc<Self>, call: Call, id: String) -> Result<Option<String>> {
    if let Some(queues) = self.queues_if_busy() {
      return queues.get_session.join(self, GetSession(id), self.deadline()).await;
    }
    let op = call.on(&id);
    with_client!(self, op, |client| async {
      match self
        .query_opt(&client, &self.sql.sessions.get_session, &[&id], op)
        .await?
      {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, "data", op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// The found sessions as `[id, json, id, json, ...]`: one string per session, so the JS side
  /// can parse a large batch a slice at a time.
  pub async fn get_sessions(&self, call: Call, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
      return Ok(Vec::new());
    }
    let op = call.op();
    let rows = with_client!(self, op, |client| async {
      self.query(&client, &self.sql.sessions.get_sessions, &[&ids], op).await
    })?;
    let mut out = Vec::with_capacity(rows.len() * 2);
    for row in &rows {
      out.push(column::<&str>(row, "id", op)?.to_owned());
      out.push(column::<RawJson<'_>>(row, "data", op)?.0.to_owned());
    }
    Ok(out)
  }

  /// Deletes one session; true when a row was deleted. Applied in call order with the saves of
  /// the same id.
  pub async fn delete_session(&self, call: Call, id: &str) -> Result<bool> {
    let op = call.on(id);
    let deadline = self.deadline();
    let Ok(_turn) = tokio::time::timeout_at(deadline, self.turns.take(id)).await else {
      return Err(self.deadline_passed(op));
    };
    with_client!(self, op, deadline, None, |client, attempt| async {
      let sql = &self.sql.sessions;
      Ok(
        self
          .write(&client, attempt, &sql.delete_session, &[&id], op)
          .await?
          .count
          > 0,
      )
    })
  }

  /// Deletes many sessions in one statement; the number deleted.
  pub async fn delete_sessions(&self, call: Call, ids: &[String]) -> Result<u64> {
    if ids.is_empty() {
      return Ok(0);
    }
    let op = call.op();
    with_client!(self, op, |client, attempt| async {
      let sql = &self.sql.sessions;
      Ok(
        self
          .write(&client, attempt, &sql.delete_sessions, &[&ids], op)
          .await?
          .count,
      )
    })
  }

  /// Whether a session exists. While the pool is busy it is asked with the concurrent calls.
  pub async fn has_session(self: &Arc<Self>, call: Call, id: String) -> Result<bool> {
    if let Some(queues) = self.queues_if_busy() {
      return queues.has_session.join(self, HasSession(id), self.deadline()).await;
    }
    let op = call.on(&id);
    with_client!(self, op, |client| async {
      match self
        .query_opt(&client, &self.sql.sessions.has_session, &[&id], op)
        .await?
      {
        Some(row) => column(&row, "found", op),
        None => Ok(false),
      }
    })
  }

  /// Summaries, newest `updatedAt` first, as a JSON array of `{id, state, updatedAt, agentCount}`
  /// with `updatedAt` in epoch milliseconds.
  pub async fn list_sessions(
    &self,
    call: Call,
    state: Option<&str>,
    limit: Option<i64>,
    offset: Option<i64>,
  ) -> Result<String> {
    let op = call.op();
    let sql = &self.sql.sessions;
    let rows = with_client!(self, op, |client| async {
      match state {
        Some(state) => {
          self
            .query(&client, &sql.list_sessions_by_state, &[&limit, &offset, &state], op)
            .await
        }
        None => self.query(&client, &sql.list_sessions, &[&limit, &offset], op).await,
      }
    })?;
    let mut out = String::with_capacity(2 + rows.len() * 96);
    out.push('[');
    for (index, row) in rows.iter().enumerate() {
      let id: &str = column(row, "id", op)?;
      let state: Option<&str> = column(row, "state", op)?;
      let updated_at: SystemTime = column(row, "updated_at", op)?;
      let agent_count: i32 = column(row, "agent_count", op)?;
      if index > 0 {
        out.push(',');
      }
      out.push_str("{\"id\":");
      push_json_string(&mut out, id);
      out.push_str(",\"state\":");
      match state {
        Some(state) => push_json_string(&mut out, state),
        None => out.push_str("null"),
      }
      out.push_str(",\"updatedAt\":");
      out.push_str(&ms_from_instant(updated_at).to_string());
      out.push_str(",\"agentCount\":");
      out.push_str(&agent_count.to_string());
      out.push('}');
    }
    out.push(']');
    Ok(out)
  }

  /// Deletes all sessions, or those updated before `before`; the number deleted.
  pub async fn clear(&self, call: Call, before: Option<SystemTime>) -> Result<u64> {
    let op = call.op();
    let sql = &self.sql.sessions;
    with_client!(self, op, |client, attempt| async {
      let written = match before {
        Some(before) => self.write(&client, attempt, &sql.clear_before, &[&before], op).await?,
        None => self.write(&client, attempt, &sql.clear_all, &[], op).await?,
      };
      Ok(written.count)
    })
  }

  /// Counts per state and the tables' size, exact. In a transaction with sequential scans off:
  /// a plan that counts states by reading every session would detoast each large one.
  pub async fn stats(&self, call: Call) -> Result<Stats> {
    let op = call.op();
    let tables = &self.sql.tables;
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    let row = with_client!(self, op, |client| async {
      client
        .batch_execute("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL work_mem = '64MB'")
        .await
        .map_err(pg_error)?;
      let rows = self
        .query(
          &client,
          &self.sql.sessions.stats,
          &[&tables.sessions, &tables.key_value],
          op,
        )
        .await;
      // Ends the transaction either way (COMMIT of a failed one rolls it back).
      let ended = client.batch_execute("COMMIT").await.map_err(pg_error);
      let rows = rows?;
      ended?;
      Ok(rows.into_iter().next())
    })?;
    let Some(row) = row else {
      return Ok(Stats::default());
    };
    Ok(Stats {
      total: column(&row, "total", op)?,
      active: column(&row, "active", op)?,
      paused: column(&row, "paused", op)?,
      expired: column(&row, "expired", op)?,
      invalidated_pending_cleanup: column(&row, "invalidated_pending_cleanup", op)?,
      closed: column(&row, "closed", op)?,
      size_bytes: column(&row, "size_bytes", op)?,
    })
  }

  /// One page of `iterateSessions`, newest `updatedAt` first, after `cursor` (the last row of the
  /// previous page: its `updated_at` in microseconds since the epoch, and its id). Returns the
  /// next cursor (empty strings when this was the last page) followed by each session's JSON.
  pub async fn page(
    &self,
    call: Call,
    state: Option<&str>,
    limit: i64,
    cursor: Option<(&str, &str)>,
  ) -> Result<Vec<String>> {
    let op = call.op();
    let after = match cursor {
      Some((micros, id)) => {
        let at =
          micros.parse().ok().and_then(instant_from_micros).ok_or_else(|| {
            Error::validation("cursor", "iterateSessions: the page cursor is not one the adapter made")
          })?;
        Some((at, id))
      }
      None => None,
    };
    let sql = &self.sql.sessions;
    let rows = with_client!(self, op, |client| async {
      match (state, &after) {
        (None, None) => self.query(&client, &sql.page, &[&limit], op).await,
        (None, Some((at, id))) => self.query(&client, &sql.page_after, &[&limit, at, id], op).await,
        (Some(state), None) => self.query(&client, &sql.page_in_state, &[&limit, &state], op).await,
        (Some(state), Some((at, id))) => {
          self
            .query(&client, &sql.page_in_state_after, &[&limit, &state, at, id], op)
            .await
        }
      }
    })?;
    let mut out = Vec::with_capacity(rows.len() + 2);
    match rows.last() {
      Some(last) if rows.len() as i64 == limit => {
        out.push(micros_from_instant(column(last, "updated_at", op)?).to_string());
        out.push(column::<&str>(last, "id", op)?.to_string());
      }
      _ => {
        out.push(String::new());
        out.push(String::new());
      }
    }
    for row in &rows {
      out.push(column::<RawJson<'_>>(row, "data", op)?.0.to_owned());
    }
    Ok(out)
  }
}

/// A `getSession` call, served in a group of concurrent ones.
pub struct GetSession(pub String);

impl Work for GetSession {
  type Output = Option<String>;
  const METHOD: &'static str = "getSession";

  fn queue(store: &Store) -> Option<&Coalescer<Self>> {
    store.queues.as_ref().map(|queues| &queues.get_session)
  }

  async fn serve(
    store: &Store,
    client: &Object,
    group: &[Self],
    _attempt: &Attempt,
  ) -> Result<Vec<Served<Self::Output>>> {
    let ids: Vec<&str> = group.iter().map(|get| get.0.as_str()).collect();
    let op = Call(Self::METHOD).op();
    store
      .json_by_key(client, &store.sql.sessions.get_sessions, &ids, ("id", "data"), op)
      .await
      .map(Served::all_done)
  }
}

/// A `hasSession` call, served in a group of concurrent ones.
pub struct HasSession(pub String);

impl Work for HasSession {
  type Output = bool;
  const METHOD: &'static str = "hasSession";

  fn queue(store: &Store) -> Option<&Coalescer<Self>> {
    store.queues.as_ref().map(|queues| &queues.has_session)
  }

  async fn serve(
    store: &Store,
    client: &Object,
    group: &[Self],
    _attempt: &Attempt,
  ) -> Result<Vec<Served<Self::Output>>> {
    let op = Call(Self::METHOD).op();
    let ids: Vec<&str> = group.iter().map(|has| has.0.as_str()).collect();
    let rows = store
      .query(client, &store.sql.sessions.existing_ids, &[&ids], op)
      .await?;
    let existing: HashSet<&str> = rows
      .iter()
      .filter_map(|row| row.try_get::<_, &str>("id").ok())
      .collect();
    Ok(
      group
        .iter()
        .map(|has| Served::Done(Ok(existing.contains(has.0.as_str()))))
        .collect(),
    )
  }
}

/// Largest total of session JSON one group of saves sends.
const MAX_SAVE_GROUP_BYTES: usize = 16 << 20;

/// A `saveSession` call, saved in a group of concurrent saves of other sessions.
pub struct SaveSession(pub SessionInput);

impl Work for SaveSession {
  type Output = ();
  const METHOD: &'static str = "saveSession";

  fn queue(store: &Store) -> Option<&Coalescer<Self>> {
    store.queues.as_ref().map(|queues| &queues.save_session)
  }

  /// Two saves of one id never share a statement (turns keep them apart already: see
  /// `Store::turns`), and a group stays under [`MAX_SAVE_GROUP_BYTES`].
  fn fits(&self, group: &[Self]) -> bool {
    let bytes: usize = group.iter().map(|save| save.0.json.len()).sum();
    (group.is_empty() || bytes + self.0.json.len() <= MAX_SAVE_GROUP_BYTES)
      && group.iter().all(|save| save.0.id != self.0.id)
  }

  async fn serve(
    store: &Store,
    client: &Object,
    group: &[Self],
    attempt: &Attempt,
  ) -> Result<Vec<Served<Self::Output>>> {
    store.save_group(client, group, attempt).await
  }

  async fn alone(store: Arc<Store>, work: Self, deadline: Instant) -> Result<Self::Output> {
    store.save_alone(Call(Self::METHOD), &work.0, deadline).await
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn millisecond_instants_round_trip() {
    for ms in [0.0, 1.0, 1_732_467_200_123.0, -1.0, -86_400_001.0] {
      let instant = instant_from_ms("updatedAt", ms).unwrap();
      assert_eq!(ms_from_instant(instant), ms as i64, "{ms}");
    }
  }

  #[test]
  fn invalid_dates_are_refused_naming_the_field() {
    for ms in [f64::NAN, f64::INFINITY, 9.0e15] {
      let error = instant_from_ms("createdAt", ms).unwrap_err();
      assert_eq!(error.code(), "E_VALIDATION");
      assert!(error.to_string().contains("createdAt"));
    }
  }

  #[test]
  fn json_strings_are_escaped() {
    let mut out = String::new();
    push_json_string(&mut out, "a\"b\\c\n");
    assert_eq!(out, r#""a\"b\\c\n""#);
  }
}
