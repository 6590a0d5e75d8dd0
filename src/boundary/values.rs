//! Values handed to JS: a finished call's [`Reply`], the `drain()` array of finished calls,
//! `getStats()`' objects and the metrics a Prometheus scrape reads. The unsafe napi calls are here,
//! each status checked by [`check`].

use napi::bindgen_prelude::{ToNapiValue, Undefined};
use napi::{sys, Status};
use napi_derive::napi;

use crate::calls::Finished;
use crate::metrics::{Metrics, LATENCY_BOUNDS_NANOS};
use crate::sessions::Stats;

/// `Ok` when a napi call succeeded, else the error saying what could not be done.
pub fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
  match status {
    sys::Status::napi_ok => Ok(()),
    _ => Err(napi::Error::new(Status::GenericFailure, what)),
  }
}

/// What a finished call hands back to JS.
pub enum Reply {
  /// `undefined`.
  Nothing,
  /// `null`.
  Null,
  /// A boolean.
  Bool(bool),
  /// A number.
  Number(f64),
  /// A string: JSON text, or a failure's coded reason.
  Text(String),
  /// An array of strings (one per session of a batch).
  Strings(Vec<String>),
  /// `getStats()`'s figures.
  Stats(NativeStats),
}

impl From<()> for Reply {
  fn from(_: ()) -> Self {
    Reply::Nothing
  }
}

impl From<bool> for Reply {
  fn from(value: bool) -> Self {
    Reply::Bool(value)
  }
}

impl From<u64> for Reply {
  fn from(value: u64) -> Self {
    Reply::Number(value as f64)
  }
}

impl From<u32> for Reply {
  fn from(value: u32) -> Self {
    Reply::Number(f64::from(value))
  }
}

impl From<String> for Reply {
  fn from(value: String) -> Self {
    Reply::Text(value)
  }
}

impl From<Vec<String>> for Reply {
  fn from(value: Vec<String>) -> Self {
    Reply::Strings(value)
  }
}

impl From<Option<String>> for Reply {
  fn from(value: Option<String>) -> Self {
    value.map_or(Reply::Null, Reply::Text)
  }
}

impl ToNapiValue for Reply {
  unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
    match value {
      Reply::Nothing => Undefined::to_napi_value(env, ()),
      Reply::Null => Option::<bool>::to_napi_value(env, None),
      Reply::Bool(flag) => bool::to_napi_value(env, flag),
      Reply::Number(number) => f64::to_napi_value(env, number),
      Reply::Text(text) => String::to_napi_value(env, text),
      Reply::Strings(texts) => strings_to_napi(env, texts),
      Reply::Stats(stats) => NativeStats::to_napi_value(env, stats),
    }
  }
}

/// A JS array of `texts`. ASCII text (most JSON) is handed to V8 as Latin-1, which it copies as is,
/// instead of decoding it as UTF-8.
unsafe fn strings_to_napi(env: sys::napi_env, texts: Vec<String>) -> napi::Result<sys::napi_value> {
  let check = |status| check(status, "cannot build an array of strings");
  let mut array = std::ptr::null_mut();
  check(sys::napi_create_array_with_length(env, texts.len(), &mut array))?;
  for (index, text) in texts.iter().enumerate() {
    let mut value = std::ptr::null_mut();
    if text.is_ascii() {
      check(sys::napi_create_string_latin1(
        env,
        text.as_ptr().cast(),
        text.len() as isize,
        &mut value,
      ))?;
    } else {
      check(sys::napi_create_string_utf8(
        env,
        text.as_ptr().cast(),
        text.len() as isize,
        &mut value,
      ))?;
    }
    check(sys::napi_set_element(env, array, index as u32, value))?;
  }
  Ok(array)
}

/// Finished calls as `drain()` hands them to JS: `[request, failed, value, request, ...]`.
pub struct Drained(pub Vec<Finished<Reply>>);

impl ToNapiValue for Drained {
  unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
    let mut array = std::ptr::null_mut();
    let check = |status| check(status, "cannot build the finished calls' array");
    check(sys::napi_create_array_with_length(env, value.0.len() * 3, &mut array))?;
    for (index, (request, failed, reply)) in value.0.into_iter().enumerate() {
      let base = (index * 3) as u32;
      check(sys::napi_set_element(
        env,
        array,
        base,
        u32::to_napi_value(env, request)?,
      ))?;
      check(sys::napi_set_element(
        env,
        array,
        base + 1,
        bool::to_napi_value(env, failed)?,
      ))?;
      check(sys::napi_set_element(
        env,
        array,
        base + 2,
        Reply::to_napi_value(env, reply)?,
      ))?;
    }
    Ok(array)
  }
}

/// Counts and size returned by `getStats`.
#[napi(object)]
pub struct NativeStats {
  /// Number of sessions.
  pub total_sessions: i64,
  /// Bytes used by both tables (indexes and TOAST included).
  pub size_bytes: i64,
  /// Sessions in state `active`.
  pub active_count: i64,
  /// Sessions in state `paused`.
  pub paused_count: i64,
  /// Sessions in state `expired`.
  pub expired_count: i64,
  /// Sessions in state `invalidated_pending_cleanup`.
  pub invalidated_pending_cleanup_count: i64,
  /// Sessions in state `closed`.
  pub closed_count: i64,
  /// Where the session counts come from: `counters` (kept by triggers, constant time) or
  /// `table` (counted from the table now).
  pub counted_by: String,
  /// Pool: maximum connections.
  pub pool_max_size: u32,
  /// Pool: open connections.
  pub pool_size: u32,
  /// Pool: idle connections.
  pub pool_idle: u32,
  /// Pool: callers waiting for a connection.
  pub pool_waiting: u32,
  /// Calls run again on another connection after a lost one.
  pub retries: i64,
  /// Per-operation figures (operations called at least once).
  pub operations: Vec<NativeOperationStats>,
}

/// Figures of one operation, as `getStats().metrics.operations[method]`.
#[napi(object)]
pub struct NativeOperationStats {
  /// JS method name.
  pub method: String,
  /// Calls that resolved.
  pub ok: i64,
  /// Calls rejected with ConflictError.
  pub conflicts: i64,
  /// Calls rejected with any other error.
  pub errors: i64,
  /// Mean latency (ms), measured in Rust from the start of the call's work to its end.
  pub mean_ms: f64,
  /// Median latency (ms; histogram bucket bound, within 25 %).
  pub p50_ms: f64,
  /// 95th percentile latency (ms).
  pub p95_ms: f64,
  /// 99th percentile latency (ms).
  pub p99_ms: f64,
  /// Largest latency (ms).
  pub max_ms: f64,
  /// Groups of concurrent calls served by one statement (coalescing).
  pub groups: i64,
  /// Calls served in those groups.
  pub grouped_calls: i64,
  /// The largest group.
  pub largest_group: i64,
}

impl NativeStats {
  /// `getStats()`' figures: the session counts, the pool's status and the adapter's metrics.
  pub fn new(stats: Stats, pool: deadpool_postgres::Status, metrics: &Metrics) -> Self {
    NativeStats {
      total_sessions: stats.total,
      size_bytes: stats.size_bytes,
      active_count: stats.active,
      paused_count: stats.paused,
      expired_count: stats.expired,
      invalidated_pending_cleanup_count: stats.invalidated_pending_cleanup,
      closed_count: stats.closed,
      counted_by: stats.counted_by.to_string(),
      pool_max_size: pool.max_size as u32,
      pool_size: pool.size as u32,
      pool_idle: pool.available as u32,
      pool_waiting: pool.waiting as u32,
      retries: metrics.retries() as i64,
      operations: metrics
        .snapshot()
        .into_iter()
        .map(|op| NativeOperationStats {
          method: op.method.to_string(),
          ok: op.ok as i64,
          conflicts: op.conflicts as i64,
          errors: op.errors as i64,
          mean_ms: op.mean_ms,
          p50_ms: op.p50_ms,
          p95_ms: op.p95_ms,
          p99_ms: op.p99_ms,
          max_ms: op.max_ms,
          groups: op.groups as i64,
          grouped_calls: op.grouped_calls as i64,
          largest_group: op.largest_group as i64,
        })
        .collect(),
    }
  }
}

/// The metrics a Prometheus scrape reads (`metricsSnapshot()`, read by `prometheus.js`): no query,
/// only the counters.
#[napi(object)]
pub struct NativeMetrics {
  /// The bounds the calls are counted against, in seconds: SmallTalk's histogram's buckets.
  pub latency_bounds_seconds: Vec<f64>,
  /// Pool: maximum connections (0 while the adapter is not open).
  pub pool_max_size: u32,
  /// Pool: open connections.
  pub pool_size: u32,
  /// Pool: idle connections.
  pub pool_idle: u32,
  /// Pool: callers waiting for a connection.
  pub pool_waiting: u32,
  /// Calls run again on another connection after a lost one.
  pub retries: i64,
  /// Per-operation figures (operations called at least once).
  pub operations: Vec<NativeOperationMetrics>,
}

/// One operation's figures for a scrape.
#[napi(object)]
pub struct NativeOperationMetrics {
  /// JS method name.
  pub method: String,
  /// Groups of concurrent calls served by one statement (coalescing).
  pub groups: i64,
  /// Calls served in those groups.
  pub grouped_calls: i64,
  /// The largest group.
  pub largest_group: i64,
  /// The calls of each outcome that happened at least once.
  pub results: Vec<NativeLatency>,
}

/// The calls of one operation with one outcome: a Prometheus histogram's series.
#[napi(object)]
pub struct NativeLatency {
  /// `ok`, `conflict` or `error`.
  pub result: String,
  /// Calls within each bound of `latencyBoundsSeconds` (above the one before), then above the
  /// last: not cumulative; their sum is the number of calls.
  pub counts: Vec<i64>,
  /// Their total time in seconds.
  pub sum_seconds: f64,
}

impl NativeMetrics {
  /// The figures of `metrics`, and of the pool when the adapter is open.
  pub fn new(pool: Option<deadpool_postgres::Status>, metrics: &Metrics) -> Self {
    let (pool_max_size, pool_size, pool_idle, pool_waiting) = pool.map_or((0, 0, 0, 0), |pool| {
      (
        pool.max_size as u32,
        pool.size as u32,
        pool.available as u32,
        pool.waiting as u32,
      )
    });
    NativeMetrics {
      latency_bounds_seconds: LATENCY_BOUNDS_NANOS.iter().map(|&nanos| nanos as f64 / 1e9).collect(),
      pool_max_size,
      pool_size,
      pool_idle,
      pool_waiting,
      retries: metrics.retries() as i64,
      operations: metrics
        .snapshot()
        .into_iter()
        .map(|op| NativeOperationMetrics {
          method: op.method.to_string(),
          groups: op.groups as i64,
          grouped_calls: op.grouped_calls as i64,
          largest_group: op.largest_group as i64,
          results: op
            .outcomes
            .iter()
            .filter(|latency| latency.count() > 0)
            .map(|latency| NativeLatency {
              result: latency.outcome.name().to_string(),
              counts: latency.counts.iter().map(|&count| count as i64).collect(),
              sum_seconds: latency.sum_seconds,
            })
            .collect(),
        })
        .collect(),
    }
  }
}
