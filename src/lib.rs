#![deny(clippy::all)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
//! The napi surface: `NativeAdapter`, the class `index.js` wraps. Everything else is plain Rust.
//!
//! Calls are cheap on the JS thread: each method converts its arguments, queues the work for the
//! tokio runtime and returns at once (see `calls.rs`: one spawn per burst of calls). When calls
//! finish, one threadsafe function per adapter wakes the JS thread, which takes every finished
//! call with `drain()` as a flat array `[request, failed, value, ...]` and settles the promises it
//! made for them. (napi's `async fn` creates and tears down a threadsafe function per call, which
//! cost more JS-thread time than the rest of a typical read.) Failures carry the text
//! `"<E_CODE> <json details>"` (see `error.rs`), which `index.js` turns into the error classes.

pub mod adapter;
pub mod calls;
pub mod cancel;
pub mod coalesce;
pub mod config;
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
pub mod store;
pub mod tls;
pub mod url;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::FutureExt;
use napi::bindgen_prelude::{ToNapiValue, Undefined};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;

use crate::adapter::Adapter;
use crate::calls::{Calls, Finished};
use crate::error::Error;
use crate::metrics::Outcome;
use crate::sessions::{instant_from_ms, SessionInput};
use crate::store::{Call, Store};

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
  let check = |status: sys::napi_status| match status {
    sys::Status::napi_ok => Ok(()),
    _ => Err(napi::Error::new(
      Status::GenericFailure,
      "cannot build an array of strings",
    )),
  };
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

/// Wakes the JS thread to `drain()` finished calls: unreferenced while idle, so it never keeps
/// Node alive.
type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Finished calls as `drain()` hands them to JS: `[request, failed, value, request, ...]`.
pub struct Drained(Vec<Finished<Reply>>);

impl ToNapiValue for Drained {
  unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
    let mut array = std::ptr::null_mut();
    let check = |status: sys::napi_status| match status {
      sys::Status::napi_ok => Ok(()),
      _ => Err(napi::Error::new(
        Status::GenericFailure,
        "cannot build the finished calls' array",
      )),
    };
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

/// Runs an adapter future; its error becomes the coded reason, and a panic becomes `E_INTERNAL`
/// instead of crossing into Node.
async fn guarded<T>(work: impl Future<Output = error::Result<T>>) -> Result<T, String> {
  match AssertUnwindSafe(work).catch_unwind().await {
    Ok(result) => result.map_err(|error| error.to_native_reason()),
    Err(panic) => {
      let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
      Err(format!(
        "E_INTERNAL {}",
        serde_json::json!({ "message": format!("internal error (a bug, please report it): {message}") })
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
  /// Groups of concurrent calls served by one statement (coalescing).
  pub groups: i64,
  /// Calls served in those groups.
  pub grouped_calls: i64,
  /// The largest group.
  pub largest_group: i64,
}

/// The native PostgreSQL store. Wrapped by `PostgresStorageAdapter` in `index.js`; not public API.
#[napi]
pub struct NativeAdapter {
  inner: Arc<Adapter>,
  calls: Arc<Calls<Reply>>,
  wake: Arc<Wake>,
  /// Large batch results waiting for JS to `take()` them a chunk at a time, by request.
  held: Arc<Mutex<HashMap<u32, VecDeque<String>>>>,
  /// Sessions of a large `saveSessions` handed over a chunk at a time, by stage.
  staged: Mutex<HashMap<u32, Vec<SessionInput>>>,
}

/// A batch result larger than this (bytes of text) is held in Rust and taken by JS a chunk at a
/// time, so that turning it into JS strings never blocks the event loop for long.
const HOLD_ABOVE_BYTES: usize = 1 << 20;

/// The sessions of a `saveSessions` chunk: parallel arrays, with dates as epoch milliseconds.
fn session_inputs(
  ids: Vec<String>,
  versions: Vec<i32>,
  created_at_ms: Vec<f64>,
  updated_at_ms: Vec<f64>,
  jsons: Vec<String>,
) -> error::Result<Vec<SessionInput>> {
  let count = ids.len();
  if versions.len() != count || created_at_ms.len() != count || updated_at_ms.len() != count || jsons.len() != count {
    return Err(Error::validation(
      "sessions",
      "saveSessions: parallel arrays differ in length",
    ));
  }
  ids
    .into_iter()
    .zip(versions)
    .zip(created_at_ms)
    .zip(updated_at_ms)
    .zip(jsons)
    .map(|((((id, version), created), updated), json)| {
      Ok(SessionInput {
        id,
        json,
        version,
        created_at: instant_from_ms("createdAt", created)?,
        updated_at: instant_from_ms("updatedAt", updated)?,
      })
    })
    .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl NativeAdapter {
  /// Spawns `work` for the JS method `method` on the tokio runtime; its result (or failure) goes
  /// to `complete([request, ...])`. Latency and outcome are recorded in the metrics.
  fn spawn<Value, Work>(
    &self,
    request: u32,
    method: &'static str,
    work: impl FnOnce(Arc<Adapter>, Call) -> Work + Send + 'static,
  ) where
    Value: Into<Reply>,
    Work: Future<Output = error::Result<Value>> + Send + 'static,
  {
    let inner = self.inner.clone();
    let calls = self.calls.clone();
    let wake = self.wake.clone();
    let held = self.held.clone();
    let task = async move {
      let metrics = inner.metrics.clone();
      let started = Instant::now();
      let result = guarded(async move { work(inner, Call(method)).await }).await;
      let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(reason) if reason.starts_with("E_CONFLICT ") => Outcome::Conflict,
        Err(_) => Outcome::Error,
      };
      metrics.record(method, started.elapsed(), outcome);
      let finished = match result.map(Into::into) {
        Ok(Reply::Strings(texts)) if texts.iter().map(String::len).sum::<usize>() > HOLD_ABOVE_BYTES => {
          let count = texts.len() as u32;
          lock(&held).insert(request, texts.into());
          (request, false, Reply::Number(f64::from(count)))
        }
        Ok(value) => (request, false, value),
        Err(reason) => (request, true, Reply::Text(reason)),
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

  /// [`spawn`](Self::spawn) for work on the open store (`E_NOT_INITIALIZED` / `E_CLOSED` otherwise).
  fn serve<Value, Work>(
    &self,
    request: u32,
    method: &'static str,
    work: impl FnOnce(Arc<Store>, Call) -> Work + Send + 'static,
  ) where
    Value: Into<Reply>,
    Work: Future<Output = error::Result<Value>> + Send + 'static,
  {
    self.spawn(request, method, move |inner, call| async move {
      work(inner.store(call)?, call).await
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
      held: Arc::new(Mutex::new(HashMap::new())),
      staged: Mutex::new(HashMap::new()),
    })
  }

  /// The next strings of a held batch result (the one of `request`, reported as its count):
  /// about `maxBytes` of text, at least one string while any is left.
  #[napi]
  pub fn take(&self, request: u32, max_bytes: u32) -> Reply {
    let mut held = lock(&self.held);
    let Some(texts) = held.get_mut(&request) else {
      return Reply::Strings(Vec::new());
    };
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while let Some(text) = texts.pop_front() {
      bytes += text.len();
      chunk.push(text);
      if bytes >= max_bytes as usize {
        break;
      }
    }
    if texts.is_empty() {
      held.remove(&request);
    }
    drop(held);
    Reply::Strings(chunk)
  }

  /// Drops what is left of a held batch result.
  #[napi]
  pub fn release(&self, request: u32) {
    lock(&self.held).remove(&request);
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
    lock(&self.staged).entry(stage).or_default().extend(sessions);
    Ok(())
  }

  /// Drops the chunks staged under `stage` (the batch was refused).
  #[napi]
  pub fn unstage(&self, stage: u32) {
    lock(&self.staged).remove(&stage);
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
    match status {
      sys::Status::napi_ok => Ok(()),
      _ => Err(napi::Error::new(
        Status::GenericFailure,
        "cannot (un)reference the completion callback",
      )),
    }
  }

  /// Opens the pool and creates the schema. `overridesJson`: `initialize(config)`'s argument as JSON.
  #[napi]
  pub fn initialize(&self, request: u32, overrides_json: Option<String>) {
    let epoch = self.inner.epoch();
    self.spawn(request, "initialize", move |inner, call| async move {
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
    self.spawn(request, "healthCheck", |inner, call| async move {
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
    self.serve(request, "saveSession", move |store, call| async move {
      let session = SessionInput {
        id,
        json,
        version,
        created_at: instant_from_ms("createdAt", created_at_ms)?,
        updated_at: instant_from_ms("updatedAt", updated_at_ms)?,
      };
      store.save_session(call, session).await
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
    let staged = stage.and_then(|stage| lock(&self.staged).remove(&stage));
    self.serve(request, "saveSessions", move |store, call| async move {
      let mut sessions = staged.unwrap_or_default();
      sessions.extend(last?);
      store.save_sessions(call, &sessions).await
    });
  }

  /// Completes with one session's JSON, or `null`.
  #[napi]
  pub fn get_session(&self, request: u32, id: String) {
    self.serve(request, "getSession", move |store, call| async move {
      store.get_session(call, id).await
    });
  }

  /// Completes with the found sessions as `[id, json, id, json, ...]`.
  #[napi]
  pub fn get_sessions(&self, request: u32, ids: Vec<String>) {
    self.serve(request, "getSessions", move |store, call| async move {
      store.get_sessions(call, &ids).await
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
    self.serve(request, "iterateSessions", move |store, call| async move {
      let cursor = cursor_micros.as_deref().zip(cursor_id.as_deref());
      store.page(call, state.as_deref(), limit, cursor).await
    });
  }

  /// Deletes one session; completes with whether it existed.
  #[napi]
  pub fn delete_session(&self, request: u32, id: String) {
    self.serve(request, "deleteSession", move |store, call| async move {
      store.delete_session(call, &id).await
    });
  }

  /// Deletes many sessions; completes with the number deleted.
  #[napi]
  pub fn delete_sessions(&self, request: u32, ids: Vec<String>) {
    self.serve(request, "deleteSessions", move |store, call| async move {
      store.delete_sessions(call, &ids).await
    });
  }

  /// Completes with whether a session exists.
  #[napi]
  pub fn has_session(&self, request: u32, id: String) {
    self.serve(request, "hasSession", move |store, call| async move {
      store.has_session(call, id).await
    });
  }

  /// Completes with summaries as JSON (`updatedAt` in epoch ms), newest first.
  #[napi]
  pub fn list_sessions(&self, request: u32, state: Option<String>, limit: Option<i64>, offset: Option<i64>) {
    self.serve(request, "listSessions", move |store, call| async move {
      store.list_sessions(call, state.as_deref(), limit, offset).await
    });
  }

  /// Deletes all sessions, or those updated before `olderThanMs`; completes with the number deleted.
  #[napi]
  pub fn clear(&self, request: u32, older_than_ms: Option<f64>) {
    self.serve(request, "clear", move |store, call| async move {
      let before = older_than_ms.map(|ms| instant_from_ms("olderThan", ms)).transpose()?;
      store.clear(call, before).await
    });
  }

  /// Completes with session counts, table size, pool figures and per-operation metrics.
  #[napi]
  pub fn get_stats(&self, request: u32) {
    self.serve(request, "getStats", |store, call| async move {
      let stats = store.stats(call).await?;
      let pool = store.pool_status();
      let metrics = &store.metrics;
      Ok(Reply::Stats(NativeStats {
        total_sessions: stats.total,
        size_bytes: stats.size_bytes,
        active_count: stats.active,
        paused_count: stats.paused,
        expired_count: stats.expired,
        invalidated_pending_cleanup_count: stats.invalidated_pending_cleanup,
        closed_count: stats.closed,
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
      }))
    });
  }

  /// Stores a JSON value under `key`, expiring after `ttlSeconds` when given.
  #[napi]
  pub fn set_value(&self, request: u32, key: String, json: String, ttl_seconds: Option<f64>) {
    self.serve(request, "setValue", move |store, call| async move {
      store.set_value(call, &key, &json, ttl_seconds).await
    });
  }

  /// Completes with a live value's JSON, or `null`.
  #[napi]
  pub fn get_value(&self, request: u32, key: String) {
    self.serve(request, "getValue", move |store, call| async move {
      store.get_value(call, key).await
    });
  }

  /// Deletes a value; completes with whether a live one existed.
  #[napi]
  pub fn delete_value(&self, request: u32, key: String) {
    self.serve(request, "deleteValue", move |store, call| async move {
      store.delete_value(call, &key).await
    });
  }

  /// Completes with whether a live value exists.
  #[napi]
  pub fn has_value(&self, request: u32, key: String) {
    self.serve(request, "hasValue", move |store, call| async move {
      store.has_value(call, &key).await
    });
  }

  /// Deletes expired key-value entries; completes with the number deleted.
  #[napi]
  pub fn purge_expired(&self, request: u32) {
    self.serve(request, "purgeExpired", |store, call| async move {
      store.purge_expired(call).await
    });
  }
}

/// Hooks for the fault tests only, in builds with the `test-hooks` feature (never published).
#[cfg(feature = "test-hooks")]
#[napi]
impl NativeAdapter {
  /// Panics inside the native layer on purpose, to prove a panic becomes an `E_INTERNAL`
  /// failure instead of crossing into Node.
  #[napi(js_name = "__panicForTests")]
  pub fn panic_for_tests(&self, request: u32, message: String) {
    self.spawn(request, "__panicForTests", move |_, _| async move {
      if !message.is_empty() {
        panic!("{message}");
      }
      Ok(())
    });
  }
}

/// mimalloc: the pool, the protocol buffers and the JSON strings allocate and free on several
/// threads at a high rate, where glibc's malloc spent a tenth of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
