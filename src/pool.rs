//! The connection pool (deadpool-postgres on tokio) with its timeouts, and the statement runner
//! every query goes through: pooled client, cached prepared statement, error classification.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool_postgres::{
  ClientWrapper, GenericClient, Hook, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use futures_util::TryStreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row, Statement};

use crate::config::{Config, SessionAttrs, SslMode, ToastCompression};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::schema::{Sql, Stmt};
use crate::tls;

/// Time allowed to check a pooled connection before reusing it.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Names the operation in error messages, e.g. `saveSession("abc")`; formatted only on failure.
#[derive(Clone, Copy)]
pub struct Op<'a> {
  /// The public method name.
  pub method: &'static str,
  /// The session id or key involved, if any.
  pub subject: Option<&'a str>,
}

impl<'a> Op<'a> {
  /// An operation on one id or key.
  pub fn on(method: &'static str, subject: &'a str) -> Self {
    Op {
      method,
      subject: Some(subject),
    }
  }

  /// An operation with no single subject.
  pub fn plain(method: &'static str) -> Self {
    Op { method, subject: None }
  }
}

impl fmt::Display for Op<'_> {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self.subject {
      Some(subject) => write!(f, "{}({subject:?})", self.method),
      None => write!(f, "{}()", self.method),
    }
  }
}

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
    with_client!(@run $store, $op, $store.config.pool_size as u32 + 1, $client, _attempt, $body)
  };
  ($store:expr, $op:expr, retry, |$client:ident, $attempt:ident| $body:expr) => {
    with_client!(@run $store, $op, $store.config.pool_size as u32 + 1, $client, $attempt, $body)
  };
  ($store:expr, $op:expr, once, |$client:ident| $body:expr) => {
    with_client!(@run $store, $op, 1, $client, _attempt, $body)
  };
  (@run $store:expr, $op:expr, $attempts:expr, $client:ident, $attempt:ident, $body:expr) => {{
    let mut $attempt: u32 = 1;
    loop {
      #[allow(unused_mut)]
      let mut $client = $store.client($op).await?;
      let result: $crate::error::Result<_> = $body.await;
      match result {
        Err(error) if error.is_connection_loss() => {
          $crate::pool::discard($client);
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

/// An open store: the pool, the SQL for its schema, and the config it was built from.
pub struct Store {
  pool: Pool,
  /// The adapter's counters (this store records retries).
  pub metrics: Arc<Metrics>,
  purge_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
  /// The SQL text of every statement.
  pub sql: Sql,
  /// The configuration the pool was built from.
  pub config: Config,
}

impl Store {
  /// Builds the pool. Opens no connection: the first `client()` call does.
  pub fn new(config: Config, sql: Sql, metrics: Arc<Metrics>) -> Result<Self> {
    let mut pg = tokio_postgres::Config::new();
    for host in &config.hosts {
      if host.starts_with('/') {
        pg.host_path(host);
      } else {
        pg.host(host);
      }
    }
    for port in &config.ports {
      pg.port(*port);
    }
    pg.dbname(&config.database)
      .user(&config.user)
      .password(&config.password)
      .application_name(&config.application_name)
      .connect_timeout(config.connect_timeout)
      .keepalives(true)
      .keepalives_idle(Duration::from_secs(30));
    pg.target_session_attrs(match config.target_session_attrs {
      SessionAttrs::Any => tokio_postgres::config::TargetSessionAttrs::Any,
      SessionAttrs::ReadWrite => tokio_postgres::config::TargetSessionAttrs::ReadWrite,
      SessionAttrs::ReadOnly => tokio_postgres::config::TargetSessionAttrs::ReadOnly,
    });
    if let Some(timeout) = config.statement_timeout {
      pg.options(format!("-c statement_timeout={}", timeout.as_millis()));
    }
    pg.ssl_mode(match config.ssl_mode {
      SslMode::Disable => tokio_postgres::config::SslMode::Disable,
      SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
      SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    let manager_config = ManagerConfig {
      recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.ssl_mode {
      SslMode::Disable => Manager::from_config(pg, NoTls, manager_config),
      _ => Manager::from_config(pg, tls::connector(&config)?, manager_config),
    };
    // tokio-postgres' connect_timeout bounds the TCP connect only; the pool's create timeout bounds
    // the whole opening (TCP, TLS, login), allowing each host its turn.
    let create_timeout = config.connect_timeout * (config.hosts.len() as u32).max(1);
    let toast_setting = match config.toast_compression {
      ToastCompression::Lz4 => Some("SET default_toast_compression = 'lz4'"),
      ToastCompression::Pglz => Some("SET default_toast_compression = 'pglz'"),
      ToastCompression::Server => None,
    };
    let pool = Pool::builder(manager)
      .post_create(Hook::async_fn(move |client: &mut ClientWrapper, _| {
        Box::pin(async move {
          if let Some(statement) = toast_setting {
            // Servers before 14, or built without lz4, refuse it: they keep their own setting.
            let _ = client.simple_query(statement).await;
          }
          Ok(())
        })
      }))
      .max_size(config.pool_size)
      .runtime(Runtime::Tokio1)
      .wait_timeout(Some(config.acquire_timeout))
      .create_timeout(Some(create_timeout))
      .recycle_timeout(Some(RECYCLE_TIMEOUT))
      .build()
      .map_err(|e| Error::config("poolSize", format!("cannot build the pool: {e}")))?;
    Ok(Store {
      pool,
      metrics,
      purge_task: Mutex::new(None),
      sql,
      config,
    })
  }

  /// Starts the background purge of expired key-value entries when `purgeIntervalMs` is set.
  /// The task runs on the tokio runtime (it never keeps Node's event loop alive) and ends with
  /// the store.
  pub fn start_purge_task(self: &Arc<Self>) {
    let Some(interval) = self.config.purge_interval else {
      return;
    };
    let store: Weak<Store> = Arc::downgrade(self);
    let task = tokio::spawn(async move {
      let mut ticks = tokio::time::interval(interval);
      ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
      ticks.tick().await;
      loop {
        ticks.tick().await;
        let Some(store) = store.upgrade() else {
          break;
        };
        // A failed purge is retried at the next tick; expired entries already read as absent.
        let _ = store.purge_expired().await;
      }
    });
    if let Ok(mut slot) = self.purge_task.lock() {
      if let Some(previous) = slot.replace(task) {
        previous.abort();
      }
    }
  }

  /// A pooled connection, or `E_TIMEOUT` / `E_CONNECTION` / `E_CLOSED`.
  pub async fn client(&self, op: Op<'_>) -> Result<Object> {
    self.pool.get().await.map_err(|e| Error::from_pool(&op.to_string(), e))
  }

  /// Creates the schema if missing and prepares every statement on that connection, so the
  /// first call after `initialize()` is as fast as the rest.
  pub async fn create_schema(&self) -> Result<()> {
    let op = Op::plain("initialize");
    let client = self.client(op).await?;
    client
      .batch_execute(&self.sql.create_schema)
      .await
      .map_err(|e| Error::from_pg(&op.to_string(), &e))?;
    // The tables may have been dropped and recreated: forget plans made against the old ones.
    self.pool.manager().statement_caches.clear();
    if self.config.statement_cache {
      for stmt in self.sql.statements() {
        self.prepared(&client, stmt, op).await?;
      }
    }
    Ok(())
  }

  /// Runs `SELECT 1`.
  pub async fn ping(&self) -> Result<()> {
    let op = Op::plain("healthCheck");
    with_client!(self, op, retry, |client| async {
      client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| Error::from_pg(&op.to_string(), &e))
    })
  }

  /// Stops handing out connections and drops the idle ones; busy ones close when returned.
  pub fn close(&self) {
    if let Ok(mut slot) = self.purge_task.lock() {
      if let Some(task) = slot.take() {
        task.abort();
      }
    }
    self.pool.close();
  }

  /// Pool figures: (max size, open connections, idle connections, callers waiting).
  pub fn pool_status(&self) -> (usize, usize, usize, usize) {
    let status = self.pool.status();
    (status.max_size, status.size, status.available, status.waiting)
  }
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
  async fn prepared(&self, client: &impl Conn, stmt: &Stmt, op: Op<'_>) -> Result<Statement> {
    client
      .prepare_typed_cached(&stmt.text, stmt.types)
      .await
      .map_err(|e| Error::from_pg(&op.to_string(), &e))
  }

  /// Runs a statement and returns its rows: prepared and cached, or with `statementCache: false`
  /// as one unnamed typed statement (one round trip, nothing left on the server).
  pub async fn query(&self, client: &impl Conn, stmt: &Stmt, params: &Params<'_>, op: Op<'_>) -> Result<Vec<Row>> {
    let rows = if self.config.statement_cache {
      let statement = self.prepared(client, stmt, op).await?;
      client.query(&statement, params).await
    } else {
      tokio_postgres::GenericClient::query_typed(client.pg(), &stmt.text, &typed(stmt, params)).await
    };
    rows.map_err(|e| Error::from_pg(&op.to_string(), &e))
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
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(&op.to_string(), &e);
    if self.config.statement_cache {
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

/// Reads a column, turning a type mismatch into `E_QUERY` instead of a panic.
pub fn column<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, index: usize, op: Op<'_>) -> Result<T> {
  row.try_get(index).map_err(|e| Error::from_pg(&op.to_string(), &e))
}
