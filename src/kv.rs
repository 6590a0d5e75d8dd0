//! Key-value operations on a store. Values are JSON text; expired entries (ttl in the past) read
//! as absent.

use std::sync::Arc;

use tokio::time::Instant;

use crate::coalesce::{self, Coalescer, Served, Taken, Work};
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
    /// Upsert several entries in one statement (all or none), with one TTL.
    set_values(TEXT_ARRAY, JSONB_ARRAY, FLOAT8) = "INSERT INTO {key_value} (key, value, ttl, created_at) \
       SELECT key, value, {now} + $3::float8 * interval '1 second', {now} FROM unnest($1::text[], $2::jsonb[]) AS e(key, value) \
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ttl = EXCLUDED.ttl";
    /// Delete several entries in one statement; returns how many of them were live.
    delete_values(TEXT_ARRAY) = "WITH deleted AS (DELETE FROM {key_value} WHERE key = ANY($1::text[]) RETURNING ttl) \
       SELECT count(*) FILTER (WHERE {live}) AS live FROM deleted";
    /// A page of live entries whose key starts with `$3`, from `$1` (inclusive) to `$2`
    /// (exclusive) in code-point order, through idx_key_value_key_c.
    page_values(TEXT, TEXT, TEXT, INT8) = "SELECT key, value FROM {key_value} \
       WHERE key COLLATE \"C\" >= $1 AND key COLLATE \"C\" < $2 AND starts_with(key, $3) AND {live} \
       ORDER BY key COLLATE \"C\" LIMIT $4";
    /// The same without an upper end (the prefix is empty, or has no successor).
    page_values_to_end(TEXT, TEXT, INT8) = "SELECT key, value FROM {key_value} \
       WHERE key COLLATE \"C\" >= $1 AND starts_with(key, $2) AND {live} ORDER BY key COLLATE \"C\" LIMIT $3";
    /// Delete every entry (live or expired) whose key lies in `[$1, $2)` in code-point order,
    /// that is, starts with `$1`.
    clear_values(TEXT, TEXT) = "DELETE FROM {key_value} WHERE key COLLATE \"C\" >= $1 AND key COLLATE \"C\" < $2 \
       AND starts_with(key, $1)";
    /// Delete every entry whose key starts with `$1` (a prefix without a successor, or empty).
    clear_values_to_end(TEXT) = "DELETE FROM {key_value} WHERE key COLLATE \"C\" >= $1 AND starts_with(key, $1)";
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
      gets: store
        .options()
        .coalesce
        .0
        .then(|| Coalescer::new(Call::GET_VALUE, store.load())),
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
    coalesce::serve(
      self.gets.as_ref(),
      self,
      GetValue(key),
      store.deadline(),
      !store.busy(),
      |GetValue(key)| self.get_alone(call, key),
    )
    .await
  }

  /// A live entry's JSON, or `None`, read by a statement of its own.
  async fn get_alone(&self, call: Call, key: String) -> Result<Option<String>> {
    let store = &self.store;
    let op = call.on(&key);
    with_client!(store, op, |client| async {
      match store.query_opt(&client, &self.sql.get_value, &[&key], op).await? {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, "value", op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// The live entries among `keys`, as `[key, json, key, json, ...]` (missing and expired keys
  /// absent), read by one statement.
  pub async fn get_many(&self, call: Call, keys: &[String]) -> Result<Vec<String>> {
    if keys.is_empty() {
      return Ok(Vec::new());
    }
    let store = &self.store;
    let op = call.op();
    let rows = with_client!(store, op, |client| async {
      store.query(&client, &self.sql.get_values, &[&keys], op).await
    })?;
    entries(&rows, op)
  }

  /// Stores every `(keys[i], jsons[i])` in one statement, so all are stored or none; `ttl_seconds`
  /// from now for all, or never expiring when `None`. The keys are distinct (the face keeps the
  /// last of a repeated key).
  pub async fn set_many(&self, call: Call, keys: &[String], jsons: &[String], ttl_seconds: Option<f64>) -> Result<()> {
    if keys.is_empty() {
      return Ok(());
    }
    let store = &self.store;
    let op = call.op();
    let jsons: Vec<JsonText<'_>> = jsons.iter().map(|json| JsonText(json)).collect();
    with_client!(store, op, |client, attempt| async {
      let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&keys, &jsons, &ttl_seconds];
      store.write(&client, attempt, &self.sql.set_values, &params, op).await
    })?;
    Ok(())
  }

  /// Deletes `keys` in one statement; the number of live entries among them that were deleted.
  pub async fn delete_many(&self, call: Call, keys: &[String]) -> Result<u64> {
    if keys.is_empty() {
      return Ok(0);
    }
    let store = &self.store;
    let op = call.op();
    with_client!(store, op, |client, attempt| async {
      let written = store
        .write(&client, attempt, &self.sql.delete_values, &[&keys], op)
        .await?;
      match written.rows.first() {
        Some(row) => Ok(column::<i64>(row, "live", op)?.unsigned_abs()),
        None => Ok(0),
      }
    })
  }

  /// Up to `limit` live entries whose key starts with `prefix`, in code-point order of keys, as
  /// `[key, json, ...]`: the first page, or (with `last`, the last key of the previous page) the
  /// next one. Each page costs the same at any depth (keyset, through idx_key_value_key_c).
  pub async fn page(&self, call: Call, prefix: &str, last: Option<&str>, limit: i64) -> Result<Vec<String>> {
    let store = &self.store;
    let op = call.op();
    let from = last.map_or_else(|| prefix.to_string(), after);
    let end = successor(prefix);
    let rows = with_client!(store, op, |client| async {
      match &end {
        Some(end) => {
          let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&from, end, &prefix, &limit];
          store.query(&client, &self.sql.page_values, &params, op).await
        }
        None => {
          let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&from, &prefix, &limit];
          store.query(&client, &self.sql.page_values_to_end, &params, op).await
        }
      }
    })?;
    entries(&rows, op)
  }

  /// Deletes every entry whose key starts with `prefix` (all entries when it is empty), live or
  /// expired, in one statement; the number deleted.
  pub async fn clear(&self, call: Call, prefix: &str) -> Result<u64> {
    let store = &self.store;
    let op = call.op();
    let end = successor(prefix);
    with_client!(store, op, |client, attempt| async {
      let written = match &end {
        Some(end) => {
          let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&prefix, end];
          store
            .write(&client, attempt, &self.sql.clear_values, &params, op)
            .await?
        }
        None => {
          store
            .write(&client, attempt, &self.sql.clear_values_to_end, &[&prefix], op)
            .await?
        }
      };
      Ok(written.count)
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

/// Rows of `(key, value)` as `[key, json, key, json, ...]`.
fn entries(rows: &[tokio_postgres::Row], op: crate::op::Op<'_>) -> Result<Vec<String>> {
  let mut out = Vec::with_capacity(rows.len() * 2);
  for row in rows {
    out.push(column::<&str>(row, "key", op)?.to_owned());
    out.push(column::<RawJson<'_>>(row, "value", op)?.0.to_owned());
  }
  Ok(out)
}

/// The first key after `key` in code-point (UTF-8 byte) order: `key` followed by U+0001, as
/// PostgreSQL text never holds U+0000. Where a page of keys ends, the next one starts.
fn after(key: &str) -> String {
  let mut next = String::with_capacity(key.len() + 1);
  next.push_str(key);
  next.push('\u{1}');
  next
}

/// The least string greater, in code-point order, than every string that starts with `prefix`:
/// its last character that can grow, grown by one (what follows dropped); `None` when there is no
/// such string (an empty prefix, or one of U+10FFFF only), so a scan has no upper end.
fn successor(prefix: &str) -> Option<String> {
  let mut chars: Vec<char> = prefix.chars().collect();
  while let Some(last) = chars.pop() {
    let next = match u32::from(last) + 1 {
      0xD800 => Some('\u{E000}'),
      code => char::from_u32(code),
    };
    if let Some(next) = next {
      chars.push(next);
      return Some(chars.into_iter().collect());
    }
  }
  None
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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_successor_bounds_every_key_with_the_prefix() {
    assert_eq!(successor("ns:"), Some("ns;".to_string()));
    assert_eq!(successor("a\u{10FFFF}"), Some("b".to_string()));
    assert_eq!(successor("\u{D7FF}"), Some("\u{E000}".to_string()));
    assert_eq!(successor(""), None);
    assert_eq!(successor("\u{10FFFF}\u{10FFFF}"), None);
    for key in ["ns:", "ns:a", "ns:\u{10FFFF}\u{10FFFF}", "ns:zzz\u{1}"] {
      assert!(key < successor("ns:").unwrap().as_str(), "{key}");
    }
    // Rust's str order is byte order of UTF-8, which is code-point order, like COLLATE "C".
    assert!("ns;" >= successor("ns:").unwrap().as_str());
  }

  #[test]
  fn the_key_after_another_is_the_next_possible_one() {
    assert_eq!(after("a"), "a\u{1}");
    assert!(after("a").as_str() > "a");
    assert!(after("a").as_str() < "a\u{2}");
  }
}
