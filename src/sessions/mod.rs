//! Session operations on a store: one module per job. Reads and deletes are here; the save path
//! (version guard, conflicts, replays after a lost connection) in `save.rs`; summaries and pages
//! in `listing.rs`; the kinds of call served in groups in `groups.rs`; the SQL in `sql.rs`.
//! Session JSON passes through as text (see `jsonb.rs`).

mod cache;
mod counters;
mod expiry;
mod groups;
mod listing;
mod save;
mod sql;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio_postgres::Row;

use crate::coalesce;
use crate::error::{Error, Result};
use crate::jsonb::RawJson;
use crate::op::{Call, Op};
use crate::retry::with_client;
use crate::statement::{Stmt, Tables};
use crate::store::{column, Conn, OnStore, Store};
use crate::turns::Turns;

use cache::ReadCache;
use groups::{GetSession, Groups, HasSession};
pub use sql::SessionSql;

/// The session operations of an open store.
pub struct Sessions {
  store: Arc<Store>,
  sql: SessionSql,
  tables: Tables,
  /// Calls waiting to be served in groups (`None` with `coalesce: false`).
  groups: Option<Groups>,
  /// The per-session order of writes: one in flight per id, the next waiting its turn.
  turns: Turns,
  /// The JSON last read per id, for conditional reads (`None` with `readCacheBytes: 0`).
  cache: Option<ReadCache>,
  /// Whether the per-state counters are in place (see `counters.rs`), and the statement reading
  /// them.
  counted: AtomicBool,
  counted_stats: Stmt,
  fold: Stmt,
}

impl OnStore for Sessions {
  fn store(&self) -> &Store {
    &self.store
  }
}

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
#[derive(Debug, Clone, Copy)]
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
  /// Where the counts come from: `counters` (kept by triggers) or `table` (counted now).
  pub counted_by: &'static str,
}

impl Stats {
  /// The figures of a stats row, counted by `counted_by`.
  fn from_row(row: &Row, counted_by: &'static str, op: Op<'_>) -> Result<Self> {
    Ok(Stats {
      total: column(row, "total", op)?,
      active: column(row, "active", op)?,
      paused: column(row, "paused", op)?,
      expired: column(row, "expired", op)?,
      invalidated_pending_cleanup: column(row, "invalidated_pending_cleanup", op)?,
      closed: column(row, "closed", op)?,
      size_bytes: column(row, "size_bytes", op)?,
      counted_by,
    })
  }
}

impl Sessions {
  /// The session operations on `store`, for the tables `tables` names.
  pub fn new(store: Arc<Store>, tables: &Tables) -> Self {
    Sessions {
      groups: store.options().coalesce.0.then(|| Groups::new(store.load())),
      sql: SessionSql::new(tables),
      tables: tables.clone(),
      turns: Turns::default(),
      cache: ReadCache::new(usize::try_from(store.options().read_cache_bytes.0).unwrap_or(usize::MAX)),
      counted: AtomicBool::new(false),
      counted_stats: counters::counted_stats(tables),
      fold: Stmt::new(
        tables,
        &format!("SELECT {}() AS folded", tables.qualify("smalltalk_fold_session_states")),
        &[],
      ),
      store,
    }
  }

  /// Every statement, for `initialize()` to prepare.
  pub fn statements(&self) -> Vec<&Stmt> {
    self.sql.all()
  }

  /// One session's JSON, or `None`. While reads of sessions are in flight up to the budget (or
  /// the pool is busy) it is read with the concurrent reads, in one statement.
  pub async fn get(self: &Arc<Self>, call: Call, id: String) -> Result<Option<String>> {
    let (queue, store) = (self.groups.as_ref().map(|groups| &groups.get), &self.store);
    coalesce::serve(
      queue,
      self,
      GetSession(id),
      store.deadline(),
      !store.busy(),
      |GetSession(id)| self.get_alone(call, id),
    )
    .await
  }

  /// One session's JSON, or `None`, read by a statement of its own.
  async fn get_alone(&self, call: Call, id: String) -> Result<Option<String>> {
    let store = &self.store;
    let op = call.on(&id);
    let Some(cache) = &self.cache else {
      return with_client!(store, op, |client| async {
        match store.query_opt(&client, &self.sql.get_session, &[&id], op).await? {
          Some(row) => Ok(Some(column::<RawJson<'_>>(&row, "data", op)?.0.to_owned())),
          None => Ok(None),
        }
      });
    };
    let held = cache.held(&id);
    let validator = held.as_ref().map_or("", |held| &*held.validator);
    let row = with_client!(store, op, |client| async {
      store
        .query_opt(&client, &self.sql.get_session_if_changed, &[&id, &validator], op)
        .await
    })?;
    match row {
      Some(row) => self.read_through(cache, &id, held.as_ref(), &row, op),
      None => {
        cache.forget(&id);
        Ok(None)
      }
    }
  }

  /// The JSON of each of `ids` (in order; `None` where missing) by one conditional read: the
  /// server sends only the sessions whose row changed since this adapter read them.
  async fn read_group_through(
    &self,
    client: &impl Conn,
    cache: &ReadCache,
    ids: &[&str],
  ) -> Result<Vec<Option<String>>> {
    let op = Call::GET_SESSION.op();
    let held: Vec<Option<cache::Held>> = ids.iter().map(|id| cache.held(id)).collect();
    let validators: Vec<&str> = held
      .iter()
      .map(|held| held.as_ref().map_or("", |held| &*held.validator))
      .collect();
    let rows = self
      .store
      .query(client, &self.sql.get_sessions_if_changed, &[&ids, &validators], op)
      .await?;
    let by_id: HashMap<&str, &Row> = rows
      .iter()
      .map(|row| Ok((column::<&str>(row, "id", op)?, row)))
      .collect::<Result<_>>()?;
    ids
      .iter()
      .zip(&held)
      .map(|(id, held)| match by_id.get(id) {
        Some(row) => self.read_through(cache, id, held.as_ref(), row, op),
        None => {
          cache.forget(id);
          Ok(None)
        }
      })
      .collect()
  }

  /// A session's JSON from a conditional read's row (`validator`, `data`): the data sent, kept
  /// for the next read; or, when the server sent none because the row is still the version
  /// `held` was read from, the JSON held.
  fn read_through(
    &self,
    cache: &ReadCache,
    id: &str,
    held: Option<&cache::Held>,
    row: &Row,
    op: Op<'_>,
  ) -> Result<Option<String>> {
    let validator: &str = column(row, "validator", op)?;
    match column::<Option<RawJson<'_>>>(row, "data", op)? {
      Some(json) => {
        cache.keep(id, validator, json.0);
        Ok(Some(json.0.to_owned()))
      }
      None => match held {
        Some(held) if *held.validator == *validator => Ok(Some(held.json.to_string())),
        _ => Err(Error::Internal {
          message: format!("{op}: the server sent no data for a row version this adapter does not hold"),
        }),
      },
    }
  }

  /// The found sessions as `[id, json, id, json, ...]`: one string per session, so the JS side
  /// can parse a large batch a slice at a time.
  pub async fn get_many(&self, call: Call, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
      return Ok(Vec::new());
    }
    let store = &self.store;
    let op = call.op();
    let rows = with_client!(store, op, |client| async {
      store.query(&client, &self.sql.get_sessions, &[&ids], op).await
    })?;
    let mut out = Vec::with_capacity(rows.len() * 2);
    for row in &rows {
      out.push(column::<&str>(row, "id", op)?.to_owned());
      out.push(column::<RawJson<'_>>(row, "data", op)?.0.to_owned());
    }
    Ok(out)
  }

  /// Whether a session exists; asked with the concurrent calls as `get` is.
  pub async fn has(self: &Arc<Self>, call: Call, id: String) -> Result<bool> {
    let (queue, store) = (self.groups.as_ref().map(|groups| &groups.has), &self.store);
    coalesce::serve(
      queue,
      self,
      HasSession(id),
      store.deadline(),
      !store.busy(),
      |HasSession(id)| self.has_alone(call, id),
    )
    .await
  }

  /// Whether a session exists, asked by a statement of its own.
  async fn has_alone(&self, call: Call, id: String) -> Result<bool> {
    let store = &self.store;
    let op = call.on(&id);
    with_client!(store, op, |client| async {
      match store.query_opt(&client, &self.sql.has_session, &[&id], op).await? {
        Some(row) => column(&row, "found", op),
        None => Ok(false),
      }
    })
  }

  /// Deletes one session; true when a row was deleted. Applied in call order with the saves of
  /// the same id.
  pub async fn delete(&self, call: Call, id: &str) -> Result<bool> {
    let store = &self.store;
    let op = call.on(id);
    let deadline = store.deadline();
    let Ok(_turn) = tokio::time::timeout_at(deadline, self.turns.take(id)).await else {
      return Err(store.deadline_passed(op));
    };
    if let Some(cache) = &self.cache {
      cache.forget(id);
    }
    with_client!(store, op, deadline, None, |client, attempt| async {
      let written = store
        .write(&client, attempt, &self.sql.delete_session, &[&id], op)
        .await?;
      Ok(written.count > 0)
    })
  }

  /// Deletes many sessions in one statement; the number deleted.
  pub async fn delete_many(&self, call: Call, ids: &[String]) -> Result<u64> {
    if ids.is_empty() {
      return Ok(0);
    }
    let store = &self.store;
    let op = call.op();
    with_client!(store, op, |client, attempt| async {
      let written = store
        .write(&client, attempt, &self.sql.delete_sessions, &[&ids], op)
        .await?;
      Ok(written.count)
    })
  }

  /// Deletes all sessions, or those updated before `before`; the number deleted.
  pub async fn clear(&self, call: Call, before: Option<SystemTime>) -> Result<u64> {
    let store = &self.store;
    let op = call.op();
    let sql = &self.sql;
    with_client!(store, op, |client, attempt| async {
      let written = match before {
        Some(before) => store.write(&client, attempt, &sql.clear_before, &[&before], op).await?,
        None => store.write(&client, attempt, &sql.clear_all, &[], op).await?,
      };
      Ok(written.count)
    })
  }

  /// Counts per state and the tables' size, exact: summed from the per-state counters when they
  /// are in place (constant time), else counted from the table.
  pub async fn stats(self: &Arc<Self>, call: Call) -> Result<Stats> {
    if self.counted.load(Ordering::Relaxed) {
      match self.counted(call).await {
        Ok(Some(stats)) => return Ok(stats),
        // A trigger was dropped or disabled, or the counters' table: count the table instead.
        Ok(None) | Err(Error::Query { .. }) => {}
        Err(error) => return Err(error),
      }
    }
    self.count_table(call).await
  }

  /// Counts per state from the table itself. In a transaction with sequential scans off: a plan
  /// that counts states by reading every session would detoast each large one.
  async fn count_table(&self, call: Call) -> Result<Stats> {
    let store = &self.store;
    let op = call.op();
    let tables = &self.tables;
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    let row = with_client!(store, op, |client| async {
      client
        .batch_execute("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL work_mem = '64MB'")
        .await
        .map_err(pg_error)?;
      let rows = store
        .query(&client, &self.sql.stats, &[&tables.sessions, &tables.key_value], op)
        .await;
      // Ends the transaction either way (COMMIT of a failed one rolls it back).
      let ended = client.batch_execute("COMMIT").await.map_err(pg_error);
      let rows = rows?;
      ended?;
      Ok(rows.into_iter().next())
    })?;
    match row {
      Some(row) => Stats::from_row(&row, "table", op),
      None => Err(Error::internal("the count of sessions returned no row")),
    }
  }
}

/// The `id` column of `rows`: the sessions a statement wrote, or found.
fn ids_of(rows: &[Row]) -> HashSet<&str> {
  rows
    .iter()
    .filter_map(|row| row.try_get::<_, &str>("id").ok())
    .collect()
}
