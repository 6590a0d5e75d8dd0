//! Key-value queries. Values are JSON text; expired entries (ttl in the past) read as absent.

use std::sync::Arc;

use deadpool_postgres::Object;

use crate::coalesce::{Coalescer, Served, Work};
use crate::error::Result;
use crate::jsonb::{JsonText, RawJson};
use crate::retry::{with_client, Attempt};
use crate::schema::statements;
use crate::store::{column, Call, Store};

statements! {
  /// The key-value statements.
  pub struct KvSql {
    /// Upsert an entry (TTL in seconds, NULL = never expires).
    set_value(TEXT, JSONB, FLOAT8) = "INSERT INTO {key_value} (key, value, ttl, created_at) \
       VALUES ($1, $2, {now} + $3::float8 * interval '1 second', {now}) \
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ttl = EXCLUDED.ttl";
    /// A live entry's JSON.
    get_value(TEXT) = "SELECT value FROM {key_value} WHERE key = $1 AND {live}";
    /// Several live entries' keys and JSON.
    get_values(TEXT_ARRAY) = "SELECT key, value FROM {key_value} WHERE key = ANY($1::text[]) AND {live}";
    /// Delete an entry; returns whether it was live.
    delete_value(TEXT) = "DELETE FROM {key_value} WHERE key = $1 RETURNING {live} AS live";
    /// Is there a live entry.
    has_value(TEXT) = "SELECT EXISTS (SELECT 1 FROM {key_value} WHERE key = $1 AND {live}) AS found";
    /// Delete expired entries.
    purge_expired() = "DELETE FROM {key_value} WHERE ttl IS NOT NULL AND ttl <= {now}";
  }
}

impl Store {
  /// Stores `json` under `key`; `ttl_seconds` from now, or never expiring when `None`.
  pub async fn set_value(&self, call: Call, key: &str, json: &str, ttl_seconds: Option<f64>) -> Result<()> {
    let op = call.on(key);
    with_client!(self, op, |client, attempt| async {
      let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&key, &JsonText(json), &ttl_seconds];
      self.write(&client, attempt, &self.sql.kv.set_value, &params, op).await
    })?;
    Ok(())
  }

  /// A live entry's JSON, or `None` when missing or expired. While the pool is busy it is read
  /// with the concurrent reads.
  pub async fn get_value(self: &Arc<Self>, call: Call, key: String) -> Result<Option<String>> {
    if let Some(queues) = self.queues_if_busy() {
      return queues.get_value.join(self, GetValue(key), self.deadline()).await;
    }
    let op = call.on(&key);
    with_client!(self, op, |client| async {
      match self.query_opt(&client, &self.sql.kv.get_value, &[&key], op).await? {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, "value", op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// Deletes an entry; true only when a live (unexpired) entry was deleted.
  pub async fn delete_value(&self, call: Call, key: &str) -> Result<bool> {
    let op = call.on(key);
    with_client!(self, op, |client, attempt| async {
      let written = self
        .write(&client, attempt, &self.sql.kv.delete_value, &[&key], op)
        .await?;
      match written.rows.first() {
        Some(row) => column(row, "live", op),
        None => Ok(false),
      }
    })
  }

  /// Whether a live entry exists.
  pub async fn has_value(&self, call: Call, key: &str) -> Result<bool> {
    let op = call.on(key);
    with_client!(self, op, |client| async {
      match self.query_opt(&client, &self.sql.kv.has_value, &[&key], op).await? {
        Some(row) => column(&row, "found", op),
        None => Ok(false),
      }
    })
  }

  /// Deletes expired entries; the number deleted.
  pub async fn purge_expired(&self, call: Call) -> Result<u64> {
    let op = call.op();
    with_client!(self, op, |client, attempt| async {
      Ok(
        self
          .write(&client, attempt, &self.sql.kv.purge_expired, &[], op)
          .await?
          .count,
      )
    })
  }
}

/// A `getValue` call, served in a group of concurrent ones.
pub struct GetValue(pub String);

impl Work for GetValue {
  type Output = Option<String>;
  const METHOD: &'static str = "getValue";

  fn queue(store: &Store) -> Option<&Coalescer<Self>> {
    store.queues.as_ref().map(|queues| &queues.get_value)
  }

  async fn serve(
    store: &Store,
    client: &Object,
    group: &[Self],
    _attempt: &Attempt,
  ) -> Result<Vec<Served<Self::Output>>> {
    let keys: Vec<&str> = group.iter().map(|get| get.0.as_str()).collect();
    let op = Call(Self::METHOD).op();
    store
      .json_by_key(client, &store.sql.kv.get_values, &keys, ("key", "value"), op)
      .await
      .map(Served::all_done)
  }
}
