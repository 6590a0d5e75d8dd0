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

/// Milliseconds since the Unix epoch as `Date.prototype.toISOString()` writes them
/// (`2026-12-04T19:32:48.000Z`), the form session JSON holds dates in; `field` names the input in
/// the error when it is not a valid `Date` of the years 0 to 9999.
pub fn iso_from_ms(field: &str, ms: f64) -> Result<String> {
  instant_from_ms(field, ms)?;
  let ms = ms.floor() as i64;
  let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
  // Howard Hinnant's civil_from_days.
  let z = days + 719_468;
  let era = z.div_euclid(146_097);
  let day_of_era = z.rem_euclid(146_097);
  let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
  let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  let month_index = (5 * day_of_year + 2) / 153;
  let day = day_of_year - (153 * month_index + 2) / 5 + 1;
  let month = if month_index < 10 {
    month_index + 3
  } else {
    month_index - 9
  };
  let year = year_of_era + era * 400 + i64::from(month <= 2);
  if !(0..=9999).contains(&year) {
    return Err(Error::validation(
      field,
      format!("{field} must be a Date of the years 0 to 9999"),
    ));
  }
  Ok(format!(
    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
    in_day / 3_600_000,
    in_day / 60_000 % 60,
    in_day / 1000 % 60,
    in_day % 1000
  ))
}

/// Now, as [`iso_from_ms`] writes it.
pub fn iso_now() -> String {
  let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
    Ok(since) => since.as_millis() as f64,
    Err(_) => 0.0,
  };
  iso_from_ms("now", ms).unwrap_or_default()
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
  fn dates_are_written_as_javascript_writes_them() {
    for (ms, iso) in [
      (0.0, "1970-01-01T00:00:00.000Z"),
      (1_796_413_968_123.0, "2026-12-04T19:52:48.123Z"),
      (951_782_400_000.0, "2000-02-29T00:00:00.000Z"),
      (-1.0, "1969-12-31T23:59:59.999Z"),
      (-62_167_219_200_000.0, "0000-01-01T00:00:00.000Z"),
      (253_402_300_799_999.0, "9999-12-31T23:59:59.999Z"),
    ] {
      assert_eq!(iso_from_ms("now", ms).unwrap(), iso, "{ms}");
    }
    assert_eq!(
      iso_from_ms("now", 253_402_300_800_000.0).unwrap_err().code(),
      "E_VALIDATION"
    );
    assert_eq!(iso_from_ms("now", f64::NAN).unwrap_err().code(), "E_VALIDATION");
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
