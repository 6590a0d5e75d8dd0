//! The constructor's options: one typed struct ([`Options`], each field with its doc and default)
//! resolved into a [`Config`] with the URL, `DATABASE_URL`, the PG* environment and the defaults.
//!
//! Each connection field comes from the first of: `connectionString`, the option itself,
//! `DATABASE_URL`, its PG* variable, its default. Unknown options are refused; `pg`'s names
//! ([`PG_NAMES`]) are accepted as aliases, and giving both names of one option is refused.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::option_values::{clean, shown, split_list};
pub use crate::option_values::{
  Count, Flag, Hosts, Millis, Ports, SchemaName, SessionAttrs, Ssl, SslMode, SslOptions, Timeout, ToastCompression,
  Unlogged,
};
use crate::secret::Secret;
use crate::url::{self, UrlParts};

/// `pg`'s names of our options, accepted in their place: (`pg`'s, ours). The one list of aliases.
pub const PG_NAMES: [(&str, &str); 6] = [
  ("max", "poolSize"),
  ("connectionTimeoutMillis", "connectTimeoutMs"),
  ("idleTimeoutMillis", "idleTimeoutMs"),
  ("application_name", "applicationName"),
  ("statement_timeout", "statementTimeoutMs"),
  ("query_timeout", "queryTimeoutMs"),
];

/// Options of `new PostgresStorageAdapter(config)`, camelCase in JS (`errorClasses` and `ttl` are
/// handled by the JS face). `null` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
  /// Host name, IP address or Unix socket directory (leading `/`); a list (or `a,b`) for
  /// failover [PGHOST]. Default `localhost`.
  pub host: Option<Hosts>,
  /// Port, or one per host [PGPORT]. Default `5432`.
  pub port: Option<Ports>,
  /// Database name [PGDATABASE]. Default `smalltalk`.
  pub database: Option<String>,
  /// Login role [PGUSER]. Default `postgres`.
  pub user: Option<String>,
  /// Password [PGPASSWORD]. Default `postgres`. Never printed.
  pub password: Option<Secret>,
  /// A `postgres://` or `postgresql://` URL; its parts win over the fields above. Never printed.
  pub connection_string: Option<Secret>,
  /// As on `pg`: `true` or `{}` = TLS verifying the chain and the host name (against `ca`, else
  /// the system's roots); `{ rejectUnauthorized: false }` = TLS without checks; `false` = none.
  pub ssl: Option<Ssl>,
  /// libpq's `sslmode` [PGSSLMODE]. Default `disable`. Combined with `ssl`, the stricter wins.
  pub ssl_mode: Option<SslMode>,
  /// PEM file with the CA certificate(s) to trust when verifying [PGSSLROOTCERT].
  pub ssl_root_cert: Option<String>,
  /// Time to open one connection (TCP, TLS, login), ms [PGCONNECT_TIMEOUT, in s]; `pg`'s
  /// `connectionTimeoutMillis`. Default `10000`.
  pub connect_timeout_ms: Option<Millis>,
  /// `application_name` shown in `pg_stat_activity` [PGAPPNAME]; `pg`'s `application_name`.
  /// Default `smalltalk-postgres-storage`.
  pub application_name: Option<String>,
  /// With several hosts, which server a connection may use [PGTARGETSESSIONATTRS]. Default `any`.
  pub target_session_attrs: Option<SessionAttrs>,

  /// Maximum pooled connections, 1 to 10000; `pg`'s `max`. Default `10`.
  #[serde(default)]
  pub pool_size: Count<1, 10_000, 10>,
  /// Time a call waits for a free pooled connection before `E_TIMEOUT`, ms. Default `10000`.
  #[serde(default)]
  pub acquire_timeout_ms: Timeout<10_000>,
  /// Client-side deadline on each call's whole work (waiting for a connection, statements,
  /// commit), ms; past it the call fails with `E_TIMEOUT` and its connection is discarded, so a
  /// silent server or network path never hangs a call; `pg`'s `query_timeout`. Default `30000`.
  #[serde(default)]
  pub query_timeout_ms: Timeout<30_000>,
  /// Closes pooled connections left unused this long, ms; `pg`'s `idleTimeoutMillis`.
  /// Default: off (connections stay open until `close()`).
  pub idle_timeout_ms: Option<Millis>,
  /// Server-side `statement_timeout` of every connection (a startup parameter), ms; `pg`'s
  /// `statement_timeout`. Default: off (the server's).
  pub statement_timeout_ms: Option<Millis>,
  /// Deletes expired key-value entries in the background every N ms. Default: off.
  pub purge_interval_ms: Option<Millis>,
  /// Deletes expired sessions (`expiresAt` in the past, as `deleteExpiredSessions()` does) in the
  /// background every N ms. Default: off.
  pub session_expiry_interval_ms: Option<Millis>,
  /// Schema holding the tables, created if missing. Default: unqualified names (`search_path`).
  pub schema: Option<SchemaName>,
  /// `initialize()` creates what is missing of the schema (`true`), or only checks that the
  /// tables and indexes exist and says what is missing (`false`, for managed schemas and roles
  /// without DDL rights). Default `true`.
  #[serde(default)]
  pub create_schema: Flag<true>,
  /// Beyond 4 calls under way, serve concurrent `getSession`, `hasSession`, `getValue` and
  /// `saveSession` calls in groups, one statement of a kind at a time (each caller still gets its
  /// own outcome). Default `true`.
  #[serde(default)]
  pub coalesce: Flag<true>,
  /// Bytes of session JSON kept for conditional reads (see `sessions/cache.rs`): a `getSession`
  /// of a session this adapter read before gets its data back only when the row changed. `0`
  /// turns it off. Default 32 MiB.
  #[serde(default)]
  pub read_cache_bytes: Count<0, { 1 << 40 }, { 32 << 20 }>,
  /// Prepared statements per connection; `false` for PgBouncer's transaction pooling. Default `true`.
  #[serde(default)]
  pub statement_cache: Flag<true>,
  /// TOAST compression of large sessions and values: set on the JSON columns of the tables
  /// `initialize()` creates (PostgreSQL 14+; elsewhere, and on existing tables, the server's).
  /// Default `lz4`.
  #[serde(default)]
  pub toast_compression: ToastCompression,
  /// Tables `initialize()` creates `UNLOGGED` (`{ keyValue?, sessions? }`): faster writes, lost
  /// after a crash and not replicated. Existing tables are never converted. Default: none.
  #[serde(default)]
  pub unlogged: Unlogged,
}

/// A resolved, validated configuration. Two equal configs can share one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
  /// Hosts to try in order (a leading `/` means a Unix socket directory).
  pub hosts: Vec<String>,
  /// One port for all hosts, or one per host.
  pub ports: Vec<u16>,
  /// Database name.
  pub database: String,
  /// Login role.
  pub user: String,
  /// Password.
  pub password: Secret,
  /// TLS mode and trust anchors.
  pub tls: Tls,
  /// Time allowed to open one connection.
  pub connect_timeout: Duration,
  /// `application_name` reported to the server.
  pub application_name: String,
  /// Which of several hosts to use.
  pub target_session_attrs: SessionAttrs,
  /// The options as given; the behaviour fields carry their defaults.
  pub options: Options,
}

/// How connections are encrypted, and what is trusted when verifying.
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
  /// The mode.
  pub mode: SslMode,
  /// PEM text of CA certificate(s) (`ssl.ca`); wins over `root_cert`.
  pub ca_pem: Option<String>,
  /// PEM file of CA certificate(s).
  pub root_cert: Option<PathBuf>,
}

/// Reads one environment variable; injected so tests do not depend on the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment (empty values count as unset).
pub fn process_env(name: &str) -> Option<String> {
  std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Parses the options object (JSON text from the JS face) into [`Options`], naming the field of
/// any error as it was given. `null` members count as not given.
pub fn parse_options(json: &str) -> Result<Options> {
  let mut map = match serde_json::from_str::<Value>(json) {
    Ok(Value::Object(map)) => map,
    Ok(Value::Null) => return Ok(Options::default()),
    Ok(other) => {
      return Err(Error::config(
        "config",
        format!("expected an object, got {}", shown(&other)),
      ))
    }
    Err(e) => return Err(Error::config("config", format!("not valid JSON: {}", clean(&e)))),
  };
  map.retain(|_, value| !value.is_null());
  // (ours, pg's) for each option given under pg's name.
  let mut given_as = Vec::new();
  for (pg_name, ours) in PG_NAMES {
    if let Some(value) = map.remove(pg_name) {
      if map.contains_key(ours) {
        return Err(Error::config(
          ours,
          format!("`{pg_name}` and `{ours}` are two names of one option (pg's and ours): give one"),
        ));
      }
      map.insert(ours.to_string(), value);
      given_as.push((ours, pg_name));
    }
  }
  serde_path_to_error::deserialize(Value::Object(map)).map_err(|error| {
    let path = error.path().to_string();
    // An unknown option of the top level has its own name as the path; a nested one, `a.b`.
    let at_root = !path.contains('.') || path == ".";
    let message = clean(error.inner());
    let field = match message.strip_prefix("unknown field `") {
      // An unknown option is reported at the root: name it from serde's message.
      Some(rest) if path == "." => rest.split('`').next().unwrap_or_default().to_string(),
      // Nothing else should be reported at the root; if it is, it is about the object as a whole.
      _ if path == "." => "config".to_string(),
      _ => match given_as.iter().find(|(ours, _)| path == *ours) {
        Some((_, pg_name)) => pg_name.to_string(),
        None => path,
      },
    };
    let mut reason = message
      .replace("unknown field", "unknown option")
      .replace("expected one of", "the options are");
    if message.starts_with("unknown field") && at_root {
      let pg_names: Vec<String> = PG_NAMES.iter().map(|(pg_name, _)| format!("`{pg_name}`")).collect();
      reason.push_str(&format!(", and pg's names {}", pg_names.join(", ")));
    }
    Error::config(field, reason)
  })
}

/// Applies what `initialize(config)` may change, the one list of it: a `postgres://` `location`
/// replaces the connection URL; `options.poolSize` and `options.sslMode` override. Anything
/// else in `config` (a file-path location, `ttl`, `maxSize`, other `options` keys) is not ours.
pub fn with_initialize_overrides(base: &Options, overrides_json: &str) -> Result<Options> {
  #[derive(Deserialize)]
  #[serde(rename_all = "camelCase")]
  struct Overrides {
    location: Option<Value>,
    options: Option<InitializeOptions>,
  }
  #[derive(Deserialize)]
  #[serde(rename_all = "camelCase")]
  struct InitializeOptions {
    pool_size: Option<Count<1, 10_000, 10>>,
    ssl_mode: Option<SslMode>,
  }
  let overrides: Overrides = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(overrides_json))
    .map_err(|error| Error::config(format!("initialize config.{}", error.path()), clean(error.inner())))?;
  let mut options = base.clone();
  if let Some(Value::String(location)) = overrides.location {
    if url::is_postgres_url(&location) {
      options.connection_string = Some(Secret::new(location));
    }
  }
  if let Some(initialize) = overrides.options {
    if let Some(pool_size) = initialize.pool_size {
      options.pool_size = pool_size;
    }
    if let Some(mode) = initialize.ssl_mode {
      options.ssl_mode = Some(mode);
    }
  }
  Ok(options)
}

/// Resolves options, URL, `DATABASE_URL`, environment and defaults into a [`Config`].
pub fn resolve(options: &Options, env: EnvLookup<'_>) -> Result<Config> {
  let url = match &options.connection_string {
    Some(text) => url::parse("connectionString", text.expose())?,
    None => UrlParts::default(),
  };
  let database_url = match env("DATABASE_URL") {
    Some(text) => url::parse("DATABASE_URL", &text)?,
    None => UrlParts::default(),
  };
  let var = |name: &str| env(name);

  let hosts = first([
    url.hosts.clone(),
    options.host.clone().map(|hosts| hosts.0),
    database_url.hosts.clone(),
    var("PGHOST")
      .map(|text| split_list(&text))
      .filter(|hosts| !hosts.is_empty()),
  ])
  .unwrap_or_else(|| vec!["localhost".into()]);
  let ports = match first([
    url.ports.clone(),
    options.port.clone().map(|ports| ports.0),
    database_url.ports.clone(),
  ]) {
    Some(ports) => ports,
    None => match var("PGPORT") {
      Some(text) => split_list(&text)
        .iter()
        .map(|part| part.parse::<u16>().ok().filter(|port| *port > 0))
        .collect::<Option<Vec<u16>>>()
        .ok_or_else(|| {
          Error::config(
            "PGPORT",
            format!("must be a port or a comma-separated list, got {text:?}"),
          )
        })?,
      None => vec![5432],
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
  let database = first([
    url.database.clone(),
    options.database.clone(),
    database_url.database.clone(),
    var("PGDATABASE"),
  ])
  .unwrap_or_else(|| "smalltalk".into());
  let user = first([
    url.user.clone(),
    options.user.clone(),
    database_url.user.clone(),
    var("PGUSER"),
  ])
  .unwrap_or_else(|| "postgres".into());
  let password = first([
    url.password.clone(),
    options.password.clone(),
    database_url.password.clone(),
    var("PGPASSWORD").map(Secret::new),
  ])
  .unwrap_or_else(|| Secret::new("postgres"));
  if database.is_empty() {
    return Err(Error::config("database", "must not be empty"));
  }
  if user.is_empty() {
    return Err(Error::config("user", "must not be empty"));
  }

  let connect_timeout = match first([
    url.connect_timeout_s.map(Duration::from_secs),
    options.connect_timeout_ms.map(Millis::duration),
    database_url.connect_timeout_s.map(Duration::from_secs),
  ]) {
    Some(timeout) => timeout,
    None => match var("PGCONNECT_TIMEOUT") {
      Some(text) => text
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
          Error::config(
            "PGCONNECT_TIMEOUT",
            format!("must be a positive number of seconds, got {text:?}"),
          )
        })?,
      None => Duration::from_secs(10),
    },
  };
  let application_name = first([
    url.application_name.clone(),
    options.application_name.clone(),
    database_url.application_name.clone(),
    var("PGAPPNAME"),
  ])
  .unwrap_or_else(|| "smalltalk-postgres-storage".into());
  let target_session_attrs = match first([
    url.target_session_attrs,
    options.target_session_attrs,
    database_url.target_session_attrs,
  ]) {
    Some(attrs) => attrs,
    None => match var("PGTARGETSESSIONATTRS") {
      Some(text) => SessionAttrs::parse(&text).ok_or_else(|| {
        Error::config(
          "PGTARGETSESSIONATTRS",
          format!("expected {}, got {text:?}", SessionAttrs::EXPECTED),
        )
      })?,
      None => SessionAttrs::Any,
    },
  };

  Ok(Config {
    hosts,
    ports,
    database,
    user,
    password,
    tls: resolve_tls(options, &url, &database_url, env)?,
    connect_timeout,
    application_name,
    target_session_attrs,
    options: options.clone(),
  })
}

/// The TLS mode: the strictest of the explicit settings (the URL's `sslmode`, `sslMode`, `ssl`),
/// else `DATABASE_URL`'s `sslmode`, else `PGSSLMODE`, else `disable`.
fn resolve_tls(options: &Options, url: &UrlParts, database_url: &UrlParts, env: EnvLookup<'_>) -> Result<Tls> {
  let explicit = [url.ssl_mode, options.ssl_mode, options.ssl.as_ref().map(Ssl::mode)];
  let mode = match explicit.into_iter().flatten().max() {
    Some(mode) => mode,
    None => match database_url.ssl_mode {
      Some(mode) => mode,
      None => match env("PGSSLMODE") {
        Some(text) => SslMode::parse(&text)
          .ok_or_else(|| Error::config("PGSSLMODE", format!("expected {}, got {text:?}", SslMode::EXPECTED)))?,
        None => SslMode::Disable,
      },
    },
  };
  let ca_pem = match &options.ssl {
    Some(Ssl::Options(ssl)) => ssl.ca.clone(),
    _ => None,
  };
  let root_cert = first([
    url.ssl_root_cert.clone(),
    options.ssl_root_cert.clone(),
    database_url.ssl_root_cert.clone(),
    env("PGSSLROOTCERT"),
  ])
  .map(PathBuf::from);
  Ok(Tls {
    mode,
    ca_pem,
    root_cert,
  })
}

/// The first given value.
fn first<T, const N: usize>(candidates: [Option<T>; N]) -> Option<T> {
  candidates.into_iter().flatten().next()
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  fn no_env(_: &str) -> Option<String> {
    None
  }

  fn options(value: Value) -> Options {
    parse_options(&value.to_string()).unwrap()
  }

  fn config(value: Value) -> Config {
    resolve(&options(value), &no_env).unwrap()
  }

  #[test]
  fn defaults_are_the_contracts() {
    let config = config(json!({}));
    assert_eq!(config.hosts, vec!["localhost"]);
    assert_eq!(config.ports, vec![5432]);
    assert_eq!(config.database, "smalltalk");
    assert_eq!(config.user, "postgres");
    assert_eq!(config.password.expose(), "postgres");
    assert_eq!(config.options.pool_size.0, 10);
    assert_eq!(config.tls.mode, SslMode::Disable);
    assert_eq!(config.connect_timeout, Duration::from_secs(10));
    assert_eq!(config.options.acquire_timeout_ms.duration(), Duration::from_secs(10));
    assert_eq!(config.options.statement_timeout_ms, None);
    assert_eq!(config.options.purge_interval_ms, None);
    assert_eq!(config.options.session_expiry_interval_ms, None);
    assert_eq!(config.options.schema, None);
    assert!(config.options.statement_cache.0);
    assert_eq!(config.target_session_attrs, SessionAttrs::Any);
    assert_eq!(config.options.toast_compression, ToastCompression::Lz4);
    assert_eq!(config.application_name, "smalltalk-postgres-storage");
  }

  #[test]
  fn each_field_comes_from_the_url_then_the_option_then_database_url_then_pg_variables() {
    let env = |name: &str| match name {
      "DATABASE_URL" => Some("postgres://urluser:urlpass@urlhost:7000/urldb?sslmode=require".to_string()),
      "PGHOST" => Some("envhost".to_string()),
      "PGPORT" => Some("6000".to_string()),
      "PGDATABASE" => Some("envdb".to_string()),
      "PGUSER" => Some("envuser".to_string()),
      "PGAPPNAME" => Some("envapp".to_string()),
      _ => None,
    };
    let config = resolve(&options(json!({"host": "h", "database": "d"})), &env).unwrap();
    assert_eq!(config.hosts, vec!["h"]);
    assert_eq!(config.ports, vec![7000]);
    assert_eq!(config.database, "d");
    assert_eq!(config.user, "urluser");
    assert_eq!(config.password.expose(), "urlpass");
    assert_eq!(config.tls.mode, SslMode::Require);
    assert_eq!(config.application_name, "envapp");
    let config = resolve(
      &options(json!({"host": "ignored", "connectionString": "postgres://c@chost/cdb"})),
      &env,
    )
    .unwrap();
    assert_eq!(config.hosts, vec!["chost"]);
    assert_eq!(config.user, "c");
    assert_eq!(config.database, "cdb");
    let without_url = |name: &str| if name == "DATABASE_URL" { None } else { env(name) };
    let config = resolve(&Options::default(), &without_url).unwrap();
    assert_eq!(
      (config.hosts, config.ports, config.database, config.user),
      (
        vec!["envhost".to_string()],
        vec![6000],
        "envdb".to_string(),
        "envuser".to_string()
      )
    );
  }

  #[test]
  fn the_url_beats_the_options() {
    let config = config(json!({
      "host": "ignored", "user": "ignored", "poolSize": 3,
      "connectionString": "postgresql://app:p%40ss@db.example:6543/sessions?sslmode=verify-ca&application_name=x"
    }));
    assert_eq!(config.hosts, vec!["db.example"]);
    assert_eq!(config.ports, vec![6543]);
    assert_eq!(config.user, "app");
    assert_eq!(config.password.expose(), "p@ss");
    assert_eq!(config.database, "sessions");
    assert_eq!(config.tls.mode, SslMode::VerifyCa);
    assert_eq!(config.application_name, "x");
    assert_eq!(config.options.pool_size.0, 3);
  }

  #[test]
  fn bad_options_name_the_field_and_show_the_value() {
    let cases = [
      (json!({"port": "abc"}), "port", "\"abc\""),
      (json!({"port": 70000}), "port", "70000"),
      (json!({"port": true}), "port", "true"),
      (json!({"poolSize": 0}), "poolSize", "from 1 to 10000, got 0"),
      (json!({"poolSize": 2.5}), "poolSize", "2.5"),
      (json!({"poolSize": "10"}), "poolSize", "\"10\""),
      (json!({"max": 0}), "max", "got 0"),
      (json!({"host": 5}), "host", "5"),
      (json!({"host": []}), "host", "empty"),
      (json!({"user": 7}), "user", "7"),
      (json!({"ssl": "yes"}), "ssl", "\"yes\""),
      (json!({"ssl": {"cert": "x"}}), "ssl", "cert"),
      (json!({"sslMode": "sometimes"}), "sslMode", "sometimes"),
      (json!({"connectTimeoutMs": -1}), "connectTimeoutMs", "-1"),
      (
        json!({"connectionTimeoutMillis": 0}),
        "connectionTimeoutMillis",
        "got 0",
      ),
      (json!({"acquireTimeoutMs": 0}), "acquireTimeoutMs", "got 0"),
      (json!({"connectionString": 42}), "connectionString", "string"),
      (json!({"statementTimeoutMs": 0}), "statementTimeoutMs", "0"),
      (json!({"statementTimeoutMs": "5s"}), "statementTimeoutMs", "\"5s\""),
      (json!({"purgeIntervalMs": -5}), "purgeIntervalMs", "-5"),
      (json!({"sessionExpiryIntervalMs": 0}), "sessionExpiryIntervalMs", "0"),
      (json!({"schema": ""}), "schema", "1 to 63"),
      (json!({"schema": "x".repeat(64)}), "schema", "64"),
      (json!({"schema": "a\u{0}b"}), "schema", "U+0000"),
      (json!({"schema": 5}), "schema", "5"),
      (json!({"statementCache": "no"}), "statementCache", "\"no\""),
      (
        json!({"targetSessionAttrs": "primary"}),
        "targetSessionAttrs",
        "primary",
      ),
      (json!({"toastCompression": "zstd"}), "toastCompression", "zstd"),
      (
        json!({"unlogged": {"keyvalue": true}}),
        "unlogged.keyvalue",
        "expected `keyValue` or `sessions`",
      ),
      (json!({"unlogged": {"sessions": 1}}), "unlogged.sessions", "1"),
      (json!({"unlogged": true}), "unlogged", "true"),
      (json!({"maxx": 3}), "maxx", "unknown option"),
      (json!({"idleTimeout": 3}), "idleTimeout", "poolSize"),
      (json!({"maxConnections": 3}), "maxConnections", "pg's names `max`, "),
    ];
    for (given, field, shows) in cases {
      let error = parse_options(&given.to_string())
        .and_then(|options| resolve(&options, &no_env))
        .unwrap_err();
      assert_eq!(error.code(), "E_CONFIG", "{given}");
      let text = error.to_string();
      assert!(text.contains(&format!("`{field}`")), "{given}: {text}");
      assert!(text.contains(shows), "{given}: {text}");
    }
    let error = resolve(&options(json!({"host": ["a", "b", "c"], "port": [1, 2]})), &no_env).unwrap_err();
    assert!(error.to_string().contains("`port`"), "{error}");
  }

  #[test]
  fn secrets_are_never_shown() {
    for given in [
      json!({"password": 12345678}),
      json!({"connectionString": ["u:12345678@h"]}),
    ] {
      let text = parse_options(&given.to_string()).unwrap_err().to_string();
      assert!(!text.contains("12345678"), "{text}");
    }
    let config = config(json!({"password": "hunter2", "connectionString": "postgres://u:s3cr3t@h/d"}));
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2") && !debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("application_name"), "{debug}");
  }

  #[test]
  fn pg_names_are_aliases_and_nulls_are_unset() {
    let config = config(json!({
      "max": 3, "connectionTimeoutMillis": 1500, "application_name": "app", "statement_timeout": 250,
      "host": null, "poolSize": null
    }));
    assert_eq!(config.options.pool_size.0, 3);
    assert_eq!(config.connect_timeout, Duration::from_millis(1500));
    assert_eq!(config.application_name, "app");
    assert_eq!(config.options.statement_timeout_ms, Some(Millis(250)));
    assert_eq!(config.hosts, vec!["localhost"]);
  }

  /// A valid value of each option that has a `pg` name.
  fn sample_value(option: &str) -> Value {
    match option {
      "poolSize" => json!(3),
      "connectTimeoutMs" => json!(1500),
      "idleTimeoutMs" => json!(300),
      "applicationName" => json!("app"),
      "statementTimeoutMs" => json!(250),
      "queryTimeoutMs" => json!(1000),
      other => panic!("no sample value for {other}: add one"),
    }
  }

  #[test]
  fn each_pg_name_sets_the_same_option_as_ours() {
    for (pg_name, ours) in PG_NAMES {
      let value = sample_value(ours);
      let by_pg_name = options(json!({ pg_name: value.clone() }));
      assert_eq!(by_pg_name, options(json!({ ours: value })), "{pg_name}");
      assert_ne!(by_pg_name, Options::default(), "{pg_name}");
    }
  }

  #[test]
  fn both_names_of_one_option_are_refused_naming_both() {
    for (pg_name, ours) in PG_NAMES {
      let value = sample_value(ours);
      let error = parse_options(&json!({ pg_name: value.clone(), ours: value }).to_string()).unwrap_err();
      assert_eq!(error.code(), "E_CONFIG", "{pg_name}");
      match &error {
        Error::Config { field, .. } => assert_eq!(field, ours),
        other => panic!("{other:?}"),
      }
      assert_eq!(
        error.to_string(),
        format!(
          "invalid option `{ours}`: `{pg_name}` and `{ours}` are two names of one option (pg's and ours): give one"
        )
      );
    }
  }

  #[test]
  fn an_option_given_by_its_pg_name_is_named_so_in_errors() {
    for (pg_name, ours) in PG_NAMES {
      let error = parse_options(&json!({ pg_name: [] }).to_string()).unwrap_err();
      let text = error.to_string();
      assert!(text.starts_with(&format!("invalid option `{pg_name}`:")), "{text}");
      assert!(!text.contains(&format!("`{ours}`")), "{text}");
    }
  }

  #[test]
  fn ports_accept_numeric_strings_and_hosts_accept_lists() {
    let config = config(json!({"port": "5433", "host": "a, b"}));
    assert_eq!(config.ports, vec![5433]);
    assert_eq!(config.hosts, vec!["a", "b"]);
    let config = self::config(json!({"host": ["a", "b"], "port": [1, 2]}));
    assert_eq!(config.ports, vec![1, 2]);
  }

  #[test]
  fn ssl_true_verifies_and_the_stricter_setting_wins() {
    let mode = |value: Value| config(value).tls.mode;
    assert_eq!(mode(json!({"ssl": true})), SslMode::VerifyFull);
    assert_eq!(mode(json!({"ssl": {}})), SslMode::VerifyFull);
    assert_eq!(mode(json!({"ssl": false})), SslMode::Disable);
    assert_eq!(mode(json!({"ssl": {"rejectUnauthorized": false}})), SslMode::Require);
    assert_eq!(mode(json!({"ssl": {"ca": "PEM"}})), SslMode::VerifyFull);
    assert_eq!(
      mode(json!({"ssl": {"ca": "PEM"}, "sslMode": "require"})),
      SslMode::VerifyFull
    );
    assert_eq!(
      mode(json!({"ssl": {"rejectUnauthorized": false}, "sslMode": "verify-ca"})),
      SslMode::VerifyCa
    );
    assert_eq!(
      mode(json!({"connectionString": "postgres://h/d?sslmode=require"})),
      SslMode::Require
    );
    assert_eq!(mode(json!({"sslMode": "allow"})), SslMode::Prefer);
    let env = |name: &str| (name == "PGSSLMODE").then(|| "require".to_string());
    assert_eq!(resolve(&Options::default(), &env).unwrap().tls.mode, SslMode::Require);
    assert_eq!(
      resolve(&options(json!({"ssl": false})), &env).unwrap().tls.mode,
      SslMode::Disable
    );
    assert_eq!(config(json!({"ssl": {"ca": "PEM"}})).tls.ca_pem.as_deref(), Some("PEM"));
  }

  #[test]
  fn initialize_changes_only_its_list() {
    let base = options(json!({"host": "a", "poolSize": 5}));
    let same = with_initialize_overrides(&base, r#"{"location": "./test-data", "ttl": 5, "maxSize": 9}"#).unwrap();
    assert_eq!(same, base);
    let changed = with_initialize_overrides(
      &base,
      r#"{"location": "postgres://b/x", "options": {"poolSize": 2, "sslMode": "require", "other": 1}}"#,
    )
    .unwrap();
    let config = resolve(&changed, &no_env).unwrap();
    assert_eq!(config.hosts, vec!["b"]);
    assert_eq!(config.database, "x");
    assert_eq!(config.options.pool_size.0, 2);
    assert_eq!(config.tls.mode, SslMode::Require);
    let error = with_initialize_overrides(&base, r#"{"options": {"poolSize": 0}}"#).unwrap_err();
    assert!(error.to_string().contains("options.poolSize"), "{error}");
  }
}
