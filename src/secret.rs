//! A string that never prints: passwords, and connection URLs that may carry one.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Text whose `Debug` is `***` and which deserializes without echoing a wrong value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
  /// Wraps `text`.
  pub fn new(text: impl Into<String>) -> Self {
    Secret(text.into())
  }

  /// The text itself, for the one place that needs it (the connection's login).
  pub fn expose(&self) -> &str {
    &self.0
  }
}

impl fmt::Debug for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("***")
  }
}

impl<'de> Deserialize<'de> for Secret {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
      serde_json::Value::String(text) => Ok(Secret(text)),
      // serde's own message would quote the value.
      _ => Err(serde::de::Error::custom("expected a string (the value is not shown)")),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn debug_and_errors_never_show_the_text() {
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    let error = serde_json::from_str::<Secret>("12345678").unwrap_err();
    assert!(!error.to_string().contains("12345678"), "{error}");
    assert_eq!(serde_json::from_str::<Secret>("\"pw\"").unwrap().expose(), "pw");
  }
}
