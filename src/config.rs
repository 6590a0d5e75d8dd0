//! Options -> validated [`Config`]: URL parsing, PG* environment fallback and every default.
//!
//! Precedence for each connection field: the URL (`connectionString`, or a `postgres://` `location`
//! given to `initialize`) > the explicit option > the standard PG* environment variable > the default.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Default host when neither options, URL nor `PGHOST` name one.
pub const DEFAULT_HOST: &str = "localhost";
/// Default port.
pub const DEFAULT_PORT: u16 = 5432;
/// Default database (the contract's).
pub const DEFAULT_DATABASE: &str = "smalltalk";
/// Default user.
pub const DEFAULT_USER: &str = "postgres";
/// Default password (the contract's; ignored by servers that trust the connection).
pub const DEFAULT_PASSWORD: &str = "postgres";
/// Default maximum number of pooled connections.
pub const DEFAULT_POOL_SIZE: usize = 10;
/// Largest accepted `poolSize`.
pub const MAX_POOL_SIZE: usize = 10_000;
/// Default time allowed to open one connection (TCP + TLS + login).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Default time a call waits for a free pooled connection.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 10_000;
/// Default `application_name` reported to the server.
pub const DEFAULT_APPLICATION_NAME: &str = "smalltalk-postgres-storage";

/// How (and whether) the connection is encrypted. Mirrors libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
  /// Plain TCP.
  Disable,
  /// TLS when the server offers it, plain otherwise; the certificate is not checked.
  Prefer,
  /// TLS required; the certificate is not checked (libpq's `require`).
  Require,
  /// TLS required; the certificate must chain to a trusted CA (hostname not checked).
  VerifyCa,
  /// TLS required; the certificate must chain to a trusted CA and name the host.
  VerifyFull,
}

impl SslMode {
  fn parse(field: &str, text: &str) -> Result<Self> {
    match text {
      "disable" => Ok(SslMode::Disable),
      "allow" | "prefer" => Ok(SslMode::Prefer),
      "require" => Ok(SslMode::Require),
      "verify-ca" => Ok(SslMode::VerifyCa),
      "verify-full" => Ok(SslMode::VerifyFull),
      other => Err(Error::config(
        field,
        format!("expected disable, prefer, require, verify-ca or verify-full, got {other:?}"),
      )),
    }
  }
}

/// How large session values are compressed when PostgreSQL moves them to TOAST storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastCompression {
  /// `lz4` (PostgreSQL 14+ built with lz4): far cheaper to write and read than `pglz`.
  Lz4,
  /// `pglz`, PostgreSQL's historical default.
  Pglz,
  /// Leave the server's `default_toast_compression` alone.
  Server,
}

/// Which server of a multi-host list a connection may use (libpq's `target_session_attrs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
  /// The first server that accepts the connection.
  Any,
  /// Only a server that accepts writes (a primary, not a standby).
  ReadWrite,
  /// Only a server that is read-only (a standby).
  ReadOnly,
}

impl SessionAttrs {
  fn parse(field: &str, text: &str) -> Result<Self> {
    match text {
      "any" => Ok(SessionAttrs::Any),
      "read-write" => Ok(SessionAttrs::ReadWrite),
      "read-only" => Ok(SessionAttrs::ReadOnly),
      other => Err(Error::config(
        field,
        format!("expected any, read-write or read-only, got {other:?}"),
      )),
    }
  }
}

/// A fully resolved, validated configuration. Two equal configs can share one pool.
#[derive(Clone, PartialEq)]
pub struct Config {
  /// Hosts to try in order (a leading `/` means a Unix socket directory).
  pub hosts: Vec<String>,
  /// One port for all hosts, or one per host.
  pub ports: Vec<u16>,
  /// Database name.
  pub database: String,
  /// Login role.
  pub user: String,
  /// Password (never printed: see the `Debug` impl).
  pub password: String,
  /// Maximum pooled connections.
  pub pool_size: usize,
  /// TLS mode.
  pub ssl_mode: SslMode,
  /// PEM file with the CA certificate(s) to trust for verify-ca / verify-full.
  pub ssl_root_cert: Option<PathBuf>,
  /// PEM text of CA certificate(s) to trust, given inline (`ssl: { ca }`).
  pub ssl_ca_pem: Option<String>,
  /// Time allowed to open one connection.
  pub connect_timeout: Duration,
  /// Time a call waits for a pooled connection before failing with `E_TIMEOUT`.
  pub acquire_timeout: Duration,
  /// `application_name` reported to the server.
  pub application_name: String,
  /// Server-side `statement_timeout` set on every connection; `None` = the server's default.
  pub statement_timeout: Option<Duration>,
  /// How often expired key-value entries are deleted in the background; `None` = never.
  pub purge_interval: Option<Duration>,
  /// Schema holding the tables; `None` = unqualified names (the connection's `search_path`).
  pub schema: Option<String>,
  /// Prepare each statement once per connection (`true`), or send one-shot typed statements
  /// (`false`, for PgBouncer's transaction pooling, which does not keep prepared statements).
  pub statement_cache: bool,
  /// Which of several hosts to use.
  pub target_session_attrs: SessionAttrs,
  /// `default_toast_compression` set on each new connection.
  pub toast_compression: ToastCompression,
}

impl fmt::Debug for Config {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct("Config")
      .field("hosts", &self.hosts)
      .field("ports", &self.ports)
      .field("database", &self.database)
      .field("user", &self.user)
      .field("password", &"***")
      .field("pool_size", &self.pool_size)
      .field("ssl_mode", &self.ssl_mode)
      .field("ssl_root_cert", &self.ssl_root_cert)
      .field("connect_timeout", &self.connect_timeout)
      .field("acquire_timeout", &self.acquire_timeout)
      .field("statement_timeout", &self.statement_timeout)
      .field("purge_interval", &self.purge_interval)
      .field("schema", &self.schema)
      .field("statement_cache", &self.statement_cache)
      .field("target_session_attrs", &self.target_session_attrs)
      .field("toast_compression", &self.toast_compression)
      .finish()
  }
}

/// Reads one environment variable; injected so tests do not depend on the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for production use.
pub fn process_env(name: &str) -> Option<String> {
  std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Parses the options object (as JSON text) handed over by the JS face.
pub fn parse_options(json: &str) -> Result<Map<String, Value>> {
  match serde_json::from_str::<Value>(json) {
    Ok(Value::Object(map)) => Ok(map),
    Ok(Value::Null) => Ok(Map::new()),
    Ok(_) => Err(Error::config("config", "expected an object")),
    Err(e) => Err(Error::config("config", format!("not valid JSON: {e}"))),
  }
}

/// Applies what `initialize(config)` may change: a `postgres://` `location` replaces the
/// connection, `options.poolSize` / `options.sslMode` override. Any other location is ignored.
pub fn apply_initialize_overrides(base: &Map<String, Value>, overrides: &Map<String, Value>) -> Map<String, Value> {
  let mut merged = base.clone();
  if let Some(Value::String(location)) = overrides.get("location") {
    if is_postgres_url(location) {
      merged.insert("connectionString".into(), Value::String(location.clone()));
    }
  }
  if let Some(Value::Object(options)) = overrides.get("options") {
    for key in ["poolSize", "sslMode"] {
      if let Some(value) = options.get(key) {
        if !value.is_null() {
          merged.insert(key.into(), value.clone());
        }
      }
    }
  }
  merged
}

/// True for `postgres://` and `postgresql://` URLs.
pub fn is_postgres_url(text: &str) -> bool {
  let lower = text.trim_start().to_ascii_lowercase();
  lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Resolves options + environment + defaults into a validated [`Config`].
pub fn resolve(options: &Map<String, Value>, env: EnvLookup<'_>) -> Result<Config> {
  let url = match options.get("connectionString") {
    None | Some(Value::Null) => None,
    Some(Value::String(text)) => Some(parse_url("connectionString", text)?),
    Some(_) => return Err(Error::config("connectionString", "expected a postgres:// URL string")),
  };
  let url = url.unwrap_or_default();

  let hosts = match url.hosts.clone() {
    Some(hosts) => hosts,
    None => match options.get("host") {
      None | Some(Value::Null) => env("PGHOST")
        .map(|text| split_list(&text))
        .unwrap_or_else(|| vec![DEFAULT_HOST.to_string()]),
      Some(value) => host_list(value)?,
    },
  };
  let ports = match url.ports.clone() {
    Some(ports) => ports,
    None => match options.get("port") {
      None | Some(Value::Null) => match env("PGPORT") {
        Some(text) => split_list(&text)
          .iter()
          .map(|part| parse_port("PGPORT", part))
          .collect::<Result<Vec<_>>>()?,
        None => vec![DEFAULT_PORT],
      },
      Some(Value::Array(items)) => items
        .iter()
        .map(|item| port_value("port", item))
        .collect::<Result<Vec<_>>>()?,
      Some(value) => vec![port_value("port", value)?],
    },
  };
  if ports.len() != 1 && ports.len() != hosts.len() {
    return Err(Error::config(
      "port",
      format!(
        "{} ports given for {} hosts; give one port, or one per host",
        ports.len(),
        hosts.len()
      ),
    ));
  }

  let database = pick_string(
    url.database.clone(),
    options,
    "database",
    env,
    "PGDATABASE",
    DEFAULT_DATABASE,
  )?;
  let user = pick_string(url.user.clone(), options, "user", env, "PGUSER", DEFAULT_USER)?;
  let password = pick_string(
    url.password.clone(),
    options,
    "password",
    env,
    "PGPASSWORD",
    DEFAULT_PASSWORD,
  )?;
  if database.is_empty() {
    return Err(Error::config("database", "must not be empty"));
  }
  if user.is_empty() {
    return Err(Error::config("user", "must not be empty"));
  }

  let pool_size = match options.get("poolSize") {
    None | Some(Value::Null) => DEFAULT_POOL_SIZE,
    Some(value) => {
      let size = integer("poolSize", value)?;
      if size < 1 || size > MAX_POOL_SIZE as i64 {
        return Err(Error::config(
          "poolSize",
          format!("must be an integer from 1 to {MAX_POOL_SIZE}, got {value}"),
        ));
      }
      size as usize
    }
  };

  let (ssl_mode, ssl_ca_pem) = resolve_ssl(&url, options, env)?;
  let ssl_root_cert = match url.ssl_root_cert.clone() {
    Some(path) => Some(path),
    None => match options.get("sslRootCert") {
      None | Some(Value::Null) => env("PGSSLROOTCERT"),
      Some(Value::String(path)) => Some(path.clone()),
      Some(_) => return Err(Error::config("sslRootCert", "expected a file path string")),
    },
  }
  .map(PathBuf::from);

  let connect_timeout = match url.connect_timeout_s {
    Some(seconds) => Duration::from_secs(seconds),
    None => duration_ms(
      options,
      "connectTimeoutMs",
      env("PGCONNECT_TIMEOUT"),
      DEFAULT_CONNECT_TIMEOUT_MS,
    )?,
  };
  let acquire_timeout = duration_ms(options, "acquireTimeoutMs", None, DEFAULT_ACQUIRE_TIMEOUT_MS)?;
  let statement_timeout = optional_duration_ms(options, "statementTimeoutMs")?;
  let purge_interval = optional_duration_ms(options, "purgeIntervalMs")?;
  let schema = match options.get("schema") {
    None | Some(Value::Null) => None,
    Some(Value::String(name)) => {
      crate::schema::check_schema_name(name)?;
      Some(name.clone())
    }
    Some(other) => {
      return Err(Error::config(
        "schema",
        format!("expected a string, got {}", type_name(other)),
      ))
    }
  };
  let statement_cache = match options.get("statementCache") {
    None | Some(Value::Null) => true,
    Some(Value::Bool(enabled)) => *enabled,
    Some(other) => {
      return Err(Error::config(
        "statementCache",
        format!("expected a boolean, got {}", type_name(other)),
      ))
    }
  };
  let toast_compression = match options.get("toastCompression") {
    None | Some(Value::Null) => ToastCompression::Lz4,
    Some(Value::String(text)) => match text.as_str() {
      "lz4" => ToastCompression::Lz4,
      "pglz" => ToastCompression::Pglz,
      "server" => ToastCompression::Server,
      other => {
        return Err(Error::config(
          "toastCompression",
          format!("expected lz4, pglz or server, got {other:?}"),
        ))
      }
    },
    Some(other) => {
      return Err(Error::config(
        "toastCompression",
        format!("expected a string, got {}", type_name(other)),
      ))
    }
  };
  let target_session_attrs = match url.target_session_attrs {
    Some(attrs) => attrs,
    None => match options.get("targetSessionAttrs") {
      None | Some(Value::Null) => match env("PGTARGETSESSIONATTRS") {
        Some(text) => SessionAttrs::parse("PGTARGETSESSIONATTRS", &text)?,
        None => SessionAttrs::Any,
      },
      Some(Value::String(text)) => SessionAttrs::parse("targetSessionAttrs", text)?,
      Some(other) => {
        return Err(Error::config(
          "targetSessionAttrs",
          format!("expected a string, got {}", type_name(other)),
        ))
      }
    },
  };
  let application_name = pick_string(
    url.application_name.clone(),
    options,
    "applicationName",
    env,
    "PGAPPNAME",
    DEFAULT_APPLICATION_NAME,
  )?;

  Ok(Config {
    hosts,
    ports,
    database,
    user,
    password,
    pool_size,
    ssl_mode,
    ssl_root_cert,
    ssl_ca_pem,
    connect_timeout,
    acquire_timeout,
    application_name,
    statement_timeout,
    purge_interval,
    schema,
    statement_cache,
    target_session_attrs,
    toast_compression,
  })
}

fn resolve_ssl(url: &UrlParts, options: &Map<String, Value>, env: EnvLookup<'_>) -> Result<(SslMode, Option<String>)> {
  let mut ca_pem = None;
  // `ssl` as pg has it: true/false, or an object whose `rejectUnauthorized: false` means "encrypt, do not verify".
  let from_ssl_option = match options.get("ssl") {
    None | Some(Value::Null) => None,
    Some(Value::Bool(true)) => Some(SslMode::Require),
    Some(Value::Bool(false)) => Some(SslMode::Disable),
    Some(Value::Object(tls)) => {
      match tls.get("ca") {
        None | Some(Value::Null) => {}
        Some(Value::String(pem)) => ca_pem = Some(pem.clone()),
        Some(_) => return Err(Error::config("ssl.ca", "expected PEM text")),
      }
      match tls.get("rejectUnauthorized") {
        Some(Value::Bool(false)) => Some(SslMode::Require),
        None | Some(Value::Null) | Some(Value::Bool(true)) => Some(SslMode::VerifyFull),
        Some(_) => return Err(Error::config("ssl.rejectUnauthorized", "expected a boolean")),
      }
    }
    Some(_) => return Err(Error::config("ssl", "expected a boolean or an object")),
  };
  let mode = if let Some(mode) = url.ssl_mode {
    mode
  } else if let Some(value) = options.get("sslMode").filter(|v| !v.is_null()) {
    match value {
      Value::String(text) => SslMode::parse("sslMode", text)?,
      _ => return Err(Error::config("sslMode", "expected a string")),
    }
  } else if let Some(mode) = from_ssl_option {
    mode
  } else if let Some(text) = env("PGSSLMODE") {
    SslMode::parse("PGSSLMODE", &text)?
  } else {
    SslMode::Disable
  };
  Ok((mode, ca_pem))
}

fn pick_string(
  from_url: Option<String>,
  options: &Map<String, Value>,
  field: &str,
  env: EnvLookup<'_>,
  env_name: &str,
  default: &str,
) -> Result<String> {
  if let Some(value) = from_url {
    return Ok(value);
  }
  match options.get(field) {
    None | Some(Value::Null) => Ok(env(env_name).unwrap_or_else(|| default.to_string())),
    Some(Value::String(text)) => Ok(text.clone()),
    Some(other) => Err(Error::config(
      field,
      format!("expected a string, got {}", type_name(other)),
    )),
  }
}

fn host_list(value: &Value) -> Result<Vec<String>> {
  let hosts = match value {
    Value::String(text) => split_list(text),
    Value::Array(items) => items
      .iter()
      .map(|item| match item {
        Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
        _ => Err(Error::config("host", "expected every host to be a non-empty string")),
      })
      .collect::<Result<Vec<_>>>()?,
    other => {
      return Err(Error::config(
        "host",
        format!("expected a string or an array of strings, got {}", type_name(other)),
      ))
    }
  };
  if hosts.is_empty() {
    return Err(Error::config("host", "must not be empty"));
  }
  Ok(hosts)
}

fn split_list(text: &str) -> Vec<String> {
  text
    .split(',')
    .map(str::trim)
    .filter(|part| !part.is_empty())
    .map(str::to_string)
    .collect()
}

fn port_value(field: &str, value: &Value) -> Result<u16> {
  match value {
    Value::String(text) => parse_port(field, text),
    Value::Number(_) => {
      let port = integer(field, value)?;
      u16::try_from(port)
        .ok()
        .filter(|port| *port > 0)
        .ok_or_else(|| Error::config(field, format!("must be an integer from 1 to 65535, got {port}")))
    }
    other => Err(Error::config(
      field,
      format!("expected a number, got {}", type_name(other)),
    )),
  }
}

fn parse_port(field: &str, text: &str) -> Result<u16> {
  text
    .trim()
    .parse::<u16>()
    .ok()
    .filter(|port| *port > 0)
    .ok_or_else(|| Error::config(field, format!("must be an integer from 1 to 65535, got {text:?}")))
}

fn integer(field: &str, value: &Value) -> Result<i64> {
  match value {
    Value::Number(number) => {
      if let Some(int) = number.as_i64() {
        return Ok(int);
      }
      match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Ok(float as i64),
        _ => Err(Error::config(field, format!("expected an integer, got {number}"))),
      }
    }
    other => Err(Error::config(
      field,
      format!("expected an integer, got {}", type_name(other)),
    )),
  }
}

fn duration_ms(
  options: &Map<String, Value>,
  field: &str,
  env_seconds: Option<String>,
  default_ms: u64,
) -> Result<Duration> {
  match options.get(field) {
    None | Some(Value::Null) => match env_seconds {
      Some(text) => text
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
          Error::config(
            field,
            format!("environment value {text:?} is not a positive number of seconds"),
          )
        }),
      None => Ok(Duration::from_millis(default_ms)),
    },
    Some(value) => {
      let ms = integer(field, value)?;
      if ms <= 0 {
        return Err(Error::config(
          field,
          format!("must be a positive number of milliseconds, got {ms}"),
        ));
      }
      Ok(Duration::from_millis(ms as u64))
    }
  }
}

fn optional_duration_ms(options: &Map<String, Value>, field: &str) -> Result<Option<Duration>> {
  match options.get(field) {
    None | Some(Value::Null) => Ok(None),
    Some(value) => {
      let ms = integer(field, value)?;
      if ms <= 0 || ms > i64::from(i32::MAX) {
        return Err(Error::config(
          field,
          format!("must be a positive number of milliseconds up to {}, got {ms}", i32::MAX),
        ));
      }
      Ok(Some(Duration::from_millis(ms as u64)))
    }
  }
}

fn type_name(value: &Value) -> &'static str {
  match value {
    Value::Null => "null",
    Value::Bool(_) => "a boolean",
    Value::Number(_) => "a number",
    Value::String(_) => "a string",
    Value::Array(_) => "an array",
    Value::Object(_) => "an object",
  }
}

/// What a connection URL says; `None` fields fall through to options and environment.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UrlParts {
  pub hosts: Option<Vec<String>>,
  pub ports: Option<Vec<u16>>,
  pub user: Option<String>,
  pub password: Option<String>,
  pub database: Option<String>,
  pub ssl_mode: Option<SslMode>,
  pub ssl_root_cert: Option<String>,
  pub connect_timeout_s: Option<u64>,
  pub application_name: Option<String>,
  pub target_session_attrs: Option<SessionAttrs>,
}

/// Parses `postgres[ql]://[user[:password]@][host[:port][,...]][/database][?param=value&...]`.
/// Error messages never repeat the URL (it may carry a password).
pub fn parse_url(field: &str, url: &str) -> Result<UrlParts> {
  let url = url.trim();
  let rest = strip_scheme(url)
    .ok_or_else(|| Error::config(field, "expected a URL starting with postgres:// or postgresql://"))?;
  let (before_query, query) = match rest.split_once('?') {
    Some((head, query)) => (head, Some(query)),
    None => (rest, None),
  };
  let (authority, path) = match before_query.find('/') {
    Some(slash) => (&before_query[..slash], Some(&before_query[slash + 1..])),
    None => (before_query, None),
  };
  let mut parts = UrlParts::default();
  let hostlist = match authority.rfind('@') {
    Some(at) => {
      let userinfo = &authority[..at];
      let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
      };
      if !user.is_empty() {
        parts.user = Some(percent_decode(field, user)?);
      }
      if let Some(password) = password {
        parts.password = Some(percent_decode(field, password)?);
      }
      &authority[at + 1..]
    }
    None => authority,
  };
  if !hostlist.is_empty() {
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for entry in hostlist.split(',') {
      let (host, port) = split_host_port(field, entry)?;
      if !host.is_empty() {
        hosts.push(percent_decode(field, host)?);
      }
      if let Some(port) = port {
        ports.push(parse_port(field, port)?);
      }
    }
    if !hosts.is_empty() {
      parts.hosts = Some(hosts);
    }
    if !ports.is_empty() {
      parts.ports = Some(ports);
    }
  }
  if let Some(path) = path {
    if !path.is_empty() {
      parts.database = Some(percent_decode(field, path)?);
    }
  }
  for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    let value = percent_decode(field, value)?;
    match key {
      "sslmode" => parts.ssl_mode = Some(SslMode::parse(&format!("{field} sslmode"), &value)?),
      "sslrootcert" => parts.ssl_root_cert = Some(value),
      "connect_timeout" => {
        let seconds = value
          .parse::<u64>()
          .ok()
          .filter(|seconds| *seconds > 0)
          .ok_or_else(|| Error::config(field, format!("connect_timeout must be a positive number of seconds, got {value:?}")))?;
        parts.connect_timeout_s = Some(seconds);
      }
      "application_name" => parts.application_name = Some(value),
      "host" => parts.hosts = Some(split_list(&value)),
      "port" => parts.ports = Some(split_list(&value).iter().map(|p| parse_port(field, p)).collect::<Result<_>>()?),
      "user" => parts.user = Some(value),
      "password" => parts.password = Some(value),
      "dbname" => parts.database = Some(value),
      "target_session_attrs" => {
        parts.target_session_attrs = Some(SessionAttrs::parse(&format!("{field} target_session_attrs"), &value)?)
      }
      other => {
        return Err(Error::config(
          field,
          format!(
            "unsupported URL parameter {other:?} (supported: sslmode, sslrootcert, connect_timeout, application_name, host, port, user, password, dbname, target_session_attrs)"
          ),
        ))
      }
    }
  }
  Ok(parts)
}

fn strip_scheme(url: &str) -> Option<&str> {
  for scheme in ["postgresql://", "postgres://"] {
    if url.len() >= scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme) {
      return Some(&url[scheme.len()..]);
    }
  }
  None
}

fn split_host_port<'a>(field: &str, entry: &'a str) -> Result<(&'a str, Option<&'a str>)> {
  if let Some(bracketed) = entry.strip_prefix('[') {
    let close = bracketed
      .find(']')
      .ok_or_else(|| Error::config(field, "unterminated [ in an IPv6 host"))?;
    let host = &bracketed[..close];
    let after = &bracketed[close + 1..];
    return match after.strip_prefix(':') {
      Some(port) => Ok((host, Some(port))),
      None if after.is_empty() => Ok((host, None)),
      None => Err(Error::config(field, "unexpected text after an IPv6 host")),
    };
  }
  match entry.rsplit_once(':') {
    Some((host, port)) => Ok((host, Some(port))),
    None => Ok((entry, None)),
  }
}

fn percent_decode(field: &str, text: &str) -> Result<String> {
  let bytes = text.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut index = 0;
  while index < bytes.len() {
    if bytes[index] == b'%' {
      let hex = bytes
        .get(index + 1..index + 3)
        .and_then(|pair| std::str::from_utf8(pair).ok())
        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        .ok_or_else(|| Error::config(field, "invalid percent-encoding in the URL"))?;
      out.push(hex);
      index += 3;
    } else {
      out.push(bytes[index]);
      index += 1;
    }
  }
  String::from_utf8(out).map_err(|_| Error::config(field, "the URL decodes to invalid UTF-8"))
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  fn no_env(_: &str) -> Option<String> {
    None
  }

  fn opts(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
  }

  #[test]
  fn defaults_are_the_contracts() {
    let config = resolve(&Map::new(), &no_env).unwrap();
    assert_eq!(config.hosts, vec!["localhost"]);
    assert_eq!(config.ports, vec![5432]);
    assert_eq!(config.database, "smalltalk");
    assert_eq!(config.user, "postgres");
    assert_eq!(config.password, "postgres");
    assert_eq!(config.pool_size, 10);
    assert_eq!(config.ssl_mode, SslMode::Disable);
  }

  #[test]
  fn explicit_options_beat_environment() {
    let env = |name: &str| match name {
      "PGHOST" => Some("envhost".to_string()),
      "PGPORT" => Some("6000".to_string()),
      "PGDATABASE" => Some("envdb".to_string()),
      "PGUSER" => Some("envuser".to_string()),
      _ => None,
    };
    let config = resolve(&opts(json!({"host": "h", "database": "d"})), &env).unwrap();
    assert_eq!(config.hosts, vec!["h"]);
    assert_eq!(config.ports, vec![6000]);
    assert_eq!(config.database, "d");
    assert_eq!(config.user, "envuser");
  }

  #[test]
  fn url_beats_explicit_options() {
    let options = opts(json!({
      "host": "ignored", "user": "ignored", "poolSize": 3,
      "connectionString": "postgresql://app:p%40ss@db.example:6543/sessions?sslmode=require&application_name=x"
    }));
    let config = resolve(&options, &no_env).unwrap();
    assert_eq!(config.hosts, vec!["db.example"]);
    assert_eq!(config.ports, vec![6543]);
    assert_eq!(config.user, "app");
    assert_eq!(config.password, "p@ss");
    assert_eq!(config.database, "sessions");
    assert_eq!(config.ssl_mode, SslMode::Require);
    assert_eq!(config.application_name, "x");
    assert_eq!(config.pool_size, 3);
  }

  #[test]
  fn url_forms() {
    let parts = parse_url("u", "postgres://a:1,b:2,[::1]:3/db").unwrap();
    assert_eq!(parts.hosts.unwrap(), vec!["a", "b", "::1"]);
    assert_eq!(parts.ports.unwrap(), vec![1, 2, 3]);
    let parts = parse_url("u", "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql").unwrap();
    assert_eq!(parts.hosts.unwrap(), vec!["/var/run/postgresql"]);
    assert_eq!(parts.database.unwrap(), "db");
    let parts = parse_url("u", "POSTGRESQL://localhost").unwrap();
    assert_eq!(parts.database, None);
    assert_eq!(
      parse_url("u", "postgres://h/db?sslmode=verify-full").unwrap().ssl_mode,
      Some(SslMode::VerifyFull)
    );
  }

  #[test]
  fn url_errors_never_echo_the_password() {
    for bad in [
      "mysql://u:topsecret@h/db",
      "postgres://u:topsecret@h:notaport/db",
      "postgres://u:topsecret@h/db?sslmode=sometimes",
      "postgres://u:topsecret@h/db?bogus=1",
      "postgres://u:top%ZZsecret@h/db",
    ] {
      let error = parse_url("connectionString", bad).unwrap_err();
      assert_eq!(error.code(), "E_CONFIG");
      assert!(!error.to_string().contains("topsecret"), "{error}");
      assert!(error.to_string().contains("connectionString"), "{error}");
    }
  }

  #[test]
  fn bad_options_name_the_field() {
    let cases = [
      (json!({"port": "abc"}), "port"),
      (json!({"port": 70000}), "port"),
      (json!({"port": true}), "port"),
      (json!({"poolSize": 0}), "poolSize"),
      (json!({"poolSize": 2.5}), "poolSize"),
      (json!({"poolSize": "10"}), "poolSize"),
      (json!({"host": 5}), "host"),
      (json!({"host": []}), "host"),
      (json!({"user": 7}), "user"),
      (json!({"database": ""}), "database"),
      (json!({"ssl": "yes"}), "ssl"),
      (json!({"sslMode": "sometimes"}), "sslMode"),
      (json!({"connectTimeoutMs": -1}), "connectTimeoutMs"),
      (json!({"acquireTimeoutMs": 0}), "acquireTimeoutMs"),
      (json!({"connectionString": 42}), "connectionString"),
      (json!({"host": ["a", "b", "c"], "port": [1, 2]}), "port"),
      (json!({"statementTimeoutMs": 0}), "statementTimeoutMs"),
      (json!({"statementTimeoutMs": "5s"}), "statementTimeoutMs"),
      (json!({"purgeIntervalMs": -5}), "purgeIntervalMs"),
      (json!({"schema": ""}), "schema"),
      (json!({"schema": 5}), "schema"),
      (json!({"statementCache": "no"}), "statementCache"),
      (json!({"targetSessionAttrs": "primary"}), "targetSessionAttrs"),
      (json!({"toastCompression": "zstd"}), "toastCompression"),
    ];
    for (options, field) in cases {
      let error = resolve(&opts(options.clone()), &no_env).unwrap_err();
      assert_eq!(error.code(), "E_CONFIG", "{options}");
      assert!(error.to_string().contains(field), "{options}: {error}");
    }
  }

  #[test]
  fn port_accepts_numeric_strings_and_hosts_accept_lists() {
    let config = resolve(&opts(json!({"port": "5433", "host": "a, b"})), &no_env).unwrap();
    assert_eq!(config.ports, vec![5433]);
    assert_eq!(config.hosts, vec!["a", "b"]);
    let config = resolve(&opts(json!({"host": ["a", "b"], "port": [1, 2]})), &no_env).unwrap();
    assert_eq!(config.ports, vec![1, 2]);
  }

  #[test]
  fn ssl_option_forms() {
    let mode = |value: Value| resolve(&opts(value), &no_env).unwrap().ssl_mode;
    assert_eq!(mode(json!({"ssl": true})), SslMode::Require);
    assert_eq!(mode(json!({"ssl": false})), SslMode::Disable);
    assert_eq!(mode(json!({"ssl": {"rejectUnauthorized": false}})), SslMode::Require);
    assert_eq!(mode(json!({"ssl": {"ca": "PEM"}})), SslMode::VerifyFull);
    assert_eq!(
      mode(json!({"ssl": true, "sslMode": "verify-full"})),
      SslMode::VerifyFull
    );
    let env = |name: &str| (name == "PGSSLMODE").then(|| "require".to_string());
    assert_eq!(resolve(&Map::new(), &env).unwrap().ssl_mode, SslMode::Require);
  }

  #[test]
  fn initialize_location_replaces_the_connection_only_when_it_is_a_url() {
    let base = opts(json!({"host": "a", "poolSize": 5}));
    let merged = apply_initialize_overrides(&base, &opts(json!({"location": "./test-data", "ttl": 5})));
    assert_eq!(merged, base);
    let merged = apply_initialize_overrides(
      &base,
      &opts(json!({"location": "postgres://b/x", "options": {"poolSize": 2}})),
    );
    let config = resolve(&merged, &no_env).unwrap();
    assert_eq!(config.hosts, vec!["b"]);
    assert_eq!(config.database, "x");
    assert_eq!(config.pool_size, 2);
  }

  #[test]
  fn optional_timeouts_default_to_off() {
    let config = resolve(&Map::new(), &no_env).unwrap();
    assert_eq!(config.statement_timeout, None);
    assert_eq!(config.purge_interval, None);
    let config = resolve(
      &opts(json!({"statementTimeoutMs": 250, "purgeIntervalMs": 60000})),
      &no_env,
    )
    .unwrap();
    assert_eq!(config.statement_timeout, Some(Duration::from_millis(250)));
    assert_eq!(config.purge_interval, Some(Duration::from_secs(60)));
  }

  #[test]
  fn scale_out_options() {
    let config = resolve(&Map::new(), &no_env).unwrap();
    assert_eq!(config.schema, None);
    assert!(config.statement_cache);
    assert_eq!(config.target_session_attrs, SessionAttrs::Any);
    assert_eq!(config.toast_compression, ToastCompression::Lz4);
    let config = resolve(
      &opts(json!({"schema": "tenant_a", "statementCache": false, "targetSessionAttrs": "read-write"})),
      &no_env,
    )
    .unwrap();
    assert_eq!(config.schema.as_deref(), Some("tenant_a"));
    assert!(!config.statement_cache);
    assert_eq!(config.target_session_attrs, SessionAttrs::ReadWrite);
    let config = resolve(
      &opts(json!({"connectionString": "postgres://a:1,b:2/db?target_session_attrs=read-write"})),
      &no_env,
    )
    .unwrap();
    assert_eq!(config.hosts, vec!["a", "b"]);
    assert_eq!(config.ports, vec![1, 2]);
    assert_eq!(config.target_session_attrs, SessionAttrs::ReadWrite);
  }

  #[test]
  fn debug_hides_the_password() {
    let config = resolve(&opts(json!({"password": "hunter2"})), &no_env).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
  }
}
