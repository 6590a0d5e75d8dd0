//! JSON text to and from `jsonb` columns without building a JSON tree in Rust: PostgreSQL parses
//! and validates it, we only pass the bytes (jsonb's binary format is a version byte, then text).

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use postgres_types::{accepts, to_sql_checked, FromSql, IsNull, ToSql, Type};

/// The only jsonb binary format version PostgreSQL has defined.
const JSONB_VERSION: u8 = 1;

type BoxError = Box<dyn StdError + Sync + Send>;

/// JSON text bound as a `jsonb` (or `json`) parameter, sent as-is.
#[derive(Debug, Clone, Copy)]
pub struct JsonText<'a>(pub &'a str);

impl ToSql for JsonText<'_> {
  fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    if *ty == Type::JSONB {
      out.reserve(self.0.len() + 1);
      out.put_u8(JSONB_VERSION);
    }
    out.put_slice(self.0.as_bytes());
    Ok(IsNull::No)
  }

  accepts!(JSONB, JSON);

  to_sql_checked!();
}

/// A `jsonb` (or `json`) value read as its JSON text, borrowed from the row.
#[derive(Debug, Clone, Copy)]
pub struct RawJson<'a>(pub &'a str);

impl<'a> FromSql<'a> for RawJson<'a> {
  fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
    let text = if *ty == Type::JSONB {
      match raw.split_first() {
        Some((&JSONB_VERSION, rest)) => rest,
        Some((version, _)) => return Err(format!("unsupported jsonb format version {version}").into()),
        None => return Err("empty jsonb value".into()),
      }
    } else {
      raw
    };
    Ok(RawJson(std::str::from_utf8(text)?))
  }

  accepts!(JSONB, JSON);
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn jsonb_gets_the_version_byte_and_json_does_not() {
    let mut out = BytesMut::new();
    JsonText("{\"a\":1}").to_sql(&Type::JSONB, &mut out).unwrap();
    assert_eq!(&out[..], b"\x01{\"a\":1}");
    let mut out = BytesMut::new();
    JsonText("[]").to_sql(&Type::JSON, &mut out).unwrap();
    assert_eq!(&out[..], b"[]");
  }

  #[test]
  fn reading_strips_the_version_byte() {
    assert_eq!(RawJson::from_sql(&Type::JSONB, b"\x01{}").unwrap().0, "{}");
    assert_eq!(RawJson::from_sql(&Type::JSON, b"[1]").unwrap().0, "[1]");
    assert!(RawJson::from_sql(&Type::JSONB, b"\x02{}").is_err());
    assert!(RawJson::from_sql(&Type::JSONB, b"").is_err());
  }

  #[test]
  fn only_json_types_are_accepted() {
    assert!(<JsonText as ToSql>::accepts(&Type::JSONB));
    assert!(!<JsonText as ToSql>::accepts(&Type::TEXT));
    assert!(<RawJson as FromSql>::accepts(&Type::JSON));
  }
}
