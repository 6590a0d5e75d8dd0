//! Per-operation counters and latency histograms, lock-free (one relaxed atomic add per bucket),
//! read by `getStats()` so an operator can see what the adapter does without a profiler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
  /// Resolved.
  Ok,
  /// Rejected with a version conflict (an expected outcome of optimistic locking).
  Conflict,
  /// Rejected with any other error.
  Error,
}

/// Values below this many microseconds get one bucket each.
const LINEAR: u64 = 16;
/// Sub-buckets per power of two above that (relative error <= 25 %).
const SUB_BUCKETS: u64 = 4;
/// Enough buckets for anything up to 2^63 microseconds.
const BUCKETS: usize = (LINEAR + (63 - 4 + 1) * SUB_BUCKETS) as usize;

fn bucket_of(micros: u64) -> usize {
  if micros < LINEAR {
    return micros as usize;
  }
  let exponent = 63 - u64::from(micros.leading_zeros());
  let sub = (micros >> (exponent - 2)) & (SUB_BUCKETS - 1);
  (LINEAR + (exponent - 4) * SUB_BUCKETS + sub) as usize
}

/// The largest value (µs) that falls into `bucket`.
fn bucket_upper_bound(bucket: usize) -> u64 {
  let bucket = bucket as u64;
  if bucket < LINEAR {
    return bucket;
  }
  let exponent = (bucket - LINEAR) / SUB_BUCKETS + 4;
  let sub = (bucket - LINEAR) % SUB_BUCKETS;
  let lower = (1u64 << exponent) + (sub << (exponent - 2));
  lower.saturating_add((1u64 << (exponent - 2)) - 1)
}

struct Counters {
  groups: AtomicU64,
  grouped_calls: AtomicU64,
  largest_group: AtomicU64,
  ok: AtomicU64,
  conflicts: AtomicU64,
  errors: AtomicU64,
  total_micros: AtomicU64,
  max_micros: AtomicU64,
  buckets: [AtomicU64; BUCKETS],
}

impl Counters {
  fn new() -> Self {
    Counters {
      groups: AtomicU64::new(0),
      grouped_calls: AtomicU64::new(0),
      largest_group: AtomicU64::new(0),
      ok: AtomicU64::new(0),
      conflicts: AtomicU64::new(0),
      errors: AtomicU64::new(0),
      total_micros: AtomicU64::new(0),
      max_micros: AtomicU64::new(0),
      buckets: std::array::from_fn(|_| AtomicU64::new(0)),
    }
  }
}

/// A snapshot of one operation's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationStats {
  /// JS method name.
  pub method: &'static str,
  /// Calls that resolved.
  pub ok: u64,
  /// Calls rejected with a version conflict.
  pub conflicts: u64,
  /// Calls rejected with any other error.
  pub errors: u64,
  /// Mean latency in milliseconds.
  pub mean_ms: f64,
  /// Median latency in milliseconds (bucket upper bound: within 25 %).
  pub p50_ms: f64,
  /// 95th percentile latency in milliseconds.
  pub p95_ms: f64,
  /// 99th percentile latency in milliseconds.
  pub p99_ms: f64,
  /// Largest latency seen, in milliseconds.
  pub max_ms: f64,
  /// Groups of concurrent calls served by one statement (see `coalesce.rs`).
  pub groups: u64,
  /// Calls served in those groups.
  pub grouped_calls: u64,
  /// The largest group.
  pub largest_group: u64,
}

/// Counters for every operation of one adapter, by JS method name, each registered by its
/// first call (so no list of methods is kept here).
#[derive(Default)]
pub struct Metrics {
  methods: RwLock<Vec<(&'static str, Arc<Counters>)>>,
  retries: AtomicU64,
}

impl Metrics {
  /// The counters of `method`, registering it on first use.
  fn counters(&self, method: &'static str) -> Option<Arc<Counters>> {
    let find = |methods: &[(&'static str, Arc<Counters>)]| {
      methods
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, counters)| counters.clone())
    };
    if let Some(found) = find(&self.methods.read().ok()?) {
      return Some(found);
    }
    let mut methods = self.methods.write().ok()?;
    if let Some(found) = find(&methods) {
      return Some(found);
    }
    let counters = Arc::new(Counters::new());
    methods.push((method, counters.clone()));
    Some(counters)
  }

  /// Records one finished call of `method` (its JS name).
  pub fn record(&self, method: &'static str, elapsed: Duration, outcome: Outcome) {
    let Some(counters) = self.counters(method) else {
      return;
    };
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    match outcome {
      Outcome::Ok => &counters.ok,
      Outcome::Conflict => &counters.conflicts,
      Outcome::Error => &counters.errors,
    }
    .fetch_add(1, Ordering::Relaxed);
    counters.total_micros.fetch_add(micros, Ordering::Relaxed);
    counters.max_micros.fetch_max(micros, Ordering::Relaxed);
    if let Some(bucket) = counters.buckets.get(bucket_of(micros)) {
      bucket.fetch_add(1, Ordering::Relaxed);
    }
  }

  /// Records a group of `size` concurrent calls of `method` served by one statement.
  pub fn record_group(&self, method: &'static str, size: usize) {
    let Some(counters) = self.counters(method) else {
      return;
    };
    counters.groups.fetch_add(1, Ordering::Relaxed);
    counters.grouped_calls.fetch_add(size as u64, Ordering::Relaxed);
    counters.largest_group.fetch_max(size as u64, Ordering::Relaxed);
  }

  /// Counts a call run again on another connection after a lost one.
  pub fn record_retry(&self) {
    self.retries.fetch_add(1, Ordering::Relaxed);
  }

  /// Calls run again after a lost connection, since the adapter was built.
  pub fn retries(&self) -> u64 {
    self.retries.load(Ordering::Relaxed)
  }

  /// Figures of every operation called at least once, in the order of their first calls.
  pub fn snapshot(&self) -> Vec<OperationStats> {
    let Ok(methods) = self.methods.read() else {
      return Vec::new();
    };
    methods
      .iter()
      .filter_map(|(method, counters)| {
        let buckets: Vec<u64> = counters.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let calls: u64 = buckets.iter().sum();
        if calls == 0 {
          return None;
        }
        let percentile = |fraction: f64| {
          let rank = ((calls as f64) * fraction).ceil().max(1.0) as u64;
          let mut seen = 0;
          for (bucket, count) in buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
              return bucket_upper_bound(bucket) as f64 / 1000.0;
            }
          }
          0.0
        };
        let max_ms = counters.max_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        Some(OperationStats {
          method,
          ok: counters.ok.load(Ordering::Relaxed),
          conflicts: counters.conflicts.load(Ordering::Relaxed),
          errors: counters.errors.load(Ordering::Relaxed),
          mean_ms: counters.total_micros.load(Ordering::Relaxed) as f64 / calls as f64 / 1000.0,
          p50_ms: percentile(0.50).min(max_ms),
          p95_ms: percentile(0.95).min(max_ms),
          p99_ms: percentile(0.99).min(max_ms),
          max_ms,
          groups: counters.groups.load(Ordering::Relaxed),
          grouped_calls: counters.grouped_calls.load(Ordering::Relaxed),
          largest_group: counters.largest_group.load(Ordering::Relaxed),
        })
      })
      .collect()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn buckets_are_monotonic_and_bound_their_values() {
    let mut previous = 0;
    for micros in (0..100_000u64).chain([1 << 20, 1 << 33, u64::MAX / 2, u64::MAX]) {
      let bucket = bucket_of(micros);
      assert!(bucket < BUCKETS, "{micros}");
      assert!(bucket >= previous || micros >= 1 << 20, "{micros}");
      previous = bucket;
      assert!(bucket_upper_bound(bucket) >= micros, "{micros}");
      // Relative error within 25 %.
      if micros >= LINEAR {
        assert!(
          (bucket_upper_bound(bucket) - micros) as f64 <= micros as f64 * 0.25,
          "{micros}"
        );
      }
    }
  }

  #[test]
  fn percentiles_and_outcomes() {
    let metrics = Metrics::default();
    for micros in 1..=100u64 {
      metrics.record("getSession", Duration::from_micros(micros * 100), Outcome::Ok);
    }
    metrics.record("saveSession", Duration::from_millis(2), Outcome::Conflict);
    metrics.record("saveSession", Duration::from_millis(3), Outcome::Error);
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.len(), 2);
    let save = &snapshot[1];
    assert_eq!(
      (save.method, save.ok, save.conflicts, save.errors),
      ("saveSession", 0, 1, 1)
    );
    let get = &snapshot[0];
    assert_eq!(get.method, "getSession");
    assert_eq!(get.ok, 100);
    assert!((5.0..=6.25).contains(&get.p50_ms), "{}", get.p50_ms);
    assert!((9.5..=10.0).contains(&get.p99_ms), "{}", get.p99_ms);
    assert!((get.mean_ms - 5.05).abs() < 1e-9);
    assert_eq!(get.max_ms, 10.0);
  }
}
