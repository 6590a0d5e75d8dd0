//! The adapter's one error type, its stable codes, and the native error text the JS face decodes.

use deadpool_postgres::PoolError;
use serde_json::{json, Map, Value};
use tokio_postgres::error::SqlState;

use crate::op::Op;

/// Everything that can go wrong in the adapter. Each variant has one stable code (see [`Error::code`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
  /// An option is missing, of the wrong type or out of range. `field` names the option.
  #[error("invalid option `{field}`: {reason}")]
  Config { field: String, reason: String },

  /// The server could not be reached, refused the login, or dropped the connection.
  #[error("{context}: {message}")]
  Connection {
    context: String,
    message: String,
    sqlstate: Option<String>,
  },

  /// A connect, pool-acquire or statement timeout expired.
  #[error("{context}: {message}")]
  Timeout {
    context: String,
    message: String,
    sqlstate: Option<String>,
  },

  /// A write whose request reached, or may have reached, the server, with no answer to tell
  /// whether it committed: the connection went silent or was lost and the outcome could not be
  /// read back. The only failure of a write that does not mean "nothing was written".
  #[error("{context}: {message}")]
  OutcomeUnknown { context: String, message: String },

  /// The adapter was closed; call `initialize()` to open it again.
  #[error("{context}: the adapter is closed")]
  Closed { context: String },

  /// A method was called before `initialize()`.
  #[error("{context}: the adapter is not initialized; call initialize() first")]
  NotInitialized { context: String },

  /// A save was refused by the optimistic lock: versions only grow.
  #[error("version conflict on session {id:?}: attempted version {attempted}, stored version {stored}")]
  Conflict { id: String, attempted: i64, stored: i64 },

  /// The input was refused before (or by the database instead of) being written. `field` names it.
  #[error("{message}")]
  Validation {
    field: String,
    message: String,
    sqlstate: Option<String>,
  },

  /// A bug of the adapter's own (a panic caught at the boundary, an answer that cannot be): the
  /// call failed, Node carries on.
  #[error("internal error (a bug, please report it): {message}")]
  Internal { message: String },

  /// Any other error reported by PostgreSQL or the driver.
  #[error("{context}: {message}")]
  Query {
    context: String,
    message: String,
    sqlstate: Option<String>,
  },
}

/// Short for `std::result::Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
  /// The stable public code. Codes are API: add new ones, never rename.
  pub fn code(&self) -> &'static str {
    match self {
      Error::Config { .. } => "E_CONFIG",
      Error::Connection { .. } => "E_CONNECTION",
      Error::Timeout { .. } => "E_TIMEOUT",
      Error::OutcomeUnknown { .. } => "E_OUTCOME_UNKNOWN",
      Error::Closed { .. } => "E_CLOSED",
      Error::NotInitialized { .. } => "E_NOT_INITIALIZED",
      Error::Conflict { .. } => "E_CONFLICT",
      Error::Validation { .. } => "E_VALIDATION",
      Error::Query { .. } => "E_QUERY",
      Error::Internal { .. } => "E_INTERNAL",
    }
  }

  /// The PostgreSQL SQLSTATE behind this error, when the server gave one.
  pub fn sqlstate(&self) -> Option<&str> {
    match self {
      Error::Connection { sqlstate, .. }
      | Error::Timeout { sqlstate, .. }
      | Error::Validation { sqlstate, .. }
      | Error::Query { sqlstate, .. } => sqlstate.as_deref(),
      _ => None,
    }
  }

  /// True when the connection died under the call (terminated backend, server restart, reset
  /// socket): the connection must be discarded, and an idempotent call may run again.
  pub fn is_connection_loss(&self) -> bool {
    match self {
      Error::Connection { sqlstate: None, .. } => true,
      Error::Connection {
        sqlstate: Some(state), ..
      } => lost_connection(&SqlState::from_code(state)),
      _ => false,
    }
  }

  /// True when PostgreSQL gave up waiting for a row or table lock (`lock_timeout`).
  pub fn is_lock_wait(&self) -> bool {
    self.sqlstate() == Some(SqlState::LOCK_NOT_AVAILABLE.code())
  }

  /// True when this failure of a write, after an earlier attempt of it was lost in flight, still
  /// says nothing of that attempt: a conflict or a refused input are decided by the stored row or
  /// the input, whatever the earlier attempt did; anything else leaves its outcome open.
  pub fn leaves_earlier_write_open(&self) -> bool {
    !matches!(self, Error::Conflict { .. } | Error::Validation { .. })
  }

  /// This error with `note` added to its message (what was done before it).
  pub fn noted(self, note: &str) -> Self {
    let append = |message: String| format!("{message}; {note}");
    match self {
      Error::Connection {
        context,
        message,
        sqlstate,
      } => Error::Connection {
        context,
        message: append(message),
        sqlstate,
      },
      Error::Timeout {
        context,
        message,
        sqlstate,
      } => Error::Timeout {
        context,
        message: append(message),
        sqlstate,
      },
      Error::Query {
        context,
        message,
        sqlstate,
      } => Error::Query {
        context,
        message: append(message),
        sqlstate,
      },
      Error::OutcomeUnknown { context, message } => Error::OutcomeUnknown {
        context,
        message: append(message),
      },
      Error::Internal { message } => Error::Internal {
        message: append(message),
      },
      other => other,
    }
  }

  /// Shorthand for an internal error (a bug).
  pub fn internal(message: impl Into<String>) -> Self {
    Error::Internal {
      message: message.into(),
    }
  }

  /// Shorthand for a validation error naming `field`.
  pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
    Error::Validation {
      field: field.into(),
      message: message.into(),
      sqlstate: None,
    }
  }

  /// Shorthand for a configuration error naming `field`.
  pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
    Error::Config {
      field: field.into(),
      reason: reason.into(),
    }
  }

  /// Classifies a driver error raised while doing `op` (e.g. `saveSession("abc")`).
  pub fn from_pg(op: Op<'_>, error: &tokio_postgres::Error) -> Self {
    let context = op.to_string();
    let Some(db) = error.as_db_error() else {
      // No SQLSTATE: an I/O error, a closed connection, a TLS failure or the driver's timeout.
      let message = redact(&error_chain(error));
      return if timed_out(error) {
        Error::Timeout {
          context,
          message,
          sqlstate: None,
        }
      } else {
        Error::Connection {
          context,
          message,
          sqlstate: None,
        }
      };
    };
    let mut message = db.message().to_string();
    if let Some(detail) = db.detail() {
      message.push_str(" (");
      message.push_str(detail);
      message.push(')');
    }
    classify_sqlstate(context, redact(&message), db.code())
  }

  /// Classifies a pool error raised while doing `op`; `servers` (`host:port, ...`) says where
  /// a connection was being opened.
  pub fn from_pool(op: Op<'_>, error: PoolError, servers: &str) -> Self {
    let context = op.to_string();
    match error {
      PoolError::Timeout(kind) => Error::Timeout {
        context,
        message: match kind {
          deadpool_postgres::TimeoutType::Wait => {
            "no pooled connection became free within acquireTimeoutMs (all are busy)".to_string()
          }
          deadpool_postgres::TimeoutType::Create => format!("timed out connecting to {servers} (connectTimeoutMs)"),
          deadpool_postgres::TimeoutType::Recycle => format!("timed out checking a pooled connection to {servers}"),
        },
        sqlstate: None,
      },
      PoolError::Backend(e) => match Error::from_pg(op, &e) {
        Error::Connection {
          context,
          message,
          sqlstate,
        } => Error::Connection {
          context,
          message: format!("cannot connect to {servers}: {message}"),
          sqlstate,
        },
        Error::Timeout {
          context,
          message,
          sqlstate,
        } => Error::Timeout {
          context,
          message: format!("cannot connect to {servers}: {message}"),
          sqlstate,
        },
        other => other,
      },
      PoolError::Closed => Error::Closed { context },
      other => Error::Connection {
        context,
        message: format!("cannot connect to {servers}: {}", redact(&other.to_string())),
        sqlstate: None,
      },
    }
  }

  /// True for work PostgreSQL aborted as a deadlock or serialization failure: nothing of it was
  /// committed, so it may simply run again.
  pub fn is_transient(&self) -> bool {
    matches!(
      self.sqlstate().map(SqlState::from_code),
      Some(SqlState::T_R_DEADLOCK_DETECTED | SqlState::T_R_SERIALIZATION_FAILURE)
    )
  }

  /// The text the native layer rejects with: `<CODE> <json details>`. `index.js` decodes it.
  pub fn to_native_reason(&self) -> String {
    let mut details = Map::new();
    details.insert("message".into(), Value::String(self.to_string()));
    if let Some(state) = self.sqlstate() {
      details.insert("sqlstate".into(), Value::String(state.to_string()));
    }
    match self {
      Error::Conflict { id, attempted, stored } => {
        details.insert("id".into(), json!(id));
        details.insert("conflictingVersions".into(), json!([attempted, stored]));
      }
      Error::Validation { field, .. } | Error::Config { field, .. } => {
        details.insert("field".into(), json!(field));
      }
      Error::Connection { message, .. }
      | Error::Timeout { message, .. }
      | Error::OutcomeUnknown { message, .. }
      | Error::Query { message, .. } => {
        details.insert("cause".into(), json!(message));
      }
      Error::Closed { .. } | Error::NotInitialized { .. } | Error::Internal { .. } => {}
    }
    format!("{} {}", self.code(), Value::Object(details))
  }
}

impl From<Error> for napi::Error {
  fn from(error: Error) -> Self {
    napi::Error::new(napi::Status::GenericFailure, error.to_native_reason())
  }
}

/// Maps a SQLSTATE to the adapter's error kinds (the one place this is decided).
fn classify_sqlstate(context: String, message: String, code: &SqlState) -> Error {
  let sqlstate = Some(code.code().to_string());
  if refused_input(code) {
    Error::Validation {
      field: String::new(),
      message: format!("{context}: {message}"),
      sqlstate,
    }
  } else if matches!(*code, SqlState::QUERY_CANCELED | SqlState::LOCK_NOT_AVAILABLE) {
    // query_canceled is what statement_timeout raises.
    Error::Timeout {
      context,
      message,
      sqlstate,
    }
  } else if lost_connection(code) || unusable_server(code) {
    Error::Connection {
      context,
      message,
      sqlstate,
    }
  } else {
    Error::Query {
      context,
      message,
      sqlstate,
    }
  }
}

/// The database refused the input itself: text or JSON it cannot hold, a value out of its range,
/// a value over its size limits (jsonb's 256 MB), a batch holding one id twice.
fn refused_input(code: &SqlState) -> bool {
  matches!(
    *code,
    SqlState::INVALID_TEXT_REPRESENTATION
      | SqlState::UNTRANSLATABLE_CHARACTER
      | SqlState::NOT_NULL_VIOLATION
      | SqlState::CHECK_VIOLATION
      | SqlState::STRING_DATA_RIGHT_TRUNCATION
      | SqlState::NUMERIC_VALUE_OUT_OF_RANGE
      | SqlState::INVALID_PARAMETER_VALUE
      | SqlState::CARDINALITY_VIOLATION
      | SqlState::DATETIME_FIELD_OVERFLOW
      | SqlState::PROGRAM_LIMIT_EXCEEDED
  )
}

/// The connection is gone: the session cannot be used again.
fn lost_connection(code: &SqlState) -> bool {
  matches!(
    *code,
    SqlState::CONNECTION_EXCEPTION
      | SqlState::CONNECTION_DOES_NOT_EXIST
      | SqlState::CONNECTION_FAILURE
      | SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
      | SqlState::SQLSERVER_REJECTED_ESTABLISHMENT_OF_SQLCONNECTION
      | SqlState::TRANSACTION_RESOLUTION_UNKNOWN
      | SqlState::PROTOCOL_VIOLATION
      | SqlState::ADMIN_SHUTDOWN
      | SqlState::CRASH_SHUTDOWN
      | SqlState::CANNOT_CONNECT_NOW
      | SqlState::DATABASE_DROPPED
      | SqlState::IDLE_SESSION_TIMEOUT
  )
}

/// The server cannot serve this configuration: login refused, no such database, no room, or a
/// read-only server where writes are needed.
fn unusable_server(code: &SqlState) -> bool {
  matches!(
    *code,
    SqlState::INVALID_AUTHORIZATION_SPECIFICATION
      | SqlState::INVALID_PASSWORD
      | SqlState::TOO_MANY_CONNECTIONS
      | SqlState::INVALID_CATALOG_NAME
      | SqlState::READ_ONLY_SQL_TRANSACTION
  )
}

/// Whether an I/O error under `error` timed out (the driver's connect timeout).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
  let mut source = Some(error);
  while let Some(current) = source {
    if let Some(io) = current.downcast_ref::<std::io::Error>() {
      if io.kind() == std::io::ErrorKind::TimedOut {
        return true;
      }
    }
    source = current.source();
  }
  false
}

/// The driver error with its sources, e.g. "error connecting to server: Connection refused (os error 111)".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
  let mut text = error.to_string();
  let mut source = error.source();
  while let Some(inner) = source {
    let inner_text = inner.to_string();
    if !text.contains(&inner_text) {
      text.push_str(": ");
      text.push_str(&inner_text);
    }
    source = inner.source();
  }
  text
}

/// Removes the credentials part of any URL in `text` (`scheme://user:secret@host` -> `scheme://user:***@host`).
pub fn redact(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  let mut rest = text;
  while let Some(scheme_end) = rest.find("://") {
    let (head, tail) = rest.split_at(scheme_end + 3);
    out.push_str(head);
    let authority_end = tail.find(['/', '?', '#', ' ', '\n']).unwrap_or(tail.len());
    let authority = &tail[..authority_end];
    match authority.rfind('@') {
      Some(at) => {
        let userinfo = &authority[..at];
        match userinfo.find(':') {
          Some(colon) => {
            out.push_str(&userinfo[..colon]);
            out.push_str(":***");
          }
          None => out.push_str(userinfo),
        }
        out.push_str(&authority[at..]);
      }
      None => out.push_str(authority),
    }
    rest = &tail[authority_end..];
  }
  out.push_str(rest);
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn codes_are_stable() {
    assert_eq!(Error::config("port", "bad").code(), "E_CONFIG");
    assert_eq!(Error::validation("id", "bad").code(), "E_VALIDATION");
    assert_eq!(
      Error::Conflict {
        id: "s".into(),
        attempted: 2,
        stored: 3
      }
      .code(),
      "E_CONFLICT"
    );
    assert_eq!(
      Error::NotInitialized { context: "x".into() }.code(),
      "E_NOT_INITIALIZED"
    );
    assert_eq!(Error::Closed { context: "x".into() }.code(), "E_CLOSED");
    assert_eq!(Error::internal("x").code(), "E_INTERNAL");
  }

  #[test]
  fn sqlstates_are_classified() {
    let kind = |s: &str| classify_sqlstate("ctx".into(), "m".into(), &SqlState::from_code(s)).code();
    assert_eq!(kind("22P02"), "E_VALIDATION");
    assert_eq!(kind("22P05"), "E_VALIDATION");
    assert_eq!(kind("23514"), "E_VALIDATION");
    assert_eq!(kind("57014"), "E_TIMEOUT");
    assert_eq!(kind("57P01"), "E_CONNECTION");
    assert_eq!(kind("08006"), "E_CONNECTION");
    assert_eq!(kind("28P01"), "E_CONNECTION");
    assert_eq!(kind("42P01"), "E_QUERY");
    assert_eq!(kind("23505"), "E_QUERY");
  }

  #[test]
  fn connection_loss_is_told_apart() {
    let loss = |state: Option<&str>| Error::Connection {
      context: "c".into(),
      message: "m".into(),
      sqlstate: state.map(str::to_string),
    };
    assert!(loss(None).is_connection_loss());
    assert!(loss(Some("57P01")).is_connection_loss());
    assert!(loss(Some("08006")).is_connection_loss());
    assert!(!loss(Some("28P01")).is_connection_loss());
    assert!(!loss(Some("3D000")).is_connection_loss());
    assert!(!classify_sqlstate("c".into(), "m".into(), &SqlState::QUERY_CANCELED).is_connection_loss());
  }

  #[test]
  fn conflict_reason_carries_versions_and_the_word_version() {
    let reason = Error::Conflict {
      id: "s-1".into(),
      attempted: 2,
      stored: 5,
    }
    .to_native_reason();
    let (code, details) = reason.split_once(' ').unwrap();
    assert_eq!(code, "E_CONFLICT");
    let details: Value = serde_json::from_str(details).unwrap();
    assert_eq!(details["conflictingVersions"], json!([2, 5]));
    assert_eq!(details["id"], json!("s-1"));
    assert!(details["message"].as_str().unwrap().contains("version"));
  }

  #[test]
  fn query_reason_carries_sqlstate_and_cause() {
    let reason = classify_sqlstate(
      "getSession(\"a\")".into(),
      "relation \"sessions\" does not exist".into(),
      &SqlState::UNDEFINED_TABLE,
    )
    .to_native_reason();
    let details: Value = serde_json::from_str(reason.split_once(' ').unwrap().1).unwrap();
    assert_eq!(details["sqlstate"], json!("42P01"));
    assert_eq!(details["cause"], json!("relation \"sessions\" does not exist"));
  }

  #[test]
  fn redact_hides_url_passwords() {
    assert_eq!(
      redact("failed: postgres://app:s3cret@db:5432/x?sslmode=require"),
      "failed: postgres://app:***@db:5432/x?sslmode=require"
    );
    assert_eq!(redact("postgresql://app@db/x"), "postgresql://app@db/x");
    assert_eq!(redact("no url here"), "no url here");
    assert_eq!(redact("a://u:p@h b://v:q@i"), "a://u:***@h b://v:***@i");
  }
}
