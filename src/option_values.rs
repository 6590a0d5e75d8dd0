//! The value types of the options (`config.rs`): each deserializes from the JS value and checks
//! it, with an error message that names what was expected and shows what was given.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// libpq's `sslmode`, weakest first (so the stricter of two is the larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
  /// Plain TCP.
  Disable,
  /// TLS when the server offers it, the certificate unchecked (`allow` means the same here).
  #[serde(alias = "allow")]
  Prefer,
  /// TLS required; the certificate is not checked (libpq's meaning).
  Require,
  /// TLS required; the certificate must chain to a trusted CA (the host name is not checked).
  VerifyCa,
  /// TLS required; the certificate must chain to a trusted CA and name the host.
  VerifyFull,
}

impl SslMode {
  /// The accepted spellings, for error messages.
  pub const EXPECTED: &'static str = "disable, allow, prefer, require, verify-ca or verify-full";

  /// Parses libpq's spelling.
  pub fn parse(text: &str) -> Option<Self> {
    serde_json::from_value(Value::String(text.to_string())).ok()
  }

  /// libpq's spelling.
  pub fn name(self) -> &'static str {
    match self {
      SslMode::Disable => "disable",
      SslMode::Prefer => "prefer",
      SslMode::Require => "require",
      SslMode::VerifyCa => "verify-ca",
      SslMode::VerifyFull => "verify-full",
    }
  }
}

/// libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SessionAttrs {
  /// The first server that accepts the connection.
  #[default]
  Any,
  /// Only a server that accepts writes (a primary).
  ReadWrite,
  /// Only a read-only server (a standby).
  ReadOnly,
}

impl SessionAttrs {
  /// The accepted spellings, for error messages.
  pub const EXPECTED: &'static str = "any, read-write or read-only";

  /// Parses libpq's spelling.
  pub fn parse(text: &str) -> Option<Self> {
    serde_json::from_value(Value::String(text.to_string())).ok()
  }
}

/// How large session values are compressed when PostgreSQL moves them to TOAST storage: the
/// compression of the JSON columns of the tables `initialize()` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ToastCompression {
  /// `lz4` (PostgreSQL 14+ built with lz4): far cheaper to write and read than `pglz`.
  #[default]
  Lz4,
  /// `pglz`, PostgreSQL's historical default.
  Pglz,
  /// The columns follow the server's `default_toast_compression`.
  Server,
}

impl ToastCompression {
  /// The method's name in `SET COMPRESSION`, or `None` to leave the columns alone.
  pub fn method(self) -> Option<&'static str> {
    match self {
      ToastCompression::Lz4 => Some("lz4"),
      ToastCompression::Pglz => Some("pglz"),
      ToastCompression::Server => None,
    }
  }
}

/// Which tables `initialize()` creates `UNLOGGED` (not written to the WAL: faster writes, but
/// emptied after a crash and not replicated). Tables that exist are never converted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Unlogged {
  /// The key-value table.
  #[serde(default)]
  pub key_value: bool,
  /// The sessions table.
  #[serde(default)]
  pub sessions: bool,
}

impl Unlogged {
  /// Whether the table `name` (`sessions` or `key_value`) is to be created unlogged.
  pub fn table(self, name: &str) -> bool {
    match name {
      "sessions" => self.sessions,
      "key_value" => self.key_value,
      _ => false,
    }
  }
}

/// `ssl` as `pg` takes it: a boolean or `{ rejectUnauthorized?, ca? }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Ssl {
  /// `true` (verify) or `false` (no TLS).
  Enabled(bool),
  /// The object form.
  Options(SslOptions),
}

/// The object form of `ssl`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SslOptions {
  /// `false`: encrypt without checking the certificate. Default `true`.
  pub reject_unauthorized: Option<bool>,
  /// PEM text of the CA certificate(s) to trust (the face turns a Buffer into text).
  pub ca: Option<String>,
}

impl<'de> Deserialize<'de> for Ssl {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    match Value::deserialize(deserializer)? {
      Value::Bool(enabled) => Ok(Ssl::Enabled(enabled)),
      object @ Value::Object(_) => serde_json::from_value(object)
        .map(Ssl::Options)
        .map_err(|e| serde::de::Error::custom(format!("in the ssl object: {}", clean(&e)))),
      other => Err(serde::de::Error::custom(format!(
        "expected a boolean or an object, got {}",
        shown(&other)
      ))),
    }
  }
}

impl Ssl {
  /// The mode this setting asks for.
  pub(crate) fn mode(&self) -> SslMode {
    match self {
      Ssl::Enabled(false) => SslMode::Disable,
      Ssl::Enabled(true) => SslMode::VerifyFull,
      Ssl::Options(options) if options.reject_unauthorized == Some(false) => SslMode::Require,
      Ssl::Options(_) => SslMode::VerifyFull,
    }
  }
}

/// One or more host names: a string (`a,b` allowed) or an array of strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Hosts(pub Vec<String>);

impl<'de> Deserialize<'de> for Hosts {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    let hosts = match Value::deserialize(deserializer)? {
      Value::String(text) => split_list(&text),
      Value::Array(items) => items
        .into_iter()
        .map(|item| match item {
          Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
          other => Err(format!(
            "expected every host to be a non-empty string, got {}",
            shown(&other)
          )),
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(serde::de::Error::custom)?,
      other => {
        return Err(serde::de::Error::custom(format!(
          "expected a string or an array of strings, got {}",
          shown(&other)
        )))
      }
    };
    if hosts.is_empty() {
      return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(Hosts(hosts))
  }
}

/// One or more ports: a number, a numeric string, or an array of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Ports(pub Vec<u16>);

impl<'de> Deserialize<'de> for Ports {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    let port = |value: &Value| {
      let number = match value {
        Value::String(text) => text.trim().parse::<f64>().ok(),
        other => other.as_f64(),
      };
      number
        .filter(|n| n.fract() == 0.0 && (1.0..=65535.0).contains(n))
        .map(|n| n as u16)
        .ok_or_else(|| format!("must be an integer from 1 to 65535, got {}", shown(value)))
    };
    let ports = match Value::deserialize(deserializer)? {
      Value::Array(items) => items.iter().map(port).collect::<std::result::Result<_, _>>(),
      value => port(&value).map(|port| vec![port]),
    };
    ports.map(Ports).map_err(serde::de::Error::custom)
  }
}

/// An integer from `MIN` to `MAX`, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<const MIN: u64, const MAX: u64, const DEFAULT: u64>(pub u64);

impl<const MIN: u64, const MAX: u64, const DEFAULT: u64> Default for Count<MIN, MAX, DEFAULT> {
  fn default() -> Self {
    Count(DEFAULT)
  }
}

impl<'de, const MIN: u64, const MAX: u64, const DEFAULT: u64> Deserialize<'de> for Count<MIN, MAX, DEFAULT> {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    let value = Value::deserialize(deserializer)?;
    integer(&value, MIN, MAX)
      .map(Count)
      .ok_or_else(|| serde::de::Error::custom(format!("must be an integer from {MIN} to {MAX}, got {}", shown(&value))))
  }
}

/// Longest duration option, in ms (PostgreSQL's `statement_timeout` is a 32-bit integer).
const MAX_MILLIS: u64 = i32::MAX as u64;

/// A positive number of milliseconds, at most 2147483647.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub u64);

impl Millis {
  /// As a duration.
  pub fn duration(self) -> Duration {
    Duration::from_millis(self.0)
  }
}

impl<'de> Deserialize<'de> for Millis {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    let value = Value::deserialize(deserializer)?;
    integer(&value, 1, MAX_MILLIS).map(Millis).ok_or_else(|| {
      serde::de::Error::custom(format!(
        "must be a positive integer number of milliseconds up to {MAX_MILLIS}, got {}",
        shown(&value)
      ))
    })
  }
}

/// [`Millis`] with a default of `DEFAULT` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Timeout<const DEFAULT: u64>(pub Millis);

impl<const DEFAULT: u64> Default for Timeout<DEFAULT> {
  fn default() -> Self {
    Timeout(Millis(DEFAULT))
  }
}

impl<const DEFAULT: u64> Timeout<DEFAULT> {
  /// As a duration.
  pub fn duration(self) -> Duration {
    self.0.duration()
  }
}

/// A boolean, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Flag<const DEFAULT: bool>(pub bool);

impl<const DEFAULT: bool> Default for Flag<DEFAULT> {
  fn default() -> Self {
    Flag(DEFAULT)
  }
}

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// A schema name: 1 to 63 bytes, no U+0000 (anything else is fine: it is always quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaName(pub String);

impl<'de> Deserialize<'de> for SchemaName {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
    let name = match Value::deserialize(deserializer)? {
      Value::String(name) => name,
      other => {
        return Err(serde::de::Error::custom(format!(
          "expected a string, got {}",
          shown(&other)
        )))
      }
    };
    if name.is_empty() || name.len() > MAX_IDENTIFIER_BYTES {
      return Err(serde::de::Error::custom(format!(
        "must be 1 to {MAX_IDENTIFIER_BYTES} bytes long, got {}",
        name.len()
      )));
    }
    if name.contains('\0') {
      return Err(serde::de::Error::custom("must not contain the character U+0000"));
    }
    Ok(SchemaName(name))
  }
}

/// An integer value within `min..=max` (a JS number with no fraction).
fn integer(value: &Value, min: u64, max: u64) -> Option<u64> {
  let number = value.as_f64()?;
  (number.fract() == 0.0 && number >= min as f64 && number <= max as f64).then_some(number as u64)
}

/// A value as error messages show it: short JSON, or its kind when long.
pub(crate) fn shown(value: &Value) -> String {
  let text = value.to_string();
  if text.len() <= 40 {
    text
  } else {
    match value {
      Value::String(_) => format!("a string of {} bytes", text.len() - 2),
      Value::Array(_) => "an array".into(),
      Value::Object(_) => "an object".into(),
      _ => "a long value".into(),
    }
  }
}

/// serde's message without its " at line 1 column 9" suffix.
pub(crate) fn clean(error: &serde_json::Error) -> String {
  let text = error.to_string();
  match text.rsplit_once(" at line ") {
    Some((message, _)) => message.to_string(),
    None => text,
  }
}

/// Splits a comma-separated list, dropping empty entries.
pub fn split_list(text: &str) -> Vec<String> {
  text
    .split(',')
    .map(str::trim)
    .filter(|part| !part.is_empty())
    .map(str::to_string)
    .collect()
}
