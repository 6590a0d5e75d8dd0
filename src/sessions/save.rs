//! The save path: version-guarded upserts, alone, in coalesced groups and in atomic batches; the
//! conflict each refused session gets; and the replay check after a lost connection (a rerun that
//! finds this very save already stored succeeds).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use deadpool_postgres::Object;
use tokio::time::Instant;
use tokio_postgres::types::ToSql;

use super::groups::SaveSession;
use super::{ids_of, SessionInput, Sessions};
use crate::coalesce::{self, Served};
use crate::error::{Error, Result};
use crate::jsonb::JsonText;
use crate::op::{Call, Op};
use crate::retry::{with_client, Attempt};
use crate::store::{column, Conn};

/// How often a save retries when the row it conflicted with vanished before its version was read.
const CONFLICT_RETRIES: usize = 3;

/// Sessions as the array parameters of the batch statements, in id order: rows are locked in id
/// order, whatever the caller's order, so that two batches sharing ids cannot deadlock.
struct Columns<'a> {
  ids: Vec<&'a str>,
  jsons: Vec<JsonText<'a>>,
  versions: Vec<i32>,
  created: Vec<SystemTime>,
  updated: Vec<SystemTime>,
}

impl<'a> Columns<'a> {
  fn new(sessions: impl IntoIterator<Item = &'a SessionInput>) -> Self {
    let mut in_id_order: Vec<&SessionInput> = sessions.into_iter().collect();
    in_id_order.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Columns {
      ids: in_id_order.iter().map(|s| s.id.as_str()).collect(),
      jsons: in_id_order.iter().map(|s| JsonText(&s.json)).collect(),
      versions: in_id_order.iter().map(|s| s.version).collect(),
      created: in_id_order.iter().map(|s| s.created_at).collect(),
      updated: in_id_order.iter().map(|s| s.updated_at).collect(),
    }
  }

  /// The parameters of `save_sessions`.
  fn rows(&self) -> [&(dyn ToSql + Sync); 5] {
    [&self.ids, &self.jsons, &self.versions, &self.created, &self.updated]
  }
}

/// The conflict of `session` with the version stored.
fn conflict(session: &SessionInput, stored: i32) -> Error {
  Error::Conflict {
    id: session.id.clone(),
    attempted: i64::from(session.version),
    stored: i64::from(stored),
  }
}

impl Sessions {
  /// Upserts one session if its version is newer than the stored one; otherwise `E_CONFLICT`.
  /// Saves of one id are applied in call order (each waits for the one before it to finish). Run
  /// again on a lost connection; a rerun that finds this very save already stored succeeds. While
  /// saves are in flight up to the budget (or the pool is busy) it is saved with the concurrent
  /// saves of other sessions.
  pub async fn save(self: &Arc<Self>, call: Call, session: SessionInput) -> Result<()> {
    let deadline = self.store.deadline();
    let Ok(_turn) = tokio::time::timeout_at(deadline, self.turns.take(&session.id)).await else {
      return Err(self.store.deadline_passed(call.on(&session.id)));
    };
    let queue = self.groups.as_ref().map(|groups| &groups.save);
    coalesce::serve(
      queue,
      self,
      SaveSession(session),
      deadline,
      !self.store.busy(),
      |SaveSession(session)| async move { self.save_alone(call, &session, deadline).await },
    )
    .await
  }

  /// One save on a connection of its own, by `deadline`.
  pub(super) async fn save_alone(&self, call: Call, session: &SessionInput, deadline: Instant) -> Result<()> {
    let op = call.on(&session.id);
    with_client!(self.store, op, deadline, None, |client, attempt| async {
      self.save_one(&client, session, attempt, op).await
    })
  }

  /// One version-guarded upsert on `client`; `attempt.number > 1` when an earlier attempt may
  /// have committed it before its connection was lost.
  async fn save_one(&self, client: &Object, session: &SessionInput, attempt: &Attempt, op: Op<'_>) -> Result<()> {
    let (store, sql) = (&self.store, &self.sql);
    for _ in 0..CONFLICT_RETRIES {
      let params: [&(dyn ToSql + Sync); 6] = [
        &session.id,
        &JsonText(&session.json),
        &session.version,
        &session.created_at,
        &session.updated_at,
        &self.tables.sessions,
      ];
      let written = store.write(client, attempt, &sql.save_session, &params, op).await?;
      if written.count == 1 {
        if let Some(row) = written.rows.first() {
          self.keep_written(row, session);
        }
        return Ok(());
      }
      if attempt.number > 1 && self.already_applied(client, std::slice::from_ref(session), op).await? {
        return Ok(());
      }
      let stored = store.query_opt(client, &sql.stored_version, &[&session.id], op).await?;
      if let Some(row) = stored {
        return Err(conflict(session, column(&row, "version", op)?));
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
  pub(super) async fn save_group(
    &self,
    client: &Object,
    group: &[&SessionInput],
    attempt: &Attempt,
  ) -> Result<Vec<Served<()>>> {
    let call = Call::SAVE_SESSION;
    let op = call.op();
    let (store, sql) = (&self.store, &self.sql);
    let columns = Columns::new(group.iter().copied());
    let by_id: HashMap<&str, &SessionInput> = group.iter().map(|session| (session.id.as_str(), *session)).collect();
    let [ids, jsons, versions, created, updated] = columns.rows();
    let params = [ids, jsons, versions, created, updated, &self.tables.sessions];
    let rows = match store.write(client, attempt, &sql.save_group, &params, op).await {
      Ok(written) => written.rows,
      Err(error) if error.is_connection_loss() || error.is_transient() => return Err(error),
      Err(_) => {
        // One bad or locked row fails the statement (and writes nothing): save each on its own,
        // so that it fails or waits only for its own call.
        let mut outcomes = Vec::with_capacity(group.len());
        for session in group {
          let outcome = self.save_one(client, session, attempt, call.on(&session.id)).await;
          outcomes.push(Served::member(outcome)?);
        }
        return Ok(outcomes);
      }
    };
    for row in &rows {
      if let Some(session) = row.try_get::<_, &str>("id").ok().and_then(|id| by_id.get(id)) {
        self.keep_written(row, session);
      }
    }
    let written = ids_of(&rows);
    let refused = Columns::new(group.iter().copied().filter(|s| !written.contains(s.id.as_str())));
    let mut stored: HashMap<String, (i32, bool)> = HashMap::new();
    if !refused.ids.is_empty() {
      for row in store
        .query(client, &sql.stored_versions, &[&refused.ids, &refused.jsons], op)
        .await?
      {
        stored.insert(
          column(&row, "id", op)?,
          (column(&row, "version", op)?, column(&row, "same", op)?),
        );
      }
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for session in group {
      outcomes.push(if written.contains(session.id.as_str()) {
        Served::Done(Ok(()))
      } else {
        match stored.get(&session.id) {
          // A rerun after a lost connection finds its own earlier commit.
          Some(&(version, true)) if attempt.number > 1 && version == session.version => Served::Done(Ok(())),
          Some(&(version, _)) => Served::Done(Err(conflict(session, version))),
          // Deleted between the upsert and the look-up: save it on its own.
          None => Served::member(self.save_one(client, session, attempt, call.on(&session.id)).await)?,
        }
      });
    }
    Ok(outcomes)
  }

  /// Keeps, for conditional reads, the JSON of `session` that the upsert returning `row` wrote,
  /// under the validator of the row version it made, when the row holds exactly that data (a
  /// trigger may have changed it): the next read of a session this adapter just saved then costs
  /// no transfer.
  fn keep_written(&self, row: &tokio_postgres::Row, session: &SessionInput) {
    let Some(cache) = &self.cache else {
      return;
    };
    if let (Ok(validator), Ok(true)) = (row.try_get::<_, &str>("validator"), row.try_get::<_, bool>("same")) {
      cache.keep(&session.id, validator, &session.json);
    }
  }

  /// Whether every session in `sessions` is stored with exactly this version and data.
  async fn already_applied(&self, client: &impl Conn, sessions: &[SessionInput], op: Op<'_>) -> Result<bool> {
    let columns = Columns::new(sessions);
    let rows = self
      .store
      .query(
        client,
        &self.sql.applied_sessions,
        &[&columns.ids, &columns.jsons, &columns.versions],
        op,
      )
      .await?;
    let matching: i64 = match rows.first() {
      Some(row) => column(row, "matching", op)?,
      None => 0,
    };
    Ok(matching == sessions.len() as i64)
  }

  /// Saves all sessions in one transaction (one upsert from arrays) or none of them; errors name
  /// sessions in the caller's order.
  pub async fn save_many(&self, call: Call, sessions: &[SessionInput]) -> Result<u32> {
    if sessions.is_empty() {
      return Ok(0);
    }
    let op = call.op();
    let store = &self.store;
    let columns = Columns::new(sessions);
    with_client!(store, op, |client, attempt| async {
      let written = store
        .write_begun(&client, attempt, &self.sql.save_sessions, &columns.rows(), op)
        .await?;
      if written.rows.len() == sessions.len() {
        store.end_write(&client, true, op).await?;
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
      store.end_write(&client, false, op).await?;
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
    let written = ids_of(written);
    let Some(session) = sessions.iter().find(|s| !written.contains(s.id.as_str())) else {
      return Ok(Error::Query {
        context: call.op().to_string(),
        message: format!("wrote {} of {} sessions", written.len(), sessions.len()),
        sqlstate: None,
      });
    };
    let op = call.on(&session.id);
    let stored = self
      .store
      .query_opt(client, &self.sql.stored_version, &[&session.id], op)
      .await?;
    Ok(conflict(
      session,
      match stored {
        Some(row) => column(&row, "version", op)?,
        None => 0,
      },
    ))
  }
}
