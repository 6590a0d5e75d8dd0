//! Names of the calls being served: `Call` is a public method by its JS name, `Op` that method
//! about one id or key, as errors and metrics name them. A leaf: it imports nothing of the crate.

use std::fmt;

/// A public method being served, by its JS name: it names the call in errors and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call(pub &'static str);

impl Call {
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
