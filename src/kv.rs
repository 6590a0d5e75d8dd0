//! Key-value queries. Values are JSON text; expired entries (ttl in the past) read as absent.

use crate::error::Result;
use crate::jsonb::{JsonText, RawJson};
use crate::pool::{column, with_client, Op, Store};

impl Store {
  /// Stores `json` under `key`; `ttl_seconds` from now, or never expiring when `None`.
  pub async fn set_value(&self, key: &str, json: &str, ttl_seconds: Option<f64>) -> Result<()> {
    let op = Op::on("setValue", key);
    with_client!(self, op, retry, |client| async {
      self
        .execute(&client, &self.sql.set_value, &[&key, &JsonText(json), &ttl_seconds], op)
        .await
    })?;
    Ok(())
  }

  /// A live entry's JSON, or `None` when missing or expired.
  pub async fn get_value(&self, key: &str) -> Result<Option<String>> {
    let op = Op::on("getValue", key);
    with_client!(self, op, retry, |client| async {
      match self.query_opt(&client, &self.sql.get_value, &[&key], op).await? {
        Some(row) => Ok(Some(column::<RawJson<'_>>(&row, 0, op)?.0.to_owned())),
        None => Ok(None),
      }
    })
  }

  /// Deletes an entry; true only when a live (unexpired) entry was deleted. Not retried.
  pub async fn delete_value(&self, key: &str) -> Result<bool> {
    let op = Op::on("deleteValue", key);
    with_client!(self, op, once, |client| async {
      match self.query_opt(&client, &self.sql.delete_value, &[&key], op).await? {
        Some(row) => column(&row, 0, op),
        None => Ok(false),
      }
    })
  }

  /// Whether a live entry exists.
  pub async fn has_value(&self, key: &str) -> Result<bool> {
    let op = Op::on("hasValue", key);
    with_client!(self, op, retry, |client| async {
      match self.query_opt(&client, &self.sql.has_value, &[&key], op).await? {
        Some(row) => column(&row, 0, op),
        None => Ok(false),
      }
    })
  }

  /// Deletes expired entries; the number deleted.
  pub async fn purge_expired(&self) -> Result<u64> {
    let op = Op::plain("purgeExpired");
    with_client!(self, op, once, |client| async {
      self.execute(&client, &self.sql.purge_expired, &[], op).await
    })
  }
}
