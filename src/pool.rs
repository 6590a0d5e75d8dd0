//! The connection pool: deadpool-postgres on tokio, with the connect, acquire and recycle
//! timeouts, TCP keepalives and TLS.
//!
//! A new connection runs no `SET`: behind PgBouncer's transaction pooling a session setting would
//! stay on a shared server connection, for other applications.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::{Config, SessionAttrs, SslMode};
use crate::error::{Error, Result};
use crate::tls;

/// Time allowed to check a pooled connection before reusing it.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time before the first TCP keepalive probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between unanswered keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection is dropped.
const KEEPALIVE_RETRIES: u32 = 3;

/// Builds the pool. Opens no connection: the first `get()` does.
pub fn build(config: &Config) -> Result<Pool> {
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
    .password(config.password.expose())
    .application_name(&config.application_name)
    .connect_timeout(config.connect_timeout)
    // A peer that vanished (host down, NAT or load balancer state dropped) is noticed on idle
    // connections within about a minute, and under unacknowledged writes within the call's
    // deadline (Linux: TCP_USER_TIMEOUT); calls themselves are bounded by queryTimeoutMs.
    .keepalives(true)
    .keepalives_idle(KEEPALIVE_IDLE)
    .keepalives_interval(KEEPALIVE_INTERVAL)
    .keepalives_retries(KEEPALIVE_RETRIES)
    .tcp_user_timeout(config.options.query_timeout_ms.duration());
  pg.target_session_attrs(match config.target_session_attrs {
    SessionAttrs::Any => tokio_postgres::config::TargetSessionAttrs::Any,
    SessionAttrs::ReadWrite => tokio_postgres::config::TargetSessionAttrs::ReadWrite,
    SessionAttrs::ReadOnly => tokio_postgres::config::TargetSessionAttrs::ReadOnly,
  });
  if let Some(timeout) = config.options.statement_timeout_ms {
    // A startup parameter of our own connection, not a SET: PgBouncer does not pass it on to
    // its shared server connections.
    pg.options(format!("-c statement_timeout={}", timeout.0));
  }
  pg.ssl_mode(match config.tls.mode {
    SslMode::Disable => tokio_postgres::config::SslMode::Disable,
    SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
    SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
  });
  let manager_config = ManagerConfig {
    recycling_method: RecyclingMethod::Fast,
  };
  let manager = match config.tls.mode {
    SslMode::Disable => Manager::from_config(pg, NoTls, manager_config),
    _ => Manager::from_config(pg, tls::connector(&config.tls)?, manager_config),
  };
  // tokio-postgres' connect_timeout bounds the TCP connect only; the pool's create timeout bounds
  // the whole opening (TCP, TLS, login), allowing each host its turn.
  let create_timeout = config.connect_timeout * (config.hosts.len() as u32).max(1);
  Pool::builder(manager)
    .max_size(config.options.pool_size.0 as usize)
    .runtime(Runtime::Tokio1)
    .wait_timeout(Some(config.options.acquire_timeout_ms.duration()))
    .create_timeout(Some(create_timeout))
    .recycle_timeout(Some(RECYCLE_TIMEOUT))
    .build()
    .map_err(|e| Error::config("poolSize", format!("cannot build the pool: {e}")))
}
