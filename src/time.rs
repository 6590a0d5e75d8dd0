//! Instants as JS and the page cursors carry them: a `Date`'s epoch milliseconds, and the exact
//! microseconds of a `TIMESTAMP` column.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch (a JS `Date`'s value) to an instant; `field` names the input
/// in the error when it is not a valid `Date`.
pub fn instant_from_ms(field: &str, ms: f64) -> Result<SystemTime> {
  // JS Dates span +-8.64e15 ms; anything else (NaN, Infinity) is not a valid Date.
  if !ms.is_finite() || ms.abs() > 8.64e15 {
    return Err(Error::validation(field, format!("{field} must be a valid Date")));
  }
  let offset = Duration::from_micros((ms.abs() * 1000.0).round() as u64);
  Ok(if ms >= 0.0 {
    UNIX_EPOCH + offset
  } else {
    UNIX_EPOCH - offset
  })
}

/// An instant to whole milliseconds since the Unix epoch.
pub fn ms_from_instant(instant: SystemTime) -> i64 {
  match instant.duration_since(UNIX_EPOCH) {
    Ok(after) => (after.as_micros() / 1000) as i64,
    Err(before) => -(before.duration().as_micros().div_ceil(1000) as i64),
  }
}

/// Microseconds since the Unix epoch (a page cursor) to an instant.
pub fn instant_from_micros(micros: i64) -> Option<SystemTime> {
  let offset = Duration::from_micros(micros.unsigned_abs());
  if micros >= 0 {
    UNIX_EPOCH.checked_add(offset)
  } else {
    UNIX_EPOCH.checked_sub(offset)
  }
}

/// An instant to microseconds since the Unix epoch (a page cursor, exact for `TIMESTAMP`).
pub fn micros_from_instant(instant: SystemTime) -> i64 {
  match instant.duration_since(UNIX_EPOCH) {
    Ok(after) => after.as_micros() as i64,
    Err(before) => -(before.duration().as_micros() as i64),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn millisecond_instants_round_trip() {
    for ms in [0.0, 1.0, 1_732_467_200_123.0, -1.0, -86_400_001.0] {
      let instant = instant_from_ms("updatedAt", ms).unwrap();
      assert_eq!(ms_from_instant(instant), ms as i64, "{ms}");
    }
  }

  #[test]
  fn microsecond_cursors_round_trip() {
    for micros in [0, 1, 1_732_467_200_123_456, -1, -86_400_000_001] {
      let instant = instant_from_micros(micros).unwrap();
      assert_eq!(micros_from_instant(instant), micros, "{micros}");
    }
  }

  #[test]
  fn invalid_dates_are_refused_naming_the_field() {
    for ms in [f64::NAN, f64::INFINITY, 9.0e15] {
      let error = instant_from_ms("createdAt", ms).unwrap_err();
      assert_eq!(error.code(), "E_VALIDATION");
      assert!(error.to_string().contains("createdAt"));
    }
  }
}
