//! Session queries, single and batch. Session JSON passes through as text (see `jsonb.rs`).

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::jsonb::{JsonText, RawJson};
use crate::pool::{column, with_client, Conn, Op, Store};

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

/// Session counts and table sizes for `getStats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
  /// All sessions.
  pub total: i64,
  /// Sessions per state: active, paused, expired, invalidated_pending_cleanup, closed.
  pub by_state: [i64; 5],
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
  /// Retried once on a lost connection; a retry that finds this very save already stored succeeds.
  pub async fn save_session(&self, session: &SessionInput) -> Result<()> {
    let op = Op::on("saveSession", &session.id);
    with_client!(self, op, retry, |client, attempt| async {
      for _ in 0..CONFLICT_RETRIES {
        let params: [&(dyn ToSql + Sync); 5] = [
          &session.id,
          &JsonText(&session.json),
          &session.version,
          &session.created_at,
          &session.updated_at,
        ];
        if self.execute(&client, &self.sql.save_session, &params, op).await? == 1 {
          return Ok(());
        }
        if attempt > 1 && self.already_applied(&client, std::slice::from_ref(session), op).await? {
          return Ok(());
        }
        let stored = self
          .query_opt(&client, &self.sql.stored_version, &[&session.id], op)
          .await?;
        if let Some(row) = stored {
          return Err(Error::Conflict {
            id: session.id.clone(),
            attempted: i64::from(session.version),
            stored: i64::from(column::<i32>(&row, 0, op)?),
          });
        }
        // The conflicting row was deleted in between: the next attempt inserts.
      }
      Err(Error::Query {
        context: op.to_string(),
        message: "the session kept changing concurrently; try again".into(),
        sqlstate: None,
      })
    })
  }

  /// Whether every session in `sessions` is stored with exactly this version and data.
  async fn already_applied(&self, client: &impl Conn, sessions: &[SessionInput], op: Op<'_>) -> Result<bool> {
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let jsons: Vec<JsonText<'_>> = sessions.iter().map(|s| JsonText(&s.json)).collect();
    let versions: Vec<i32> = sessions.iter().map(|s| s.version).collect();
    let rows = self
      .query(client, &self.sql.applied_sessions, &[&ids, &jsons, &versions], op)
      .await?;
    let matching: i64 = match rows.first() {
      Some(row) => column(row, 0, op)?,
      None => 0,
    };
    Ok(matching == sessions.len() as i64)
  }

  /// Saves all sessions in one transaction (one upsert from arrays) or none of them.
  pub async fn save_sessions(&self, sessions: &[SessionInput]) -> Result<u32> {
    if sessions.is_empty() {
      return Ok(0);
    }
    let op = Op::plain("saveSessions");
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let jsons: Vec<JsonText<'_>> = sessions.iter().map(|s| JsonText(&s.json)).collect();
    let versions: Vec<i32> = sessions.iter().map(|s| s.version).collect();
    let created: Vec<SystemTime> = sessions.iter().map(|s| s.created_at).collect();
    let updated: Vec<SystemTime> = sessions.iter().map(|s| s.updated_at).collect();
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(&op.to_string(), &e);

    with_client!(self, op, retry, |client, attempt| async {
      let transaction = client.transaction().await.map_err(pg_error)?;
      let rows = self
        .query(
          &transaction,
          &self.sql.save_sessions,
          &[&ids, &jsons, &versions, &created, &updated],
          op,
        )
        .await?;
      if rows.len() == sessions.len() {
        transaction.commit().await.map_err(pg_error)?;
        return Ok(rows.len() as u32);
      }
      // Nothing of this batch may be written: decide what to report, then roll back.
      let outcome = if attempt > 1 && self.already_applied(&transaction, sessions, op).await? {
        Ok(sessions.len() as u32)
      } else {
        Err(self.batch_conflict(&transaction, sessions, &rows).await?)
      };
      transaction.rollback().await.map_err(pg_error)?;
      outcome
    })
  }

  /// The conflict error naming the first session of the batch that was not written.
  async fn batch_conflict(
    &self,
    client: &impl Conn,
    sessions: &[SessionInput],
    written: &[tokio_postgres::Row],
  ) -> Result<Error> {
    let written: HashSet<&str> = written
      .iter()
      .filter_map(|row| row.try_get::<_, &str>(0).ok())
      .collect();
    let Some(session) = sessions.iter().find(|s| !written.contains(s.id.as_str())) else {
      return Ok(Error::Query {
        context: Op::plain("saveSessions").to_string(),
        message: format!("wrote {} of {} sessions", written.len(), sessions.len()),
        sqlstate: None,
      });
    };
    let op = Op::on("saveSessions", &session.id);
    let stored = self
      .query_opt(client, &self.sql.stored_version, &[&session.id], op)
      .await?;
    Ok(Error::Conflict {
      id: session.id.clone(),
      attempted: i64::from(session.version),
      stored: match stored {
        Some(row) => i64::from(column::<i32>(&row, 0, op)?),
        None => 0,
      },
    })
  }

  /// One session's JSON, or `None`.
  pub async fn get_session(&self, id: &str) -> Result<Option<String>> {
    let op = Op::on("getSession", id);
    with_client!(self, op, retry, |client| async {
      match self.query_opt(&client, &self.sql.get_session, &[&id], op).await? {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, 0, op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// The found sessions as one JSON array of `[id, session]` pairs (one parse on the JS side).
  pub async fn get_sessions(&self, ids: &[String]) -> Result<String> {
    if ids.is_empty() {
      return Ok("[]".into());
    }
    let op = Op::plain("getSessions");
    let rows = with_client!(self, op, retry, |client| async {
      self.query(&client, &self.sql.get_sessions, &[&ids], op).await
    })?;
    let mut parts = Vec::with_capacity(rows.len());
    let mut length = 2;
    for row in &rows {
      let id: &str = column(row, 0, op)?;
      let json: RawJson<'_> = column(row, 1, op)?;
      length += id.len() + json.0.len() + 8;
      parts.push((id, json.0));
    }
    let mut out = String::with_capacity(length);
    out.push('[');
    for (index, (id, json)) in parts.into_iter().enumerate() {
      if index > 0 {
        out.push(',');
      }
      out.push('[');
      push_json_string(&mut out, id);
      out.push(',');
      out.push_str(json);
      out.push(']');
    }
    out.push(']');
    Ok(out)
  }

  /// Deletes one session; true when a row was deleted. Not retried: a repeat could misreport.
  pub async fn delete_session(&self, id: &str) -> Result<bool> {
    let op = Op::on("deleteSession", id);
    with_client!(self, op, once, |client| async {
      Ok(self.execute(&client, &self.sql.delete_session, &[&id], op).await? > 0)
    })
  }

  /// Deletes many sessions in one statement; the number deleted.
  pub async fn delete_sessions(&self, ids: &[String]) -> Result<u64> {
    if ids.is_empty() {
      return Ok(0);
    }
    let op = Op::plain("deleteSessions");
    with_client!(self, op, once, |client| async {
      self.execute(&client, &self.sql.delete_sessions, &[&ids], op).await
    })
  }

  /// Whether a session exists.
  pub async fn has_session(&self, id: &str) -> Result<bool> {
    let op = Op::on("hasSession", id);
    with_client!(self, op, retry, |client| async {
      match self.query_opt(&client, &self.sql.has_session, &[&id], op).await? {
        Some(row) => column(&row, 0, op),
        None => Ok(false),
      }
    })
  }

  /// Summaries, newest `updatedAt` first, as a JSON array of `{id, state, updatedAt, agentCount}`
  /// with `updatedAt` in epoch milliseconds.
  pub async fn list_sessions(&self, state: Option<&str>, limit: Option<i64>, offset: Option<i64>) -> Result<String> {
    let op = Op::plain("listSessions");
    let rows = with_client!(self, op, retry, |client| async {
      match state {
        Some(state) => {
          self
            .query(
              &client,
              &self.sql.list_sessions_by_state,
              &[&limit, &offset, &state],
              op,
            )
            .await
        }
        None => {
          self
            .query(&client, &self.sql.list_sessions, &[&limit, &offset], op)
            .await
        }
      }
    })?;
    let mut out = String::with_capacity(2 + rows.len() * 96);
    out.push('[');
    for (index, row) in rows.iter().enumerate() {
      let id: &str = column(row, 0, op)?;
      let state: Option<&str> = column(row, 1, op)?;
      let updated_at: SystemTime = column(row, 2, op)?;
      let agent_count: i32 = column(row, 3, op)?;
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
  pub async fn clear(&self, before: Option<SystemTime>) -> Result<u64> {
    let op = Op::plain("clear");
    with_client!(self, op, once, |client| async {
      match before {
        Some(before) => self.execute(&client, &self.sql.clear_before, &[&before], op).await,
        None => self.execute(&client, &self.sql.clear_all, &[], op).await,
      }
    })
  }

  /// Counts per state and the tables' size.
  pub async fn stats(&self) -> Result<Stats> {
    let op = Op::plain("getStats");
    let rows = with_client!(self, op, retry, |client| async {
      self.query(&client, &self.sql.stats, &[], op).await
    })?;
    let Some(row) = rows.first() else {
      return Ok(Stats::default());
    };
    let mut by_state = [0i64; 5];
    for (index, count) in by_state.iter_mut().enumerate() {
      *count = column(row, index + 1, op)?;
    }
    Ok(Stats {
      total: column(row, 0, op)?,
      by_state,
      size_bytes: column(row, 6, op)?,
    })
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
