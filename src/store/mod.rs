//! An open store: the pool and the config it was built from, the errors a call's deadline ends
//! with, cancel requests, and (in `run.rs`) the statement runner every query goes through. It names
//! no operation: the session and key-value operations run on it.

mod run;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use deadpool_postgres::{Object, Pool};

use crate::cancel::Target;
use crate::coalesce;
use crate::config::{Config, Options, SslMode};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::op::{Call, Op};
use crate::pool;
use crate::retry::{with_client, VERDICT_GRACE};
use crate::tls;

pub use run::{column, Conn, Params, Written};

/// The longest a group's statement waits for a row lock before its members are served one by one
/// (the locked one then alone): far above the few ms the group's own concurrent writes hold a lock.
pub const GROUP_LOCK_WAIT: Duration = Duration::from_millis(100);

/// An open store.
pub struct Store {
  pool: Pool,
  /// The servers, as errors name them: `host:port`, comma-separated.
  servers: String,
  /// The adapter's counters (this store records retries and groups).
  metrics: Arc<Metrics>,
  /// The configuration the pool was built from.
  config: Config,
  /// The calls under way, which set how the coalesced kinds share statements (see `coalesce.rs`).
  load: Arc<coalesce::Load>,
  /// Where cancel requests go: every configured server.
  cancel_targets: Vec<Target>,
  /// TLS for cancel requests, as for connections (`None` with `sslMode: 'disable'`).
  cancel_tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Store {
  /// Builds the pool (opening no connection).
  pub fn new(config: Config, metrics: Arc<Metrics>) -> Result<Self> {
    Ok(Store {
      pool: pool::build(&config)?,
      servers: servers(&config),
      load: coalesce::Load::new(
        std::env::var("SPREAD")
          .ok()
          .and_then(|v| v.parse().ok())
          .unwrap_or(coalesce::DEFAULT_SPREAD),
      ),
      cancel_targets: crate::cancel::targets(&config.hosts, &config.ports),
      metrics,
      cancel_tls: match config.tls.mode {
        SslMode::Disable => None,
        _ => Some(tls::connector(&config.tls)?),
      },
      config,
    })
  }

  /// The configuration the pool was built from.
  pub fn config(&self) -> &Config {
    &self.config
  }

  /// The options the pool was built from.
  pub fn options(&self) -> &Options {
    &self.config.options
  }

  /// The calls under way, shared by the coalesced kinds of call on this store.
  pub fn load(&self) -> &Arc<coalesce::Load> {
    &self.load
  }

  /// The adapter's counters.
  pub fn metrics(&self) -> &Metrics {
    &self.metrics
  }

  /// When a call starting now must be done (`queryTimeoutMs`).
  pub fn deadline(&self) -> Instant {
    Instant::now() + self.config.options.query_timeout_ms.duration()
  }

  /// A pooled connection by `deadline`, or `E_TIMEOUT` / `E_CONNECTION` / `E_CLOSED`.
  pub async fn client_until(&self, deadline: Instant, op: Op<'_>) -> Result<Object> {
    match tokio::time::timeout_at(deadline, self.pool.get()).await {
      Ok(client) => client.map_err(|e| Error::from_pool(op, e, &self.servers)),
      Err(_) => Err(self.deadline_passed(op)),
    }
  }

  /// Whether no pooled connection is free now (every one busy and callers already waiting): then
  /// a call joins the others of its kind, when coalescing is on.
  pub fn busy(&self) -> bool {
    let status = self.pool.status();
    !(status.waiting == 0 && (status.available > 0 || status.size < status.max_size))
  }

  /// A pooled connection, within a call's deadline from now.
  pub async fn client(&self, op: Op<'_>) -> Result<Object> {
    self.client_until(self.deadline(), op).await
  }

  /// The error of a call that ran out of time.
  pub fn deadline_passed(&self, op: Op<'_>) -> Error {
    Error::Timeout {
      context: op.to_string(),
      message: format!(
        "no answer from {} within queryTimeoutMs ({} ms); the connection was discarded",
        self.servers, self.config.options.query_timeout_ms.0 .0
      ),
      sqlstate: None,
    }
  }

  /// `error` as the caller sees it when the statement it ended was cancelled at the deadline:
  /// the server's `query_canceled` says that nothing of it was committed.
  pub fn stopped_at_deadline(&self, op: Op<'_>, error: Error) -> Error {
    match error {
      Error::Timeout {
        sqlstate: Some(state), ..
      } if state == "57014" => Error::Timeout {
        context: op.to_string(),
        message: format!(
          "still running at queryTimeoutMs ({} ms), it was cancelled on {}: nothing was written",
          self.config.options.query_timeout_ms.0 .0, self.servers
        ),
        sqlstate: Some(state),
      },
      other => other,
    }
  }

  /// The error of a write whose commit can be neither confirmed nor ruled out.
  pub fn outcome_unknown(&self, op: Op<'_>, why: &str) -> Error {
    Error::OutcomeUnknown {
      context: op.to_string(),
      message: format!(
        "{why} ({}; queryTimeoutMs {} ms): the write may or may not be stored; read it back before retrying",
        self.servers, self.config.options.query_timeout_ms.0 .0
      ),
    }
  }

  /// Asks the server, on a connection of its own, to cancel what `client` is running. Best
  /// effort and in the background: the caller waits for the cancelled statement's own answer.
  pub fn cancel_in_flight(&self, client: &Object) {
    let request = crate::cancel::cancel(
      client.cancel_token(),
      self.cancel_targets.clone(),
      self.cancel_tls.clone(),
      self.config.connect_timeout,
    );
    tokio::spawn(request);
  }

  /// Forgets every connection's prepared statements (after the tables may have been recreated).
  pub fn forget_prepared_statements(&self) {
    self.pool.manager().statement_caches.clear();
  }

  /// Runs `SELECT 1`.
  pub async fn ping(&self, call: Call) -> Result<()> {
    let op = call.op();
    with_client!(self, op, |client| async {
      client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| Error::from_pg(op, &e))
    })
  }

  /// Closes the connections idle for `idle` or longer.
  pub fn close_idle(&self, idle: Duration) {
    self.pool.retain(|_, metrics| metrics.last_used() < idle);
  }

  /// Stops handing out connections and drops the idle ones; busy ones close when returned.
  pub fn close(&self) {
    self.pool.close();
  }

  /// Pool figures.
  pub fn pool_status(&self) -> deadpool_postgres::Status {
    self.pool.status()
  }
}

/// Serves a coalesced group (see [`Taken`]) on a pooled connection of `$store`, by `$deadline`,
/// its writes waiting at most [`GROUP_LOCK_WAIT`] for a row lock: the group is taken once a
/// connection is there, then `$body` runs with `$client`, `$group` (never empty) and `$attempt`
/// bound (again, on another connection, when one is lost under it). A macro, like `with_client!`,
/// whose body it wraps.
macro_rules! serve_group {
  ($store:expr, $call:expr, $deadline:expr, $taken:expr, |$client:ident, $group:ident, $attempt:ident| $body:expr) => {{
    let taken = $taken;
    $crate::retry::with_client!(
      $store,
      $call.op(),
      $deadline,
      Some($crate::store::GROUP_LOCK_WAIT),
      |$client, $attempt| async {
        let $group = taken.works();
        if $group.is_empty() {
          return Ok(Vec::new());
        }
        $body.await
      }
    )
  }};
}
pub(crate) use serve_group;

/// What the coalescer's groups are served in: every operation layer on a store.
pub trait OnStore: Send + Sync + 'static {
  /// The store the operations run on.
  fn store(&self) -> &Store;
}

impl<T: OnStore> coalesce::Context for T {
  fn deadline_passed(&self, call: Call) -> Error {
    self.store().deadline_passed(call.op())
  }

  fn no_verdict(&self, call: Call) -> Error {
    self
      .store()
      .outcome_unknown(call.op(), "its group of coalesced calls gave no verdict in time")
  }

  /// Twice the grace a silent server gets: a group's verdict waits for the server's.
  fn verdict_grace(&self) -> Duration {
    VERDICT_GRACE * 2
  }

  fn record_group(&self, call: Call, size: usize) {
    self.store().metrics.record_group(call.0, size);
  }
}

/// `host:port` of every configured server, as errors name them (never with credentials).
fn servers(config: &Config) -> String {
  crate::cancel::targets(&config.hosts, &config.ports)
    .iter()
    .map(|target| match target {
      Target::Tcp(host, port) if host.contains(':') => format!("[{host}]:{port}"),
      Target::Tcp(host, port) => format!("{host}:{port}"),
      Target::Unix(path) => path.clone(),
    })
    .collect::<Vec<_>>()
    .join(", ")
}
