#![deny(clippy::all)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
//! The napi surface: `NativeAdapter`, the class `index.js` wraps, as a table of methods. The values
//! handed to JS, the chunked hand-over of large values and the panic guard are in `boundary/`;
//! everything else is plain Rust.
//!
//! Calls are cheap on the JS thread: each method converts its arguments, queues the work for the
//! tokio runtime and returns at once (see `calls.rs`: one spawn per burst of calls). When calls
//! finish, one threadsafe function per adapter wakes the JS thread, which takes every finished
//! call with `drain()` as a flat array `[request, failed, value, ...]` and settles the promises it
//! made for them. (napi's `async fn` creates and tears down a threadsafe function per call, which
//! cost more JS-thread time than the rest of a typical read.) Failures carry the text
//! `"<E_CODE> <json details>"` (see `error.rs`), which `index.js` turns into the error classes.

pub mod adapter;
pub mod boundary;
pub mod calls;
pub mod cancel;
pub mod coalesce;
pub mod config;
pub mod database;
pub mod error;
pub mod jsonb;
pub mod kv;
pub mod metrics;
pub mod op;
pub mod option_values;
pub mod pool;
pub mod retry;
pub mod schema;
pub mod secret;
pub mod sessions;
pub mod statement;
pub mod store;
pub mod time;
pub mod tls;
pub mod turns;
pub mod url;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;

use crate::adapter::Adapter;
use crate::boundary::guard::guarded;
use crate::boundary::handover::{session_input, session_inputs, LargeResults, StagedSaves};
use crate::boundary::values::{check, Drained, NativeMetrics, NativeStats, Reply};
use crate::calls::Calls;
use crate::database::Database;
use crate::error::Error;
use crate::metrics::Outcome;
use crate::op::Call;
use crate::time::{instant_from_ms, iso_from_ms};

/// Wakes the JS thread to `drain()` finished calls: unreferenced while idle, so it never keeps
/// Node alive.
type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

/// The native PostgreSQL store. Wrapped by `PostgresStorageAdapter` in `index.js`; not public API.
#[napi]
pub struct NativeAdapter {
  inner: Arc<Adapter>,
  calls: Arc<Calls<Reply>>,
  wake: Arc<Wake>,
  /// Large batch results waiting for JS to `take()` them a chunk at a time, by request.
  large_results: LargeResults,
  /// Sessions of a large `saveSessions` handed over a chunk at a time, by stage.
  staged_saves: StagedSaves,
}

impl NativeAdapter {
  /// Spawns `work` for `call` on the tokio runtime; its result (or failure) goes to
  /// `complete([request, ...])`. Latency and outcome are recorded in the metrics.
  fn spawn<Value, Work>(&self, request: u32, call: Call, work: impl FnOnce(Arc<Adapter>, Call) -> Work + Send + 'static)
  where
    Value: Into<Reply>,
    Work: Future<Output = error::Result<Value>> + Send + 'static,
  {
    let inner = self.inner.clone();
    let calls = self.calls.clone();
    let wake = self.wake.clone();
    let large_results = self.large_results.clone();
    let task = async move {
      let metrics = inner.metrics.clone();
      let started = Instant::now();
      let result = guarded(async move { work(inner, call).await }).await;
      let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(Error::Conflict { .. }) => Outcome::Conflict,
        Err(_) => Outcome::Error,
      };
      metrics.record(call.0, started.elapsed(), outcome);
      let finished = match result {
        Ok(value) => (request, false, large_results.hand_over(request, value.into())),
        Err(error) => (request, true, Reply::Text(error.to_native_reason())),
      };
      calls.finish(finished, || {
        // Only fails while Node tears the environment down, when nobody waits for the answer.
        let _ = wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
      });
    };
    self.calls.submit(Box::pin(task), |dispatch| {
      // The runtime is gone only during environment teardown; then nobody waits either.
      let _ = std::panic::catch_unwind(AssertUnwindSafe(|| napi::bindgen_prelude::spawn(dispatch)));
    });
  }

  /// [`spawn`](Self::spawn) for work on the open database (`E_NOT_INITIALIZED` / `E_CLOSED`
  /// otherwise).
  fn serve<Value, Work>(
    &self,
    request: u32,
    call: Call,
    work: impl FnOnce(Arc<Database>, Call) -> Work + Send + 'static,
  ) where
    Value: Into<Reply>,
    Work: Future<Output = error::Result<Value>> + Send + 'static,
  {
    self.spawn(request, call, move |inner, call| async move {
      work(inner.database(call)?, call).await
    });
  }
}

#[napi]
impl NativeAdapter {
  /// Validates `optionsJson` (the constructor's config as JSON) and opens nothing. `wake` is
  /// called (with no arguments) when calls have finished: call `drain()` then.
  #[napi(constructor)]
  pub fn new(options_json: String, wake: Wake) -> napi::Result<Self> {
    Ok(NativeAdapter {
      inner: Arc::new(Adapter::new(&options_json)?),
      calls: Arc::new(Calls::default()),
      wake: Arc::new(wake),
      large_results: LargeResults::default(),
      staged_saves: StagedSaves::default(),
    })
  }

  /// The next strings of a large batch result (the one of `request`, reported as its count):
  /// about `maxBytes` of text, at least one string while any is left.
  #[napi]
  pub fn take(&self, request: u32, max_bytes: u32) -> Reply {
    self.large_results.take(request, max_bytes)
  }

  /// Drops what is left of a large batch result.
  #[napi]
  pub fn release(&self, request: u32) {
    self.large_results.release(request);
  }

  /// Hands over a chunk of a large `saveSessions` (parallel arrays, dates as epoch ms) under
  /// `stage`; `saveSessions(request, stage, ...)` sends it with the last chunk.
  #[napi]
  pub fn stage_sessions(
    &self,
    stage: u32,
    ids: Vec<String>,
    versions: Vec<i32>,
    created_at_ms: Vec<f64>,
    updated_at_ms: Vec<f64>,
    jsons: Vec<String>,
  ) -> napi::Result<()> {
    let sessions = session_inputs(ids, versions, created_at_ms, updated_at_ms, jsons)?;
    self.staged_saves.add(stage, sessions);
    Ok(())
  }

  /// Drops the chunks staged under `stage` (the batch was refused).
  #[napi]
  pub fn unstage(&self, stage: u32) {
    self.staged_saves.remove(stage);
  }

  /// Every call finished since the last drain, as `[request, failed, value, request, ...]`:
  /// `value` is the result, or for a failed call its coded reason.
  #[napi(ts_return_type = "Array<number | boolean | string | null | undefined | object>")]
  pub fn drain(&self) -> Drained {
    Drained(self.calls.take_finished())
  }

  /// Keeps Node's event loop alive (`true`) while calls are in flight, or lets it go (`false`).
  #[napi]
  pub fn hold(&self, env: Env, active: bool) -> napi::Result<()> {
    let raw = self.wake.handle.get_raw();
    let status = unsafe {
      if active {
        sys::napi_ref_threadsafe_function(env.raw(), raw)
      } else {
        sys::napi_unref_threadsafe_function(env.raw(), raw)
      }
    };
    check(status, "cannot (un)reference the completion callback")
  }

  /// Opens the pool and creates the schema. `overridesJson`: `initialize(config)`'s argument as JSON.
  #[napi]
  pub fn initialize(&self, request: u32, overrides_json: Option<String>) {
    let epoch = self.inner.epoch();
    self.spawn(request, Call::INITIALIZE, move |inner, call| async move {
      inner.initialize(call, overrides_json.as_deref(), epoch).await
    });
  }

  /// Closes the pool; safe to call any number of times.
  #[napi]
  pub fn close(&self) -> napi::Result<()> {
    Ok(self.inner.close()?)
  }

  /// Completes with `null` when healthy, otherwise the reason.
  #[napi]
  pub fn health_check(&self, request: u32) {
    self.spawn(request, Call::HEALTH_CHECK, |inner, call| async move {
      Ok(inner.health(call).await)
    });
  }

  /// Saves one session (optimistic locking on `version`). Dates are epoch milliseconds.
  #[napi]
  pub fn save_session(
    &self,
    request: u32,
    id: String,
    version: i32,
    created_at_ms: f64,
    updated_at_ms: f64,
    json: String,
  ) {
    self.serve(request, Call::SAVE_SESSION, move |database, call| async move {
      let session = session_input(id, version, created_at_ms, updated_at_ms, json)?;
      database.sessions.save(call, session).await
    });
  }

  /// Saves sessions atomically: the chunks staged under `stage` (if any), then these (parallel
  /// arrays). Completes with the number saved.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn save_sessions(
    &self,
    request: u32,
    stage: Option<u32>,
    ids: Vec<String>,
    versions: Vec<i32>,
    created_at_ms: Vec<f64>,
    updated_at_ms: Vec<f64>,
    jsons: Vec<String>,
  ) {
    let last = session_inputs(ids, versions, created_at_ms, updated_at_ms, jsons);
    let staged = stage.and_then(|stage| self.staged_saves.remove(stage));
    self.serve(request, Call::SAVE_SESSIONS, move |database, call| async move {
      let mut sessions = staged.unwrap_or_default();
      sessions.extend(last?);
      database.sessions.save_many(call, &sessions).await
    });
  }

  /// Completes with one session's JSON, or `null`.
  #[napi]
  pub fn get_session(&self, request: u32, id: String) {
    self.serve(request, Call::GET_SESSION, move |database, call| async move {
      database.sessions.get(call, id).await
    });
  }

  /// Completes with the found sessions as `[id, json, id, json, ...]`.
  #[napi]
  pub fn get_sessions(&self, request: u32, ids: Vec<String>) {
    self.serve(request, Call::GET_SESSIONS, move |database, call| async move {
      database.sessions.get_many(call, &ids).await
    });
  }

  /// Completes with one page of `iterateSessions`: `[nextCursorMicros, nextCursorId, json, ...]`
  /// (the cursor is two empty strings after the last page).
  #[napi]
  pub fn iterate_sessions(
    &self,
    request: u32,
    state: Option<String>,
    limit: i64,
    cursor_micros: Option<String>,
    cursor_id: Option<String>,
  ) {
    self.serve(request, Call::ITERATE_SESSIONS, move |database, call| async move {
      let cursor = cursor_micros.as_deref().zip(cursor_id.as_deref());
      database.sessions.page(call, state.as_deref(), limit, cursor).await
    });
  }

  /// Deletes one session; completes with whether it existed.
  #[napi]
  pub fn delete_session(&self, request: u32, id: String) {
    self.serve(request, Call::DELETE_SESSION, move |database, call| async move {
      database.sessions.delete(call, &id).await
    });
  }

  /// Deletes many sessions; completes with the number deleted.
  #[napi]
  pub fn delete_sessions(&self, request: u32, ids: Vec<String>) {
    self.serve(request, Call::DELETE_SESSIONS, move |database, call| async move {
      database.sessions.delete_many(call, &ids).await
    });
  }

  /// Completes with whether a session exists.
  #[napi]
  pub fn has_session(&self, request: u32, id: String) {
    self.serve(request, Call::HAS_SESSION, move |database, call| async move {
      database.sessions.has(call, id).await
    });
  }

  /// Completes with summaries as JSON (`updatedAt` in epoch ms), newest first.
  #[napi]
  pub fn list_sessions(&self, request: u32, state: Option<String>, limit: Option<i64>, offset: Option<i64>) {
    self.serve(request, Call::LIST_SESSIONS, move |database, call| async move {
      database.sessions.list(call, state.as_deref(), limit, offset).await
    });
  }

  /// Deletes all sessions, or those updated before `olderThanMs`; completes with the number deleted.
  #[napi]
  pub fn clear(&self, request: u32, older_than_ms: Option<f64>) {
    self.serve(request, Call::CLEAR, move |database, call| async move {
      let before = older_than_ms.map(|ms| instant_from_ms("olderThan", ms)).transpose()?;
      database.sessions.clear(call, before).await
    });
  }

  /// Deletes every session whose `expiresAt` is before `nowMs` (epoch ms), in bounded batches;
  /// completes with the number deleted.
  #[napi]
  pub fn delete_expired_sessions(&self, request: u32, now_ms: f64) {
    self.serve(
      request,
      Call::DELETE_EXPIRED_SESSIONS,
      move |database, call| async move {
        let now = iso_from_ms("now", now_ms)?;
        database.sessions.delete_expired(call, &now).await
      },
    );
  }

  /// Completes with session counts, table size, pool figures and per-operation metrics.
  #[napi]
  pub fn get_stats(&self, request: u32) {
    self.serve(request, Call::GET_STATS, |database, call| async move {
      let stats = database.sessions.stats(call).await?;
      let store = database.store();
      Ok(Reply::Stats(NativeStats::new(
        stats,
        store.pool_status(),
        store.metrics(),
      )))
    });
  }

  /// The counters a Prometheus scrape reads (see `prometheus.js`): per-operation calls by outcome
  /// against SmallTalk's latency bounds, coalesced groups, retries and the pool. Synchronous and
  /// without a query; not a call (nothing is recorded), and it works before `initialize()` and
  /// after `close()` (the pool then reads 0).
  #[napi]
  pub fn metrics_snapshot(&self) -> NativeMetrics {
    NativeMetrics::new(self.inner.pool_status(), &self.inner.metrics)
  }

  /// Stores a JSON value under `key`, expiring after `ttlSeconds` when given.
  #[napi]
  pub fn set_value(&self, request: u32, key: String, json: String, ttl_seconds: Option<f64>) {
    self.serve(request, Call::SET_VALUE, move |database, call| async move {
      database.values.set(call, &key, &json, ttl_seconds).await
    });
  }

  /// Completes with a live value's JSON, or `null`.
  #[napi]
  pub fn get_value(&self, request: u32, key: String) {
    self.serve(request, Call::GET_VALUE, move |database, call| async move {
      database.values.get(call, key).await
    });
  }

  /// Deletes a value; completes with whether a live one existed.
  #[napi]
  pub fn delete_value(&self, request: u32, key: String) {
    self.serve(request, Call::DELETE_VALUE, move |database, call| async move {
      database.values.delete(call, &key).await
    });
  }

  /// Completes with whether a live value exists.
  #[napi]
  pub fn has_value(&self, request: u32, key: String) {
    self.serve(request, Call::HAS_VALUE, move |database, call| async move {
      database.values.has(call, &key).await
    });
  }

  /// Completes with the live entries among `keys` as `[key, json, ...]`, read by one statement.
  #[napi]
  pub fn get_values(&self, request: u32, keys: Vec<String>) {
    self.serve(request, Call::GET_VALUES, move |database, call| async move {
      database.values.get_many(call, &keys).await
    });
  }

  /// Stores `keys[i]` = `jsons[i]` (distinct keys) in one statement, all or none, expiring after
  /// `ttlSeconds` when given.
  #[napi]
  pub fn set_values(&self, request: u32, keys: Vec<String>, jsons: Vec<String>, ttl_seconds: Option<f64>) {
    self.serve(request, Call::SET_VALUES, move |database, call| async move {
      database.values.set_many(call, &keys, &jsons, ttl_seconds).await
    });
  }

  /// Deletes `keys` in one statement; completes with the number of live entries deleted.
  #[napi]
  pub fn delete_values(&self, request: u32, keys: Vec<String>) {
    self.serve(request, Call::DELETE_VALUES, move |database, call| async move {
      database.values.delete_many(call, &keys).await
    });
  }

  /// Completes with a page of at most `limit` live entries whose key starts with `prefix`, after
  /// the key `last` (or from the first), in code-point order, as `[key, json, ...]`.
  #[napi]
  pub fn iterate_values(&self, request: u32, prefix: String, last: Option<String>, limit: i64) {
    self.serve(request, Call::ITERATE_VALUES, move |database, call| async move {
      database.values.page(call, &prefix, last.as_deref(), limit).await
    });
  }

  /// Deletes every entry whose key starts with `prefix` (every entry when empty); completes with
  /// the number deleted.
  #[napi]
  pub fn clear_values(&self, request: u32, prefix: String) {
    self.serve(request, Call::CLEAR_VALUES, move |database, call| async move {
      database.values.clear(call, &prefix).await
    });
  }

  /// Deletes expired key-value entries; completes with the number deleted.
  #[napi]
  pub fn purge_expired(&self, request: u32) {
    self.serve(request, Call::PURGE_EXPIRED, |database, call| async move {
      database.values.purge_expired(call).await
    });
  }
}

/// mimalloc: the pool, the protocol buffers and the JSON strings allocate and free on several
/// threads at a high rate, where glibc's malloc spent a tenth of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The tokio runtime napi runs our work on: one worker thread, unless `TOKIO_WORKER_THREADS` says
/// otherwise. The work is I/O (a statement out, its answer back), and on a second worker every
/// hand-over (a call from the JS thread, a task one worker queued, a reply) also woke the other
/// worker: with two, a call cost about 3 context switches of the runtime's threads instead of 2,
/// time taken from the JS thread and PostgreSQL on a machine of few cores.
#[napi_derive::module_init]
fn init_runtime() {
  if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
    return;
  }
  if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(1)
    .enable_all()
    .build()
  {
    napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
  }
}
