//! Listing: `listSessions`' summaries, written as one JSON array for the JS side to parse once,
//! and `iterateSessions`' keyset pages with their cursors.

use std::time::SystemTime;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::Sessions;
use crate::error::{Error, Result};
use crate::jsonb::RawJson;
use crate::op::{Call, Op};
use crate::retry::with_client;
use crate::store::column;
use crate::time::{instant_from_micros, micros_from_instant, ms_from_instant};

/// Summaries per JSON array: the JS side parses one array at a time, between which the event loop
/// runs.
const SUMMARIES_PER_CHUNK: usize = 500;

/// `listSessions`' summaries as JSON arrays of at most [`SUMMARIES_PER_CHUNK`], with `updatedAt`
/// in epoch milliseconds.
#[derive(Default)]
struct Summaries {
  chunks: Vec<String>,
  open: String,
  in_open: usize,
}

impl Summaries {
  /// Adds the summary of `row`.
  fn push(&mut self, row: &Row, op: Op<'_>) -> Result<()> {
    let id: &str = column(row, "id", op)?;
    let state: Option<&str> = column(row, "state", op)?;
    let updated_at: SystemTime = column(row, "updated_at", op)?;
    let agent_count: i32 = column(row, "agent_count", op)?;
    let out = &mut self.open;
    out.push(if self.in_open == 0 { '[' } else { ',' });
    out.push_str("{\"id\":");
    push_json_string(out, id);
    out.push_str(",\"state\":");
    match state {
      Some(state) => push_json_string(out, state),
      None => out.push_str("null"),
    }
    out.push_str(",\"updatedAt\":");
    out.push_str(&ms_from_instant(updated_at).to_string());
    out.push_str(",\"agentCount\":");
    out.push_str(&agent_count.to_string());
    out.push('}');
    self.in_open += 1;
    if self.in_open == SUMMARIES_PER_CHUNK {
      self.close_open();
    }
    Ok(())
  }

  fn close_open(&mut self) {
    self.open.push(']');
    self.chunks.push(std::mem::take(&mut self.open));
    self.in_open = 0;
  }

  /// The arrays (none when there was no summary).
  fn finish(mut self) -> Vec<String> {
    if self.in_open > 0 {
      self.close_open();
    }
    self.chunks
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

impl Sessions {
  /// Summaries, newest `updatedAt` first, as a JSON array of `{id, state, updatedAt, agentCount}`
  /// with `updatedAt` in epoch milliseconds.
  pub async fn list(
    &self,
    call: Call,
    state: Option<&str>,
    limit: Option<i64>,
    offset: Option<i64>,
  ) -> Result<Vec<String>> {
    let (store, sql) = (&self.store, &self.sql);
    let op = call.op();
    with_client!(store, op, |client| async {
      let mut chunks = Summaries::default();
      let each = |row: &Row| chunks.push(row, op);
      match state {
        Some(state) => {
          let params: [&(dyn ToSql + Sync); 3] = [&limit, &offset, &state];
          store
            .each_row(&client, &sql.list_sessions_by_state, &params, op, each)
            .await?
        }
        None => {
          store
            .each_row(&client, &sql.list_sessions, &[&limit, &offset], op, each)
            .await?
        }
      }
      Ok(chunks.finish())
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
    let (store, sql) = (&self.store, &self.sql);
    let rows = with_client!(store, op, |client| async {
      match (state, &after) {
        (None, None) => store.query(&client, &sql.page, &[&limit], op).await,
        (None, Some((at, id))) => store.query(&client, &sql.page_after, &[&limit, at, id], op).await,
        (Some(state), None) => store.query(&client, &sql.page_in_state, &[&limit, &state], op).await,
        (Some(state), Some((at, id))) => {
          store
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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn json_strings_are_escaped() {
    let mut out = String::new();
    push_json_string(&mut out, "a\"b\\c\n");
    assert_eq!(out, r#""a\"b\\c\n""#);
  }
}
