//! Per-operation counters and latency histograms, lock-free (one relaxed atomic add per bucket),
//! read by `getStats()` so an operator can see what the adapter does without a profiler, and by a
//! Prometheus scrape (`prometheus.js`), which needs the calls counted against SmallTalk's bounds.

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

impl Outcome {
  /// Its name as a Prometheus `result` label: `ok`, `conflict` or `error`.
  pub fn name(self) -> &'static str {
    match self {
      Outcome::Ok => "ok",
      Outcome::Conflict => "conflict",
      Outcome::Error => "error",
    }
  }
}

/// The bounds of SmallTalk's `storage_operations_duration_seconds` histogram (1 ms, 10 ms, 50 ms,
/// 100 ms, 500 ms, 1 s, 5 s) in nanoseconds. Every call is counted against them exactly, as
/// Prometheus' `le` buckets are (a call of exactly 10 ms is within `le="0.01"`), beside the
/// log-linear histogram below, whose bucket edges fall elsewhere.
pub const LATENCY_BOUNDS_NANOS: [u64; 7] = [
  1_000_000,
  10_000_000,
  50_000_000,
  100_000_000,
  500_000_000,
  1_000_000_000,
  5_000_000_000,
];

/// Buckets of [`LATENCY_BOUNDS_NANOS`]: one per bound, then one for the calls above the last.
pub const BOUNDED_BUCKETS: usize = LATENCY_BOUNDS_NANOS.len() + 1;

/// The bucket of [`LATENCY_BOUNDS_NANOS`] a call of `nanos` falls in: the first bound at or above it.
fn bounded_bucket_of(nanos: u64) -> usize {
  LATENCY_BOUNDS_NANOS.partition_point(|&bound| bound < nanos)
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

/// The calls of one outcome: how many fell in each bucket of [`LATENCY_BOUNDS_NANOS`] (their sum is
/// the outcome's count) and their total time.
struct OutcomeCounters {
  bounded: [AtomicU64; BOUNDED_BUCKETS],
  micros: AtomicU64,
}

impl OutcomeCounters {
  fn new() -> Self {
    OutcomeCounters {
      bounded: std::array::from_fn(|_| AtomicU64::new(0)),
      micros: AtomicU64::new(0),
    }
  }

  fn snapshot(&self, outcome: Outcome) -> OutcomeLatency {
    let counts = std::array::from_fn(|bucket| self.bounded.get(bucket).map_or(0, |b| b.load(Ordering::Relaxed)));
    OutcomeLatency {
      outcome,
      counts,
      sum_seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
    }
  }
}

struct Counters {
  groups: AtomicU64,
  grouped_calls: AtomicU64,
  largest_group: AtomicU64,
  ok: OutcomeCounters,
  conflict: OutcomeCounters,
  error: OutcomeCounters,
  max_micros: AtomicU64,
  buckets: [AtomicU64; BUCKETS],
}

impl Counters {
  fn new() -> Self {
    Counters {
      groups: AtomicU64::new(0),
      grouped_calls: AtomicU64::new(0),
      largest_group: AtomicU64::new(0),
      ok: OutcomeCounters::new(),
      conflict: OutcomeCounters::new(),
      error: OutcomeCounters::new(),
      max_micros: AtomicU64::new(0),
      buckets: std::array::from_fn(|_| AtomicU64::new(0)),
    }
  }

  fn outcome(&self, outcome: Outcome) -> &OutcomeCounters {
    match outcome {
      Outcome::Ok => &self.ok,
      Outcome::Conflict => &self.conflict,
      Outcome::Error => &self.error,
    }
  }
}

/// One outcome's calls of an operation, counted against [`LATENCY_BOUNDS_NANOS`]: a Prometheus
/// histogram's series.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeLatency {
  /// How they ended.
  pub outcome: Outcome,
  /// Calls within each bound of [`LATENCY_BOUNDS_NANOS`] (above the one before), then above the
  /// last: not cumulative. Their sum is the number of calls.
  pub counts: [u64; BOUNDED_BUCKETS],
  /// Their total time in seconds (each call to the microsecond).
  pub sum_seconds: f64,
}

impl OutcomeLatency {
  /// The number of calls.
  pub fn count(&self) -> u64 {
    self.counts.iter().sum()
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
  /// The calls by outcome (ok, conflict, error), against SmallTalk's bounds.
  pub outcomes: [OutcomeLatency; 3],
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
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    let by_outcome = counters.outcome(outcome);
    if let Some(bucket) = by_outcome.bounded.get(bounded_bucket_of(nanos)) {
      bucket.fetch_add(1, Ordering::Relaxed);
    }
    by_outcome.micros.fetch_add(micros, Ordering::Relaxed);
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
        let outcomes =
          [Outcome::Ok, Outcome::Conflict, Outcome::Error].map(|outcome| counters.outcome(outcome).snapshot(outcome));
        let [ok, conflict, error] = &outcomes;
        let total_seconds = ok.sum_seconds + conflict.sum_seconds + error.sum_seconds;
        Some(OperationStats {
          method,
          ok: ok.count(),
          conflicts: conflict.count(),
          errors: error.count(),
          mean_ms: total_seconds / calls as f64 * 1000.0,
          p50_ms: percentile(0.50).min(max_ms),
          p95_ms: percentile(0.95).min(max_ms),
          p99_ms: percentile(0.99).min(max_ms),
          max_ms,
          groups: counters.groups.load(Ordering::Relaxed),
          grouped_calls: counters.grouped_calls.load(Ordering::Relaxed),
          largest_group: counters.largest_group.load(Ordering::Relaxed),
          outcomes,
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

  #[test]
  fn calls_are_counted_against_smalltalks_bounds_exactly() {
    let metrics = Metrics::default();
    let record = |nanos: u64, outcome| metrics.record("saveSession", Duration::from_nanos(nanos), outcome);
    // On a bound: within it (`le`). One nanosecond above: in the next bucket.
    record(0, Outcome::Ok);
    record(1_000_000, Outcome::Ok);
    record(1_000_001, Outcome::Ok);
    record(9_999_999, Outcome::Ok);
    record(10_000_000, Outcome::Ok);
    record(50_000_001, Outcome::Ok);
    record(100_000_000, Outcome::Ok);
    record(499_999_999, Outcome::Ok);
    record(1_000_000_000, Outcome::Ok);
    record(5_000_000_000, Outcome::Ok);
    record(5_000_000_001, Outcome::Ok);
    record(3_600_000_000_000, Outcome::Ok);
    record(20_000_000, Outcome::Conflict);
    record(20_000_000, Outcome::Conflict);
    record(700_000_000, Outcome::Error);
    let snapshot = metrics.snapshot();
    let [ok, conflict, error] = &snapshot[0].outcomes;
    assert_eq!(ok.outcome, Outcome::Ok);
    assert_eq!(ok.counts, [2, 3, 0, 2, 1, 1, 1, 2]);
    assert_eq!(ok.count(), 12);
    assert_eq!((snapshot[0].ok, snapshot[0].conflicts, snapshot[0].errors), (12, 2, 1));
    assert_eq!(conflict.counts, [0, 0, 2, 0, 0, 0, 0, 0]);
    assert!((conflict.sum_seconds - 0.04).abs() < 1e-12, "{}", conflict.sum_seconds);
    assert_eq!(error.counts, [0, 0, 0, 0, 0, 1, 0, 0]);
    assert!((error.sum_seconds - 0.7).abs() < 1e-12);
    // Each call's time is summed to the microsecond.
    let expected_ok_micros = [0u64, 1_000, 1_000, 9_999, 10_000, 50_000, 100_000, 499_999]
      .iter()
      .sum::<u64>()
      + 1_000_000
      + 5_000_000
      + 5_000_000
      + 3_600_000_000;
    assert!((ok.sum_seconds - expected_ok_micros as f64 / 1e6).abs() < 1e-6);
    assert_eq!(
      [Outcome::Ok, Outcome::Conflict, Outcome::Error].map(Outcome::name),
      ["ok", "conflict", "error"]
    );
    // The bounds are SmallTalk's, in seconds.
    let seconds = LATENCY_BOUNDS_NANOS.map(|nanos| nanos as f64 / 1e9);
    assert_eq!(seconds, [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]);
  }

  #[test]
  fn concurrent_calls_lose_no_count() {
    let metrics = Arc::new(Metrics::default());
    let threads: Vec<_> = (0..4)
      .map(|thread| {
        let metrics = metrics.clone();
        std::thread::spawn(move || {
          for call in 0..10_000u64 {
            let nanos = (call * 7_919 + thread * 104_729) % 6_000_000_000;
            metrics.record("getSession", Duration::from_nanos(nanos), Outcome::Ok);
          }
        })
      })
      .collect();
    for thread in threads {
      thread.join().unwrap();
    }
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot[0].outcomes[0].count(), 40_000);
    assert_eq!(snapshot[0].ok, 40_000);
  }
}
