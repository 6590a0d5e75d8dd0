//! Running a call's work on a pooled connection: a connection lost under the call is discarded,
//! and work whose repetition cannot change its outcome runs again on another connection.

use deadpool_postgres::Object;

/// Runs `$body` (an `async` block) with a pooled connection bound to `$client`.
///
/// A connection lost under the call (terminated backend, server restart) is discarded, never
/// returned to the pool. With `retry`, the body then runs again on another connection, at most
/// once per pooled connection plus one (after a restart every idle connection may be dead); use it
/// only where running the statement twice cannot change the outcome. A server that is really
/// down fails fast: opening a new connection is not retried. The `|client, attempt|` form also
/// binds the attempt number (from 1).
macro_rules! with_client {
  ($store:expr, $op:expr, retry, |$client:ident| $body:expr) => {
    $crate::retry::with_client!(@run $store, $op, $store.config.options.pool_size.0 as u32 + 1, $client, _attempt, $body)
  };
  ($store:expr, $op:expr, retry, |$client:ident, $attempt:ident| $body:expr) => {
    $crate::retry::with_client!(@run $store, $op, $store.config.options.pool_size.0 as u32 + 1, $client, $attempt, $body)
  };
  ($store:expr, $op:expr, once, |$client:ident| $body:expr) => {
    $crate::retry::with_client!(@run $store, $op, 1, $client, _attempt, $body)
  };
  (@run $store:expr, $op:expr, $attempts:expr, $client:ident, $attempt:ident, $body:expr) => {{
    let mut $attempt: u32 = 1;
    loop {
      #[allow(unused_mut)]
      let mut $client = $store.client($op).await?;
      let result: $crate::error::Result<_> = $body.await;
      match result {
        Err(error) if error.is_connection_loss() => {
          $crate::retry::discard($client);
          if $attempt < $attempts {
            $attempt += 1;
            $store.metrics.record_retry();
            continue;
          }
          break Err(error);
        }
        other => break other,
      }
    }
  }};
}
pub(crate) use with_client;

/// Drops a connection instead of returning it to the pool.
pub fn discard(client: Object) {
  drop(Object::take(client));
}
