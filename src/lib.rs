#![deny(clippy::all)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
//! The napi surface: `NativeAdapter`, the class `index.js` wraps. Everything else is plain Rust.
//!
//! Failures reject with the text `"<E_CODE> <json details>"` (see `error.rs`); `index.js` turns
//! it into `StorageError` / `ConflictError` / `ValidationError` / `NotFoundError`.

pub mod adapter;
pub mod config;
pub mod error;
pub mod jsonb;
pub mod kv;
pub mod metrics;
pub mod pool;
pub mod schema;
pub mod sessions;
pub mod tls;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use napi_derive::napi;

use crate::adapter::Adapter;
use crate::error::Error;
use crate::metrics::{Method, Outcome};
use crate::sessions::{instant_from_ms, SessionInput};

/// Runs an adapter future, turning its error into the coded native error and a panic into
/// `E_INTERNAL` instead of letting it cross into Node.
async fn guarded<T>(work: impl Future<Output = error::Result<T>>) -> napi::Result<T> {
  match AssertUnwindSafe(work).catch_unwind().await {
    Ok(result) => result.map_err(napi::Error::from),
    Err(panic) => {
      let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
      Err(napi::Error::new(
        napi::Status::GenericFailure,
        format!(
          "E_INTERNAL {}",
          serde_json::json!({ "message": format!("internal error (a bug, please report it): {message}") })
        ),
      ))
    }
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
}

/// The native PostgreSQL store. Wrapped by `PostgresStorageAdapter` in `index.js`; not public API.
#[napi]
pub struct NativeAdapter {
  inner: Arc<Adapter>,
}

impl NativeAdapter {
  /// Runs `work` for `method` under `guarded`, recording its latency and outcome.
  async fn run<T, Work>(&self, method: Method, work: impl FnOnce(Arc<Adapter>) -> Work) -> napi::Result<T>
  where
    Work: Future<Output = error::Result<T>>,
  {
    let inner = self.inner.clone();
    let metrics = inner.metrics.clone();
    let started = std::time::Instant::now();
    let result = guarded(work(inner)).await;
    let outcome = match &result {
      Ok(_) => Outcome::Ok,
      Err(error) if error.reason.starts_with("E_CONFLICT ") => Outcome::Conflict,
      Err(_) => Outcome::Error,
    };
    metrics.record(method, started.elapsed(), outcome);
    result
  }
}

#[napi]
impl NativeAdapter {
  /// Validates `optionsJson` (the constructor's config as JSON) and opens nothing.
  #[napi(constructor)]
  pub fn new(options_json: String) -> napi::Result<Self> {
    Ok(NativeAdapter {
      inner: Arc::new(Adapter::new(&options_json)?),
    })
  }

  /// Opens the pool and creates the schema. `overridesJson`: `initialize(config)`'s argument as JSON.
  #[napi]
  pub async fn initialize(&self, overrides_json: Option<String>) -> napi::Result<()> {
    self
      .run(Method::Initialize, |inner| async move {
        inner.initialize(overrides_json.as_deref()).await
      })
      .await
  }

  /// Closes the pool; safe to call any number of times.
  #[napi]
  pub fn close(&self) -> napi::Result<()> {
    Ok(self.inner.close()?)
  }

  /// `null` when healthy, otherwise the reason.
  #[napi]
  pub async fn health_check(&self) -> napi::Result<Option<String>> {
    self
      .run(Method::HealthCheck, |inner| async move { Ok(inner.health().await) })
      .await
  }

  /// Saves one session (optimistic locking on `version`). Dates are epoch milliseconds.
  #[napi]
  pub async fn save_session(
    &self,
    id: String,
    version: i32,
    created_at_ms: f64,
    updated_at_ms: f64,
    json: String,
  ) -> napi::Result<()> {
    self
      .run(Method::SaveSession, |inner| async move {
        let session = SessionInput {
          id,
          json,
          version,
          created_at: instant_from_ms("createdAt", created_at_ms)?,
          updated_at: instant_from_ms("updatedAt", updated_at_ms)?,
        };
        inner.store("saveSession")?.save_session(&session).await
      })
      .await
  }

  /// Saves sessions atomically; the arrays are parallel. Returns the number saved.
  #[napi]
  pub async fn save_sessions(
    &self,
    ids: Vec<String>,
    versions: Vec<i32>,
    created_at_ms: Vec<f64>,
    updated_at_ms: Vec<f64>,
    jsons: Vec<String>,
  ) -> napi::Result<u32> {
    self
      .run(Method::SaveSessions, |inner| async move {
        let count = ids.len();
        if versions.len() != count
          || created_at_ms.len() != count
          || updated_at_ms.len() != count
          || jsons.len() != count
        {
          return Err(Error::validation(
            "sessions",
            "saveSessions: parallel arrays differ in length",
          ));
        }
        let mut sessions = Vec::with_capacity(count);
        for ((((id, version), created), updated), json) in ids
          .into_iter()
          .zip(versions)
          .zip(created_at_ms)
          .zip(updated_at_ms)
          .zip(jsons)
        {
          sessions.push(SessionInput {
            id,
            json,
            version,
            created_at: instant_from_ms("createdAt", created)?,
            updated_at: instant_from_ms("updatedAt", updated)?,
          });
        }
        inner.store("saveSessions")?.save_sessions(&sessions).await
      })
      .await
  }

  /// One session's JSON, or `null`.
  #[napi]
  pub async fn get_session(&self, id: String) -> napi::Result<Option<String>> {
    self
      .run(Method::GetSession, |inner| async move {
        inner.store("getSession")?.get_session(&id).await
      })
      .await
  }

  /// Found sessions as a JSON array of `[id, session]` pairs.
  #[napi]
  pub async fn get_sessions(&self, ids: Vec<String>) -> napi::Result<String> {
    self
      .run(Method::GetSessions, |inner| async move {
        inner.store("getSessions")?.get_sessions(&ids).await
      })
      .await
  }

  /// Deletes one session; whether it existed.
  #[napi]
  pub async fn delete_session(&self, id: String) -> napi::Result<bool> {
    self
      .run(Method::DeleteSession, |inner| async move {
        inner.store("deleteSession")?.delete_session(&id).await
      })
      .await
  }

  /// Deletes many sessions; the number deleted.
  #[napi]
  pub async fn delete_sessions(&self, ids: Vec<String>) -> napi::Result<i64> {
    self
      .run(Method::DeleteSessions, |inner| async move {
        Ok(inner.store("deleteSessions")?.delete_sessions(&ids).await? as i64)
      })
      .await
  }

  /// Whether a session exists.
  #[napi]
  pub async fn has_session(&self, id: String) -> napi::Result<bool> {
    self
      .run(Method::HasSession, |inner| async move {
        inner.store("hasSession")?.has_session(&id).await
      })
      .await
  }

  /// Summaries as JSON (`updatedAt` in epoch ms), newest first.
  #[napi]
  pub async fn list_sessions(
    &self,
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
  ) -> napi::Result<String> {
    self
      .run(Method::ListSessions, |inner| async move {
        inner
          .store("listSessions")?
          .list_sessions(state.as_deref(), limit, offset)
          .await
      })
      .await
  }

  /// Deletes all sessions, or those updated before `olderThanMs`; the number deleted.
  #[napi]
  pub async fn clear(&self, older_than_ms: Option<f64>) -> napi::Result<i64> {
    self
      .run(Method::Clear, |inner| async move {
        let before = older_than_ms.map(|ms| instant_from_ms("olderThan", ms)).transpose()?;
        Ok(inner.store("clear")?.clear(before).await? as i64)
      })
      .await
  }

  /// Session counts, table size and pool figures.
  #[napi]
  pub async fn get_stats(&self) -> napi::Result<NativeStats> {
    self
      .run(Method::GetStats, |inner| async move {
        let store = inner.store("getStats")?;
        let stats = store.stats().await?;
        let (pool_max_size, pool_size, pool_idle, pool_waiting) = store.pool_status();
        Ok(NativeStats {
          total_sessions: stats.total,
          size_bytes: stats.size_bytes,
          active_count: stats.by_state[0],
          paused_count: stats.by_state[1],
          expired_count: stats.by_state[2],
          invalidated_pending_cleanup_count: stats.by_state[3],
          closed_count: stats.by_state[4],
          pool_max_size: pool_max_size as u32,
          pool_size: pool_size as u32,
          pool_idle: pool_idle as u32,
          pool_waiting: pool_waiting as u32,
          retries: inner.metrics.retries() as i64,
          operations: inner
            .metrics
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
            })
            .collect(),
        })
      })
      .await
  }

  /// Stores a JSON value under `key`, expiring after `ttlSeconds` when given.
  #[napi]
  pub async fn set_value(&self, key: String, json: String, ttl_seconds: Option<f64>) -> napi::Result<()> {
    self
      .run(Method::SetValue, |inner| async move {
        inner.store("setValue")?.set_value(&key, &json, ttl_seconds).await
      })
      .await
  }

  /// A live value's JSON, or `null`.
  #[napi]
  pub async fn get_value(&self, key: String) -> napi::Result<Option<String>> {
    self
      .run(Method::GetValue, |inner| async move {
        inner.store("getValue")?.get_value(&key).await
      })
      .await
  }

  /// Deletes a value; whether a live one existed.
  #[napi]
  pub async fn delete_value(&self, key: String) -> napi::Result<bool> {
    self
      .run(Method::DeleteValue, |inner| async move {
        inner.store("deleteValue")?.delete_value(&key).await
      })
      .await
  }

  /// Whether a live value exists.
  #[napi]
  pub async fn has_value(&self, key: String) -> napi::Result<bool> {
    self
      .run(Method::HasValue, |inner| async move {
        inner.store("hasValue")?.has_value(&key).await
      })
      .await
  }

  /// Panics inside the native layer on purpose, to prove a panic becomes an `E_INTERNAL`
  /// rejection instead of crossing into Node. Test hook; not part of the public API.
  #[napi(js_name = "__panicForTests")]
  pub async fn panic_for_tests(message: String) -> napi::Result<()> {
    guarded(async move {
      if !message.is_empty() {
        panic!("{message}");
      }
      Ok(())
    })
    .await
  }

  /// Deletes expired key-value entries; the number deleted.
  #[napi]
  pub async fn purge_expired(&self) -> napi::Result<i64> {
    self
      .run(Method::PurgeExpired, |inner| async move {
        Ok(inner.store("purgeExpired")?.purge_expired().await? as i64)
      })
      .await
  }
}
