//! Running a call's work on a pooled connection, within the call's deadline (`queryTimeoutMs`):
//! a connection lost under the call, or silent past the deadline, is discarded and never returned
//! to the pool; a transaction PostgreSQL aborted as a deadlock or serialization failure runs again.

use std::time::Duration;

use deadpool_postgres::Object;

/// How often work aborted by a deadlock or serialization failure runs again (nothing of it was
/// committed, so running it again is always safe).
pub const TRANSIENT_RETRIES: u32 = 5;

/// Runs `$body` (an `async` block) with a pooled connection bound to `$client`, all within the
/// call's deadline.
///
/// - Past the deadline the call fails with `E_TIMEOUT` and its connection is discarded: a server
///   or path that went silent must not get the connection back into the pool.
/// - A connection lost under the call (terminated backend, server restart, reset socket) is
///   discarded and the body runs again on another connection, at most once per pooled connection
///   plus one (after a restart every idle connection may be dead). Opening a new connection is not
///   retried, so a server that is really down fails fast.
/// - A deadlock or serialization failure (`40P01`, `40001`) runs again, up to [`TRANSIENT_RETRIES`]
///   times, after a short pause.
///
/// The `|client, attempt|` form also binds the attempt number (from 1).
macro_rules! with_client {
  ($store:expr, $op:expr, |$client:ident| $body:expr) => {
    $crate::retry::with_client!($store, $op, |$client, _attempt| $body)
  };
  ($store:expr, $op:expr, |$client:ident, $attempt:ident| $body:expr) => {{
    let store = &$store;
    let deadline = store.deadline();
    let mut $attempt: u32 = 1;
    let mut lost = 0;
    let mut transient = 0;
    loop {
      #[allow(unused_mut)]
      let mut $client = store.client_until(deadline, $op).await?;
      let outcome = tokio::time::timeout_at(deadline, $body).await;
      let result: $crate::error::Result<_> = match outcome {
        Ok(result) => result,
        Err(_) => {
          $crate::retry::discard($client);
          break Err(store.deadline_passed($op));
        }
      };
      match result {
        Err(error) if error.is_connection_loss() && lost <= store.config.options.pool_size.0 => {
          $crate::retry::discard($client);
          lost += 1;
        }
        Err(error) if error.is_transient() && transient < $crate::retry::TRANSIENT_RETRIES => {
          drop($client);
          transient += 1;
          tokio::time::sleep($crate::retry::backoff(transient)).await;
        }
        Err(error) => {
          if error.is_connection_loss() {
            $crate::retry::discard($client);
          }
          break Err(error);
        }
        other => break other,
      }
      $attempt += 1;
      store.metrics.record_retry();
    }
  }};
}
pub(crate) use with_client;

/// Drops a connection instead of returning it to the pool.
pub fn discard(client: Object) {
  drop(Object::take(client));
}

/// The pause before the `n`th rerun after a deadlock: a few ms, growing, and jittered so that the
/// transactions that collided do not collide again.
pub fn backoff(n: u32) -> Duration {
  let nanos = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map_or(0, |since| since.subsec_nanos());
  Duration::from_micros(u64::from(n) * 2_000 + u64::from(nanos % 2_000))
}
