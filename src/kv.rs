//! Key-value operations on a store. Values are JSON text; expired entries (ttl in the past) read
//! as absent.

use std::sync::Arc;

use tokio::time::Instant;

use crate::coalesce::{Coalescer, Served, Taken, Work};
use crate::error::Result;
use crate::jsonb::{JsonText, RawJson};
use crate::op::Call;
use crate::retry::with_client;
use crate::statement::{statements, Stmt, Tables};
use crate::store::{column, serve_group, OnStore, Store};

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
    /// Delete an entry; returns whether it was live. ("now" is read outside the RETURNING clause,
    /// which Citus' distributed tables require to be immutable.)
    delete_value(TEXT) = "WITH deleted AS (DELETE FROM {key_value} WHERE key = $1 RETURNING ttl) \
       SELECT {live} AS live FROM deleted";
    /// Is there a live entry.
    has_value(TEXT) = "SELECT EXISTS (SELECT 1 FROM {key_value} WHERE key = $1 AND {live}) AS found";
    /// Delete expired entries.
    purge_expired() = "DELETE FROM {key_value} WHERE ttl IS NOT NULL AND ttl <= {now}";
  }
}

/// The key-value operations of an open store.
pub struct KeyValues {
  store: Arc<Store>,
  sql: KvSql,
  /// `getValue` calls waiting to be served in groups (`None` with `coalesce: false`).
  gets: Option<Coalescer<KeyValues, GetValue>>,
}

impl OnStore for KeyValues {
  fn store(&self) -> &Store {
    &self.store
  }
}

impl KeyValues {
  /// The key-value operations on `store`, for the tables `tables` names.
  pub fn new(store: Arc<Store>, tables: &Tables) -> Self {
    KeyValues {
      gets: store.options().coalesce.0.then(|| Coalescer::new(Call::GET_VALUE)),
      sql: KvSql::new(tables),
      store,
    }
  }

  /// Every statement, for `initialize()` to prepare.
  pub fn statements(&self) -> Vec<&Stmt> {
    self.sql.all()
  }

  /// Stores `json` under `key`; `ttl_seconds` from now, or never expiring when `None`.
  pub async fn set(&self, call: Call, key: &str, json: &str, ttl_seconds: Option<f64>) -> Result<()> {
    let store = &self.store;
    let op = call.on(key);
    with_client!(store, op, |client, attempt| async {
      let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&key, &JsonText(json), &ttl_seconds];
      store.write(&client, attempt, &self.sql.set_value, &params, op).await
    })?;
    Ok(())
  }

  /// A live entry's JSON, or `None` when missing or expired. While the pool is busy it is read
  /// with the concurrent reads.
  pub async fn get(self: &Arc<Self>, call: Call, key: String) -> Result<Option<String>> {
    let store = &self.store;
    if let Some(gets) = self.gets.as_ref().filter(|_| store.busy()) {
      return gets.join(self, GetValue(key), store.deadline()).await;
    }
    let op = call.on(&key);
    with_client!(store, op, |client| async {
      match store.query_opt(&client, &self.sql.get_value, &[&key], op).await? {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, "value", op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// Deletes an entry; true only when a live (unexpired) entry was deleted.
  pub async fn delete(&self, call: Call, key: &str) -> Result<bool> {
    let store = &self.store;
    let op = call.on(key);
    with_client!(store, op, |client, attempt| async {
      let written = store
        .write(&client, attempt, &self.sql.delete_value, &[&key], op)
        .await?;
      match written.rows.first() {
        Some(row) => column(row, "live", op),
        None => Ok(false),
      }
    })
  }

  /// Whether a live entry exists.
  pub async fn has(&self, call: Call, key: &str) -> Result<bool> {
    let store = &self.store;
    let op = call.on(key);
    with_client!(store, op, |client| async {
      match store.query_opt(&client, &self.sql.has_value, &[&key], op).await? {
        Some(row) => column(&row, "found", op),
        None => Ok(false),
      }
    })
  }

  /// Deletes expired entries; the number deleted.
  pub async fn purge_expired(&self, call: Call) -> Result<u64> {
    let store = &self.store;
    let op = call.op();
    with_client!(store, op, |client, attempt| async {
      let written = store.write(&client, attempt, &self.sql.purge_expired, &[], op).await?;
      Ok(written.count)
    })
  }
}

/// A `getValue` call, served in a group of concurrent ones.
pub struct GetValue(pub String);

impl Work<KeyValues> for GetValue {
  type Output = Option<String>;

  fn queue(values: &KeyValues) -> Option<&Coalescer<KeyValues, Self>> {
    values.gets.as_ref()
  }

  async fn serve<'a>(
    values: &'a Arc<KeyValues>,
    deadline: Instant,
    taken: &'a mut Taken<'_, KeyValues, Self>,
  ) -> Result<Vec<Served<Self::Output>>> {
    let (store, call) = (&values.store, Call::GET_VALUE);
    serve_group!(store, call, deadline, taken, |client, group, _attempt| async {
      let keys: Vec<&str> = group.iter().map(|get| get.0.as_str()).collect();
      let found = store
        .json_by_key(&client, &values.sql.get_values, &keys, ("key", "value"), call.op())
        .await?;
      Ok(Served::all_done(found))
    })
  }
}
