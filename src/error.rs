//! The adapter's one error type, its stable codes, and the native error text the JS face decodes.

use deadpool_postgres::PoolError;
use serde_json::{json, Map, Value};

/// Everything that can go wrong in the adapter. Each variant has one stable code (see [`Error::code`]).
#[derive(Debug, thiserror::Error)]
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

  /// A named resource does not exist.
  #[error("{resource} not found: {id}")]
  NotFound { resource: String, id: String },

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
      Error::Closed { .. } => "E_CLOSED",
      Error::NotInitialized { .. } => "E_NOT_INITIALIZED",
      Error::Conflict { .. } => "E_CONFLICT",
      Error::Validation { .. } => "E_VALIDATION",
      Error::NotFound { .. } => "E_NOT_FOUND",
      Error::Query { .. } => "E_QUERY",
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
      } => state.starts_with("08") || matches!(state.as_str(), "57P01" | "57P02" | "57P03"),
      _ => false,
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

  /// Classifies a driver error raised while doing `context` (e.g. `saveSession("abc")`).
  pub fn from_pg(context: &str, error: &tokio_postgres::Error) -> Self {
    let context = context.to_string();
    let Some(db) = error.as_db_error() else {
      // No SQLSTATE: an I/O error, a closed connection, a TLS failure or a timeout of the driver's.
      let message = redact(&error_chain(error));
      return if message.contains("timed out") || message.contains("timeout") {
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
    let sqlstate = db.code().code().to_string();
    let mut message = db.message().to_string();
    if let Some(detail) = db.detail() {
      message.push_str(" (");
      message.push_str(detail);
      message.push(')');
    }
    let message = redact(&message);
    classify_sqlstate(context, message, sqlstate)
  }

  /// Classifies a pool error raised while doing `context`.
  pub fn from_pool(context: &str, error: PoolError) -> Self {
    match error {
      PoolError::Timeout(kind) => Error::Timeout {
        context: context.to_string(),
        message: format!("timed out waiting for a database connection ({kind:?})"),
        sqlstate: None,
      },
      PoolError::Backend(e) => Error::from_pg(context, &e),
      PoolError::Closed => Error::Closed {
        context: context.to_string(),
      },
      other => Error::Connection {
        context: context.to_string(),
        message: redact(&other.to_string()),
        sqlstate: None,
      },
    }
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
      Error::NotFound { resource, id } => {
        details.insert("resource".into(), json!(resource));
        details.insert("id".into(), json!(id));
      }
      Error::Connection { message, .. } | Error::Timeout { message, .. } | Error::Query { message, .. } => {
        details.insert("cause".into(), json!(message));
      }
      Error::Closed { .. } | Error::NotInitialized { .. } => {}
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
fn classify_sqlstate(context: String, message: String, sqlstate: String) -> Error {
  let sqlstate_opt = Some(sqlstate.clone());
  match sqlstate.as_str() {
    // invalid_text_representation, untranslatable_character, not_null_violation, check_violation,
    // string_data_right_truncation, numeric_value_out_of_range, invalid_parameter_value.
    // cardinality_violation (one id twice in a batch upsert).
    "22P02" | "22P05" | "23502" | "23514" | "22001" | "22003" | "22023" | "21000" => Error::Validation {
      field: String::new(),
      message: format!("{context}: {message}"),
      sqlstate: sqlstate_opt,
    },
    // query_canceled (statement_timeout), lock_not_available.
    "57014" | "55P03" => Error::Timeout {
      context,
      message,
      sqlstate: sqlstate_opt,
    },
    // connection_exception class, admin/crash shutdown, cannot_connect_now, too_many_connections,
    // invalid_authorization_specification, invalid_password, invalid_catalog_name, read_only_sql_transaction.
    s if s.starts_with("08")
      || s.starts_with("57P")
      || s.starts_with("28")
      || s == "53300"
      || s == "3D000"
      || s == "25006" =>
    {
      Error::Connection {
        context,
        message,
        sqlstate: sqlstate_opt,
      }
    }
    _ => Error::Query {
      context,
      message,
      sqlstate: sqlstate_opt,
    },
  }
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
  }

  #[test]
  fn sqlstates_are_classified() {
    let kind = |s: &str| classify_sqlstate("ctx".into(), "m".into(), s.into()).code();
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
    assert!(!classify_sqlstate("c".into(), "m".into(), "57014".into()).is_connection_loss());
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
      "42P01".into(),
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
