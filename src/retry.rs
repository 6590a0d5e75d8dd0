//! Running a call's work on a pooled connection, within the call's deadline (`queryTimeoutMs`):
//! a connection lost under the call, or silent past the deadline, is discarded and never returned
//! to the pool; a transaction PostgreSQL aborted as a deadlock or serialization failure runs again.
//!
//! A write's deadline is the server's too: a write still running at the deadline is cancelled on
//! the server and the call waits for the server's verdict (rolled back: `E_TIMEOUT`; committed
//! first: success), and writes in a transaction carry the deadline with them (see
//! [`Attempt::begin_sql`]). So a write that fails with `E_TIMEOUT` never commits later; one whose
//! verdict never came fails with `E_OUTCOME_UNKNOWN` instead.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::Object;
use tokio::time::Instant;

/// How often work aborted by a deadlock or serialization failure runs again (nothing of it was
/// committed, so running it again is always safe).
pub const TRANSIENT_RETRIES: u32 = 5;

/// The server's deadline for a write comes this share of the time left before the caller's
/// (at most [`MAX_SERVER_MARGIN`]), so that its verdict reaches the caller in time.
const SERVER_MARGIN_DIVISOR: u32 = 8;
/// Upper bound of the margin between the server's deadline and the caller's.
const MAX_SERVER_MARGIN: Duration = Duration::from_millis(250);
/// How long past its deadline a call whose write is in flight waits for the server's verdict,
/// after asking the server to cancel it: a live server answers at once, a silent one never.
pub const VERDICT_GRACE: Duration = Duration::from_millis(1000);

/// One attempt of a call on one connection: its number (from 1), the call's deadline, how long a
/// write may wait for a row lock, and whether a write was sent on it.
pub struct Attempt {
  /// 1 for the first attempt; above 1 when an earlier one may have committed before its
  /// connection was lost.
  pub number: u32,
  /// When the call must be done.
  pub deadline: Instant,
  /// The longest wait for a lock a write may take (coalesced groups); `None`: up to the deadline.
  pub lock_wait: Option<Duration>,
  write_sent: AtomicBool,
  cancel_sent: AtomicBool,
}

impl Attempt {
  /// Attempt `number` of a call due by `deadline`.
  pub fn new(number: u32, deadline: Instant, lock_wait: Option<Duration>) -> Self {
    Attempt {
      number,
      deadline,
      lock_wait,
      write_sent: AtomicBool::new(false),
      cancel_sent: AtomicBool::new(false),
    }
  }

  /// The simple query opening a write transaction that the server itself ends before the
  /// deadline: `statement_timeout` (which covers lock waits), `idle_in_transaction_session_timeout`
  /// (a client gone silent mid-transaction releases its locks) and, for groups, `lock_timeout`.
  /// All `SET LOCAL`: nothing outlives the transaction. A shorter `statement_timeout` (the
  /// `statementTimeoutMs` option) is kept. `None` when no time is left.
  pub fn begin_sql(&self, statement_timeout: Option<Duration>) -> Option<String> {
    let left = self.deadline.saturating_duration_since(Instant::now());
    let mut server = left - (left / SERVER_MARGIN_DIVISOR).min(MAX_SERVER_MARGIN);
    if let Some(cap) = statement_timeout.filter(|cap| !cap.is_zero()) {
      server = server.min(cap);
    }
    let ms = server.as_millis();
    if ms < 1 {
      return None;
    }
    let mut sql =
      format!("BEGIN; SET LOCAL statement_timeout = {ms}; SET LOCAL idle_in_transaction_session_timeout = {ms}");
    if let Some(lock_wait) = self.lock_wait {
      let lock_ms = lock_wait.as_millis().clamp(1, ms);
      sql.push_str(&format!("; SET LOCAL lock_timeout = {lock_ms}"));
    }
    Some(sql)
  }

  /// Records that a write is being sent: until the server answers, it may commit.
  pub fn sending_write(&self) {
    self.write_sent.store(true, Ordering::Release);
  }

  /// Whether a write was sent on this attempt.
  pub fn write_sent(&self) -> bool {
    self.write_sent.load(Ordering::Acquire)
  }

  /// Whether the server was asked to cancel what this attempt's connection runs.
  pub fn cancel_sent(&self) -> bool {
    self.cancel_sent.load(Ordering::Acquire)
  }
}

/// Runs one attempt's `body` until the attempt's deadline. `None` when no answer came: then the
/// connection must be discarded. When a write is in flight at the deadline, `cancel` asks the
/// server to cancel it and its verdict (committed, or stopped) is awaited [`VERDICT_GRACE`] longer.
pub async fn run_attempt<T>(attempt: &Attempt, cancel: impl FnOnce(), body: impl Future<Output = T>) -> Option<T> {
  futures_util::pin_mut!(body);
  if let Ok(answer) = tokio::time::timeout_at(attempt.deadline, &mut body).await {
    return Some(answer);
  }
  if !attempt.write_sent() {
    return None;
  }
  attempt.cancel_sent.store(true, Ordering::Release);
  cancel();
  tokio::time::timeout(VERDICT_GRACE, &mut body).await.ok()
}

/// Runs `$body` (an `async` block) with a pooled connection bound to `$client`, all within the
/// call's deadline (now plus `queryTimeoutMs`, or the `deadline` given).
///
/// - Past the deadline the call fails with `E_TIMEOUT` and its connection is discarded: a server
///   or path that went silent must not get the connection back into the pool. If a write was in
///   flight, see [`run_attempt`]: the server's own answer decides, and without one the call fails
///   with `E_OUTCOME_UNKNOWN`.
/// - A connection lost under the call (terminated backend, server restart, reset socket) is
///   discarded and the body runs again on another connection, at most once per pooled connection
///   plus one (after a restart every idle connection may be dead). Opening a new connection is not
///   retried, so a server that is really down fails fast. When the lost attempt had sent a write,
///   a later failure that cannot rule out its commit becomes `E_OUTCOME_UNKNOWN`.
/// - A deadlock or serialization failure (`40P01`, `40001`) runs again, up to [`TRANSIENT_RETRIES`]
///   times, after a short pause.
///
/// The `|client, attempt|` form also binds the [`Attempt`]; the `lock_wait` form bounds the row
/// lock waits of its writes.
macro_rules! with_client {
  ($store:expr, $op:expr, |$client:ident| $body:expr) => {
    $crate::retry::with_client!($store, $op, |$client, _attempt| $body)
  };
  ($store:expr, $op:expr, |$client:ident, $attempt:ident| $body:expr) => {{
    let deadline = $store.deadline();
    $crate::retry::with_client!($store, $op, deadline, None, |$client, $attempt| $body)
  }};
  ($store:expr, $op:expr, $deadline:expr, $lock_wait:expr, |$client:ident, $attempt:ident| $body:expr) => {{
    let store = &$store;
    let op = $op;
    let deadline: tokio::time::Instant = $deadline;
    let lock_wait: Option<std::time::Duration> = $lock_wait;
    let mut number: u32 = 1;
    let mut lost = 0;
    let mut transient = 0;
    // An earlier attempt's write was lost in flight: it may have committed.
    let mut open_write = false;
    let result = loop {
      #[allow(unused_mut)]
      let mut $client = match store.client_until(deadline, op).await {
        Ok(client) => client,
        Err(error) => break Err(error),
      };
      let attempt = $crate::retry::Attempt::new(number, deadline, lock_wait);
      let answer: Option<$crate::error::Result<_>> = {
        let $attempt = &attempt;
        $crate::retry::run_attempt(&attempt, || store.cancel_in_flight(&$client), $body).await
      };
      let Some(result) = answer else {
        $crate::retry::discard($client);
        break Err(if attempt.write_sent() {
          store.outcome_unknown(op, "no answer from the server, which may have committed the write")
        } else {
          store.deadline_passed(op)
        });
      };
      let result = match result {
        Err(error) if attempt.cancel_sent() => Err(store.stopped_at_deadline(op, error)),
        other => other,
      };
      let lost_connection = matches!(&result, Err(error) if error.is_connection_loss());
      // A connection that was sent a cancel request never goes back to the pool: the request
      // could still arrive, and cancel whatever the connection ran next.
      if lost_connection || attempt.cancel_sent() {
        $crate::retry::discard($client);
      } else {
        drop($client);
      }
      open_write |= lost_connection && attempt.write_sent();
      match result {
        Err(error) if lost_connection && lost <= store.options().pool_size.0 => {
          let _ = error;
          lost += 1;
        }
        Err(error) if error.is_transient() && transient < $crate::retry::TRANSIENT_RETRIES => {
          transient += 1;
          tokio::time::sleep($crate::retry::backoff(transient)).await;
        }
        other => break other,
      }
      number += 1;
      store.metrics().record_retry();
    };
    match result {
      Err(error) if open_write && error.leaves_earlier_write_open() => Err(store.outcome_unknown(
        op,
        &format!("the connection was lost while the write was in flight, and then: {error}"),
      )),
      other => other,
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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_server_deadline_comes_before_the_callers_and_is_local_to_the_transaction() {
    let attempt = Attempt::new(1, Instant::now() + Duration::from_millis(1000), None);
    let sql = attempt.begin_sql(None).unwrap();
    assert!(sql.starts_with("BEGIN; SET LOCAL statement_timeout = "), "{sql}");
    let ms: u64 = sql["BEGIN; SET LOCAL statement_timeout = ".len()..]
      .split(';')
      .next()
      .unwrap()
      .parse()
      .unwrap();
    assert!((800..=875).contains(&ms), "{ms}");
    assert!(!sql.contains("lock_timeout"));
    assert_eq!(sql.matches("SET ").count(), sql.matches("SET LOCAL ").count());
  }

  #[test]
  fn a_lock_wait_is_bounded_by_the_server_deadline() {
    let attempt = Attempt::new(
      1,
      Instant::now() + Duration::from_secs(30),
      Some(Duration::from_millis(100)),
    );
    assert!(attempt
      .begin_sql(None)
      .unwrap()
      .ends_with("; SET LOCAL lock_timeout = 100"));
    let short = Attempt::new(
      1,
      Instant::now() + Duration::from_millis(40),
      Some(Duration::from_secs(5)),
    );
    let sql = short.begin_sql(None).unwrap();
    let lock_ms: u64 = sql.rsplit(" = ").next().unwrap().parse().unwrap();
    assert!(lock_ms <= 35, "{sql}");
  }

  #[test]
  fn a_shorter_statement_timeout_option_is_kept() {
    let attempt = Attempt::new(1, Instant::now() + Duration::from_secs(30), None);
    let sql = attempt.begin_sql(Some(Duration::from_millis(1500))).unwrap();
    assert!(sql.starts_with("BEGIN; SET LOCAL statement_timeout = 1500;"), "{sql}");
    let sql = attempt.begin_sql(Some(Duration::ZERO)).unwrap();
    assert!(!sql.starts_with("BEGIN; SET LOCAL statement_timeout = 0;"), "{sql}");
  }

  #[test]
  fn no_write_is_begun_without_time_left() {
    let attempt = Attempt::new(1, Instant::now(), None);
    assert!(attempt.begin_sql(None).is_none());
  }
}
