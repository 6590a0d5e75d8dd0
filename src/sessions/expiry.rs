//! Server-side expiry: the sessions whose `expiresAt` has passed are deleted by the server in
//! bounded batches, found through an index, without a session crossing the wire.

use super::Sessions;
use crate::error::Result;
use crate::op::Call;
use crate::retry::with_client;

/// Sessions deleted by one statement of the expiry: each batch is short, so it holds its locks
/// briefly and fits in a call's deadline at any table size.
const EXPIRY_BATCH: i64 = 1000;

impl Sessions {
  /// Deletes every session whose `expiresAt` is before `now` (ISO 8601, as session JSON holds
  /// dates); the number deleted. Sessions without `expiresAt` never expire. Each batch commits on
  /// its own, each within its own deadline: a failure after some batches says how many sessions
  /// were deleted before it (running it again is safe).
  pub async fn delete_expired(&self, call: Call, now: &str) -> Result<u64> {
    let store = &self.store;
    let op = call.op();
    let mut deleted = 0;
    loop {
      let batch = with_client!(store, op, |client, attempt| async {
        let written = store
          .write(&client, attempt, &self.sql.delete_expired, &[&now, &EXPIRY_BATCH], op)
          .await?;
        Ok(written.count)
      });
      match batch {
        Ok(count) if count < EXPIRY_BATCH as u64 => return Ok(deleted + count),
        Ok(count) => deleted += count,
        Err(error) if deleted > 0 => {
          return Err(error.noted(&format!(
            "{deleted} expired sessions were deleted before this failure (each batch of {EXPIRY_BATCH} commits on its own)"
          )))
        }
        Err(error) => return Err(error),
      }
    }
  }
}
