//! Names of the calls being served: `Call` is a public method by its JS name, `Op` that method
//! about one id or key, as errors and metrics name them. A leaf: it imports nothing of the crate.

use std::fmt;

/// A public method being served, by its JS name: it names the call in errors and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call(pub &'static str);

/// Every public method, named once: the napi methods and the code serving them use these.
impl Call {
  /// `initialize`.
  pub const INITIALIZE: Call = Call("initialize");
  /// `healthCheck`.
  pub const HEALTH_CHECK: Call = Call("healthCheck");
  /// `saveSession`.
  pub const SAVE_SESSION: Call = Call("saveSession");
  /// `saveSessions`.
  pub const SAVE_SESSIONS: Call = Call("saveSessions");
  /// `getSession`.
  pub const GET_SESSION: Call = Call("getSession");
  /// `getSessions`.
  pub const GET_SESSIONS: Call = Call("getSessions");
  /// `iterateSessions`.
  pub const ITERATE_SESSIONS: Call = Call("iterateSessions");
  /// `deleteSession`.
  pub const DELETE_SESSION: Call = Call("deleteSession");
  /// `deleteSessions`.
  pub const DELETE_SESSIONS: Call = Call("deleteSessions");
  /// `hasSession`.
  pub const HAS_SESSION: Call = Call("hasSession");
  /// `listSessions`.
  pub const LIST_SESSIONS: Call = Call("listSessions");
  /// `clear`.
  pub const CLEAR: Call = Call("clear");
  /// `deleteExpiredSessions` (also the background expiry of `sessionExpiryIntervalMs`).
  pub const DELETE_EXPIRED_SESSIONS: Call = Call("deleteExpiredSessions");
  /// `getStats`.
  pub const GET_STATS: Call = Call("getStats");
  /// `setValue`.
  pub const SET_VALUE: Call = Call("setValue");
  /// `getValue`.
  pub const GET_VALUE: Call = Call("getValue");
  /// `deleteValue`.
  pub const DELETE_VALUE: Call = Call("deleteValue");
  /// `hasValue`.
  pub const HAS_VALUE: Call = Call("hasValue");
  /// `getValues`.
  pub const GET_VALUES: Call = Call("getValues");
  /// `setValues`.
  pub const SET_VALUES: Call = Call("setValues");
  /// `deleteValues`.
  pub const DELETE_VALUES: Call = Call("deleteValues");
  /// `iterateValues` (one call per page).
  pub const ITERATE_VALUES: Call = Call("iterateValues");
  /// `clearValues`.
  pub const CLEAR_VALUES: Call = Call("clearValues");
  /// `purgeExpired` (also the background purge of `purgeIntervalMs`).
  pub const PURGE_EXPIRED: Call = Call("purgeExpired");

  /// This call, about one id or key.
  pub fn on(self, subject: &str) -> Op<'_> {
    Op {
      method: self.0,
      subject: Some(subject),
    }
  }

  /// This call, about no single id or key.
  pub fn op(self) -> Op<'static> {
    Op {
      method: self.0,
      subject: None,
    }
  }
}

/// Names an operation in error messages, e.g. `saveSession("abc")`; formatted only on failure.
#[derive(Clone, Copy)]
pub struct Op<'a> {
  /// The public method name.
  pub method: &'static str,
  /// The session id or key involved, if any.
  pub subject: Option<&'a str>,
}

impl fmt::Display for Op<'_> {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self.subject {
      Some(subject) => write!(f, "{}({subject:?})", self.method),
      None => write!(f, "{}()", self.method),
    }
  }
}
