//! An open store: the pool, the SQL for its schema and the config it was built from, and the
//! statement runner every query goes through (cached prepared statement or one-shot typed
//! statement, error classification).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use deadpool_postgres::{GenericClient, Object, Pool};
use futures_util::TryStreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use crate::cancel::Target;
use crate::coalesce::Queues;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::jsonb::RawJson;
use crate::metrics::Metrics;
pub use crate::op::{Call, Op};
use crate::pool;
use crate::retry::Attempt;
use crate::schema::{Sql, Stmt};
use crate::tls;

/// An open store.
pub struct Store {
  pool: Pool,
  /// The servers, as errors name them: `host:port`, comma-separated.
  servers: String,
  /// The adapter's counters (this store records retries).
  pub metrics: Arc<Metrics>,
  background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
  /// The SQL of every statement.
  pub sql: Sql,
  /// The configuration the pool was built from.
  pub config: Config,
  /// Calls waiting to be served in groups (`None` with `coalesce: false`).
  pub queues: Option<Queues>,
  /// The per-session order of writes: one in flight per id, the next waiting its turn.
  pub turns: Turns,
  /// Where cancel requests go: every configured server.
  cancel_targets: Vec<Target>,
  /// TLS for cancel requests, as for connections (`None` with `sslMode: 'disable'`).
  cancel_tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Store {
  /// Builds the pool (opening no connection) and the SQL for the configured schema.
  pub fn new(config: Config, metrics: Arc<Metrics>) -> Result<Self> {
    Ok(Store {
      pool: pool::build(&config)?,
      servers: servers(&config),
      cancel_targets: crate::cancel::targets(&config.hosts, &config.ports),
      metrics,
      background: Mutex::new(Vec::new()),
      sql: Sql::new(config.options.schema.as_ref().map(|name| name.0.as_str())),
      queues: config.options.coalesce.0.then(Queues::default),
      turns: Turns::default(),
      cancel_tls: match config.tls.mode {
        crate::config::SslMode::Disable => None,
        _ => Some(tls::connector(&config.tls)?),
      },
      config,
    })
  }

  /// Starts the background work the options ask for: the purge of expired key-value entries
  /// (`purgeIntervalMs`) and the closing of idle connections (`idleTimeoutMs`). The tasks run on
  /// the tokio runtime (they never keep Node's event loop alive) and end with the store.
  pub fn start_background_tasks(self: &Arc<Self>) {
    let mut tasks = Vec::new();
    if let Some(interval) = self.config.options.purge_interval_ms {
      tasks.push(self.every(interval.duration(), |store| async move {
        // A failed purge is retried at the next tick; expired entries already read as absent.
        let _ = store.purge_expired(Call("purgeExpired")).await;
      }));
    }
    if let Some(idle) = self.config.options.idle_timeout_ms {
      let idle = idle.duration();
      let check = (idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(10));
      tasks.push(self.every(check, move |store| async move {
        store.pool.retain(|_, metrics| metrics.last_used() < idle);
      }));
    }
    if let Ok(mut slot) = self.background.lock() {
      for previous in std::mem::replace(&mut *slot, tasks) {
        previous.abort();
      }
    }
  }

  /// A task running `work` every `interval` while the store lives.
  fn every<Work: std::future::Future<Output = ()> + Send + 'static>(
    self: &Arc<Self>,
    interval: Duration,
    work: impl Fn(Arc<Store>) -> Work + Send + 'static,
  ) -> tokio::task::JoinHandle<()> {
    let store: Weak<Store> = Arc::downgrade(self);
    tokio::spawn(async move {
      let mut ticks = tokio::time::interval(interval);
      ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
      ticks.tick().await;
      loop {
        ticks.tick().await;
        let Some(store) = store.upgrade() else {
          break;
        };
        work(store).await;
      }
    })
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

  /// The coalescing queues, when coalescing is on and no pooled connection is free now (every
  /// one busy and callers already waiting): then a call joins the others of its kind.
  pub fn queues_if_busy(&self) -> Option<&Queues> {
    let queues = self.queues.as_ref()?;
    let status = self.pool.status();
    let free = status.waiting == 0 && (status.available > 0 || status.size < status.max_size);
    (!free).then_some(queues)
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
    crate::retry::with_client!(self, op, |client| async {
      client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| Error::from_pg(op, &e))
    })
  }

  /// Stops handing out connections and drops the idle ones; busy ones close when returned.
  pub fn close(&self) {
    if let Ok(mut slot) = self.background.lock() {
      for task in slot.drain(..) {
        task.abort();
      }
    }
    self.pool.close();
  }

  /// Pool figures.
  pub fn pool_status(&self) -> deadpool_postgres::Status {
    self.pool.status()
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

/// Parameters as tokio-postgres takes them.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A pooled connection or a transaction on one: deadpool's statement cache plus tokio-postgres'
/// one-shot typed queries.
pub trait Conn: GenericClient + Sync {
  /// The tokio-postgres client or transaction underneath.
  type Pg: tokio_postgres::GenericClient + Sync;
  /// The tokio-postgres client or transaction underneath.
  fn pg(&self) -> &Self::Pg;
}

impl Conn for Object {
  type Pg = tokio_postgres::Client;
  fn pg(&self) -> &tokio_postgres::Client {
    self
  }
}

impl<'a> Conn for deadpool_postgres::Transaction<'a> {
  type Pg = tokio_postgres::Transaction<'a>;
  fn pg(&self) -> &tokio_postgres::Transaction<'a> {
    self
  }
}

fn typed<'p>(stmt: &Stmt, params: &Params<'p>) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
  params
    .iter()
    .zip(stmt.types)
    .map(|(param, ty)| (*param, ty.clone()))
    .collect()
}

impl Store {
  /// The connection's prepared statement for `stmt` (prepared on first use, then cached).
  pub async fn prepared(&self, client: &impl Conn, stmt: &Stmt, op: Op<'_>) -> Result<Statement> {
    client
      .prepare_typed_cached(&stmt.text, stmt.types)
      .await
      .map_err(|e| Error::from_pg(op, &e))
  }

  /// Runs a statement and returns its rows: prepared and cached, or with `statementCache: false`
  /// as one unnamed typed statement (one round trip, nothing left on the server).
  pub async fn query(&self, client: &impl Conn, stmt: &Stmt, params: &Params<'_>, op: Op<'_>) -> Result<Vec<Row>> {
    let rows = if self.config.options.statement_cache.0 {
      let statement = self.prepared(client, stmt, op).await?;
      client.query(&statement, params).await
    } else {
      tokio_postgres::GenericClient::query_typed(client.pg(), &stmt.text, &typed(stmt, params)).await
    };
    rows.map_err(|e| Error::from_pg(op, &e))
  }

  /// Runs a statement and returns its first row, if any.
  pub async fn query_opt(
    &self,
    client: &impl Conn,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Option<Row>> {
    Ok(self.query(client, stmt, params, op).await?.into_iter().next())
  }

  /// Runs a statement and returns the number of rows it affected.
  pub async fn execute(&self, client: &impl Conn, stmt: &Stmt, params: &Params<'_>, op: Op<'_>) -> Result<u64> {
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    if self.config.options.statement_cache.0 {
      let statement = self.prepared(client, stmt, op).await?;
      return client.execute(&statement, params).await.map_err(pg_error);
    }
    let stream = tokio_postgres::GenericClient::query_typed_raw(client.pg(), &stmt.text, typed(stmt, params))
      .await
      .map_err(pg_error)?;
    futures_util::pin_mut!(stream);
    while stream.try_next().await.map_err(pg_error)?.is_some() {}
    Ok(stream.rows_affected().unwrap_or(0))
  }
}

/// What a write statement returned: its rows (`RETURNING`) and how many rows it affected.
pub struct Written {
  /// The rows it returned.
  pub rows: Vec<Row>,
  /// The rows it inserted, updated or deleted.
  pub count: u64,
}

impl Store {
  /// Runs one write statement and commits it. The call's deadline reaches the server: a statement
  /// still running at the deadline is cancelled there (see `retry::run_attempt`), so a write that
  /// fails with `E_TIMEOUT` never commits later.
  ///
  /// Alone it runs as one autocommit statement: the fastest form, and the one that costs the
  /// server least. With a lock bound (`attempt.lock_wait`, in coalesced groups) it runs in a
  /// transaction of its own that carries the timeouts to the server (see
  /// [`Attempt::begin_sql`]): `BEGIN` with them, the statement and `COMMIT` in one flight.
  pub async fn write(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    if attempt.lock_wait.is_some() {
      return self.write_in_transaction(client, attempt, stmt, params, op, true).await;
    }
    if attempt.deadline <= Instant::now() {
      return Err(self.deadline_passed(op));
    }
    let statement = self.statement_if_cached(client, stmt, op).await?;
    attempt.sending_write();
    self.run_write(client, stmt, statement.as_ref(), params, op).await
  }

  /// [`write`](Self::write) in a transaction left open for the caller to end with `COMMIT` or
  /// `ROLLBACK` (see [`end_write`](Self::end_write)); the timeouts go to the server with `BEGIN`,
  /// so that a client gone silent mid-transaction holds no lock past the deadline.
  pub async fn write_begun(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    self
      .write_in_transaction(client, attempt, stmt, params, op, false)
      .await
  }

  async fn write_in_transaction(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
    commit: bool,
  ) -> Result<Written> {
    let statement_timeout = self.config.options.statement_timeout_ms.map(|ms| ms.duration());
    let begin = attempt
      .begin_sql(statement_timeout)
      .ok_or_else(|| self.deadline_passed(op))?;
    // Prepared first: the three requests below must leave in order, each sent when its future is
    // first polled.
    let statement = self.statement_if_cached(client, stmt, op).await?;
    let pg: &tokio_postgres::Client = client;
    let end = async {
      match commit {
        // On a transaction the statement aborted, COMMIT rolls back (and succeeds).
        true => pg.batch_execute("COMMIT").await.map_err(|e| Error::from_pg(op, &e)),
        false => Ok(()),
      }
    };
    attempt.sending_write();
    let (begun, written, ended) = futures_util::join!(
      pg.batch_execute(&begin),
      self.run_write(client, stmt, statement.as_ref(), params, op),
      end
    );
    let outcome = begun.map_err(|e| Error::from_pg(op, &e)).and(written);
    if !commit {
      if let Err(error) = &outcome {
        // The failed statement left its transaction open (and aborted): end it here.
        if !error.is_connection_loss() {
          self.end_write(client, false, op).await?;
        }
      }
    }
    let written = outcome?;
    ended?;
    Ok(written)
  }

  /// The connection's prepared statement for `stmt`, or `None` with `statementCache: false`.
  async fn statement_if_cached(&self, client: &Object, stmt: &Stmt, op: Op<'_>) -> Result<Option<Statement>> {
    match self.config.options.statement_cache.0 {
      true => Ok(Some(self.prepared(client, stmt, op).await?)),
      false => Ok(None),
    }
  }

  /// Runs `stmt` (as `statement` when prepared) and collects its rows and row count. Its request
  /// is sent when the future is first polled.
  async fn run_write(
    &self,
    client: &Object,
    stmt: &Stmt,
    statement: Option<&Statement>,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    let pg: &tokio_postgres::Client = client;
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    let stream = match statement {
      Some(statement) => pg.query_raw(statement, params.iter().copied()).await,
      None => pg.query_typed_raw(&stmt.text, typed(stmt, params)).await,
    }
    .map_err(pg_error)?;
    futures_util::pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await.map_err(pg_error)? {
      rows.push(row);
    }
    Ok(Written {
      count: stream.rows_affected().unwrap_or(0),
      rows,
    })
  }

  /// Ends the transaction [`write_begun`](Self::write_begun) opened.
  pub async fn end_write(&self, client: &Object, commit: bool, op: Op<'_>) -> Result<()> {
    let pg: &tokio_postgres::Client = client;
    pg.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
      .await
      .map_err(|e| Error::from_pg(op, &e))
  }
}

/// The order of writes to one session: while one is in flight, the next for the same id waits
/// its turn, and turns are given in the order they were asked for (the calls' order).
#[derive(Default)]
pub struct Turns {
  held: Mutex<HashMap<String, Line>>,
}

/// The writes to one session in flight or waiting: the lock they take turns on, and how many.
type Line = (Arc<tokio::sync::Mutex<()>>, usize);

/// A write's turn on one session: held until dropped.
pub struct Turn<'a> {
  turns: &'a Turns,
  id: String,
  guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turns {
  /// Waits for the turn on `id`: after every write to it asked for earlier.
  pub fn take<'a>(&'a self, id: &str) -> impl Future<Output = Turn<'a>> + Send + 'a {
    let mutex = {
      let mut held = lock(&self.held);
      let entry = held.entry(id.to_owned()).or_default();
      entry.1 += 1;
      entry.0.clone()
    };
    // Counted before waiting, so that a wait given up on (its future dropped) is uncounted too.
    let mut turn = Turn {
      turns: self,
      id: id.to_owned(),
      guard: None,
    };
    async move {
      turn.guard = Some(mutex.lock_owned().await);
      turn
    }
  }

  /// Sessions with a write in flight or waiting.
  pub fn len(&self) -> usize {
    lock(&self.held).len()
  }

  /// Whether no session has a write in flight.
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
}

impl Drop for Turn<'_> {
  fn drop(&mut self) {
    let mut held = lock(&self.turns.held);
    self.guard = None;
    if let Some(entry) = held.get_mut(&self.id) {
      entry.1 -= 1;
      if entry.1 == 0 {
        held.remove(&self.id);
      }
    }
  }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
  /// For each of `keys` in order, the JSON `stmt` (`... WHERE <key> = ANY($1)`) returned for it in
  /// `columns` (key column, JSON column), or `None`: one statement for a group of lookups.
  pub async fn json_by_key(
    &self,
    client: &impl Conn,
    stmt: &Stmt,
    keys: &[&str],
    (key_column, json_column): (&str, &str),
    op: Op<'_>,
  ) -> Result<Vec<Option<String>>> {
    let rows = self.query(client, stmt, &[&keys], op).await?;
    let mut found: HashMap<&str, &str> = HashMap::with_capacity(rows.len());
    for row in &rows {
      found.insert(
        column(row, key_column, op)?,
        column::<RawJson<'_>>(row, json_column, op)?.0,
      );
    }
    Ok(
      keys
        .iter()
        .map(|key| found.get(key).map(|json| json.to_string()))
        .collect(),
    )
  }
}

/// Reads a column by name, turning a type mismatch into `E_QUERY` instead of a panic.
pub fn column<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, name: &str, op: Op<'_>) -> Result<T> {
  row.try_get(name).map_err(|e| Error::from_pg(op, &e))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn turns_on_one_id_are_given_in_the_order_asked_and_leave_nothing_behind() {
    let turns = Arc::new(Turns::default());
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = turns.take("a").await;
    let mut waiting = Vec::new();
    for index in 0..5 {
      let turns = turns.clone();
      let order = order.clone();
      let mut task = boxed(async move {
        let _turn = turns.take("a").await;
        lock(&order).push(index);
      });
      // Each asks in turn (first poll), then all wait behind `first`.
      assert!(futures_util::poll!(&mut task).is_pending());
      waiting.push(task);
    }
    let other = turns.take("b").await;
    assert_eq!(turns.len(), 2);
    drop(first);
    futures_util::future::join_all(waiting).await;
    assert_eq!(*lock(&order), vec![0, 1, 2, 3, 4]);
    drop(other);
    assert!(turns.is_empty());
  }

  #[tokio::test]
  async fn a_turn_given_up_on_while_waiting_leaves_nothing_behind() {
    let turns = Turns::default();
    let held = turns.take("a").await;
    let gave_up = tokio::time::timeout(Duration::from_millis(10), turns.take("a")).await;
    assert!(gave_up.is_err());
    drop(held);
    assert!(turns.is_empty());
  }

  fn boxed<F: Future<Output = ()>>(future: F) -> std::pin::Pin<Box<F>> {
    Box::pin(future)
  }
}
