//! `postgres://` / `postgresql://` connection URLs in libpq's form, plus what tokio-postgres'
//! own parser lacks (`sslmode=verify-ca` / `verify-full`, `sslrootcert`). Errors never quote the
//! URL: its user info may hold a password, and a password with an unencoded `/`, `?`, `#` or `@`
//! is exactly what makes a URL malformed.
//!
//! tokio-postgres' `Config::from_str` ends the user info at the first `@` (so a password holding
//! `@` turns into a host name that error messages then print) and knows no verify modes, so the
//! URL is parsed here.

use crate::error::{Error, Result};
use crate::option_values::{split_list, SessionAttrs, SslMode};
use crate::secret::Secret;

/// What a connection URL says; `None` fields fall through to options and environment.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UrlParts {
  /// Hosts (`host1,host2`, `[::1]`, or `?host=/socket/dir`).
  pub hosts: Option<Vec<String>>,
  /// One port, or one per host.
  pub ports: Option<Vec<u16>>,
  /// Login role.
  pub user: Option<String>,
  /// Password.
  pub password: Option<Secret>,
  /// Database name (the path).
  pub database: Option<String>,
  /// `sslmode`.
  pub ssl_mode: Option<SslMode>,
  /// `sslrootcert`: a CA file.
  pub ssl_root_cert: Option<String>,
  /// `connect_timeout`, in seconds.
  pub connect_timeout_s: Option<u64>,
  /// `application_name`.
  pub application_name: Option<String>,
  /// `target_session_attrs`.
  pub target_session_attrs: Option<SessionAttrs>,
}

/// The query parameters a URL may carry.
const PARAMETERS: &str =
  "sslmode, sslrootcert, connect_timeout, application_name, host, port, user, password, dbname, \
                          target_session_attrs";

/// How to write a password that holds URL delimiters.
const ENCODING_HINT: &str = "percent-encode them in the user name and password: `/` as %2F, `?` as %3F, `#` as %23, \
                             `@` as %40, `:` as %3A, `%` as %25 (e.g. encodeURIComponent(password))";

/// True for `postgres://` and `postgresql://` URLs (any case).
pub fn is_postgres_url(text: &str) -> bool {
  strip_scheme(text.trim_start()).is_some()
}

/// Parses `postgres[ql]://[user[:password]@][host[:port][,...]][/database][?param=value&...]`.
/// `field` names the option (or variable) the URL came from, for error messages.
pub fn parse(field: &str, url: &str) -> Result<UrlParts> {
  let bad = |reason: String| {
    Error::config(
      field,
      format!("{reason} (the URL is not shown: it may hold a password)"),
    )
  };
  let rest = strip_scheme(url.trim()).ok_or_else(|| {
    Error::config(
      field,
      "expected a URL starting with postgres:// or postgresql:// (the value is not shown)",
    )
  })?;
  // The authority ends at the first `/`, `?` or `#` (RFC 3986); an `@` after that point means
  // the user info held one of those characters unencoded.
  let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
  let (authority, tail) = rest.split_at(authority_end);
  if tail.contains('@') {
    return Err(bad(format!(
      "its user name or password holds an unencoded `/`, `?`, `#` or `@`; {ENCODING_HINT}"
    )));
  }
  let mut parts = UrlParts::default();
  let hostlist = match authority.rfind('@') {
    Some(at) => {
      let (user, password) = match authority[..at].split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (&authority[..at], None),
      };
      if !user.is_empty() {
        parts.user = Some(
          decode(user).ok_or_else(|| bad(format!("its user name is not valid percent-encoding; {ENCODING_HINT}")))?,
        );
      }
      if let Some(password) = password {
        let password = decode(password)
          .ok_or_else(|| bad(format!("its password is not valid percent-encoding; {ENCODING_HINT}")))?;
        parts.password = Some(Secret::new(password));
      }
      &authority[at + 1..]
    }
    None => authority,
  };
  if !hostlist.is_empty() {
    let (hosts, ports) = parse_hostlist(hostlist).map_err(&bad)?;
    parts.hosts = (!hosts.is_empty()).then_some(hosts);
    parts.ports = (!ports.is_empty()).then_some(ports);
  }
  let (path, query) = match tail.split_once('?') {
    Some((path, query)) => (path, query),
    None => (tail, ""),
  };
  let database = path.strip_prefix('/').unwrap_or(path);
  if !database.is_empty() {
    parts.database =
      Some(decode(database).ok_or_else(|| bad("its database name is not valid percent-encoding".into()))?);
  }
  for pair in query.split('&').filter(|pair| !pair.is_empty()) {
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    let value = decode(value).ok_or_else(|| {
      bad(format!(
        "the value of its parameter {key:?} is not valid percent-encoding"
      ))
    })?;
    let invalid = |expected: &str| bad(format!("its parameter {key:?} must be {expected}"));
    match key {
      "sslmode" => parts.ssl_mode = Some(SslMode::parse(&value).ok_or_else(|| invalid(SslMode::EXPECTED))?),
      "sslrootcert" => parts.ssl_root_cert = Some(value),
      "connect_timeout" => {
        let seconds = value.parse::<u64>().ok().filter(|seconds| *seconds > 0);
        parts.connect_timeout_s = Some(seconds.ok_or_else(|| invalid("a positive number of seconds"))?);
      }
      "application_name" => parts.application_name = Some(value),
      "host" => parts.hosts = Some(split_list(&value)),
      "port" => {
        let ports: Option<Vec<u16>> = split_list(&value).iter().map(|port| parse_port(port)).collect();
        parts.ports = Some(ports.ok_or_else(|| invalid("a port (1 to 65535) or a comma-separated list of them"))?);
      }
      "user" => parts.user = Some(value),
      "password" => parts.password = Some(Secret::new(value)),
      "dbname" => parts.database = Some(value),
      "target_session_attrs" => {
        parts.target_session_attrs = Some(SessionAttrs::parse(&value).ok_or_else(|| invalid(SessionAttrs::EXPECTED))?)
      }
      _ => {
        return Err(bad(format!(
          "its parameter {key:?} is not supported (supported: {PARAMETERS})"
        )))
      }
    }
  }
  Ok(parts)
}

/// `host[:port]` entries separated by commas; IPv6 addresses in brackets.
fn parse_hostlist(hostlist: &str) -> std::result::Result<(Vec<String>, Vec<u16>), String> {
  let mut hosts = Vec::new();
  let mut ports = Vec::new();
  for entry in hostlist.split(',') {
    let (host, port) = match entry.strip_prefix('[') {
      Some(bracketed) => {
        let close = bracketed.find(']').ok_or("an IPv6 host in it lacks its closing `]`")?;
        match &bracketed[close + 1..] {
          "" => (&bracketed[..close], None),
          after => match after.strip_prefix(':') {
            Some(port) => (&bracketed[..close], Some(port)),
            None => return Err("an IPv6 host in it is followed by something other than `:port`".into()),
          },
        }
      }
      None => match entry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (entry, None),
      },
    };
    if !host.is_empty() {
      hosts.push(decode(host).ok_or("a host name in it is not valid percent-encoding")?);
    }
    if let Some(port) = port {
      ports.push(parse_port(port).ok_or_else(|| {
        format!(
          "a port in it is not an integer from 1 to 65535; if the password holds `/`, `?`, `#` or `@`, {ENCODING_HINT}"
        )
      })?);
    }
  }
  Ok((hosts, ports))
}

fn strip_scheme(url: &str) -> Option<&str> {
  ["postgresql://", "postgres://"].into_iter().find_map(|scheme| {
    url
      .get(..scheme.len())
      .filter(|head| head.eq_ignore_ascii_case(scheme))
      .map(|_| &url[scheme.len()..])
  })
}

fn parse_port(text: &str) -> Option<u16> {
  text.trim().parse::<u16>().ok().filter(|port| *port > 0)
}

/// Percent-decodes `text` into UTF-8; `None` when malformed.
fn decode(text: &str) -> Option<String> {
  let bytes = text.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut index = 0;
  while index < bytes.len() {
    if bytes[index] == b'%' {
      let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
      out.push(u8::from_str_radix(hex, 16).ok()?);
      index += 3;
    } else {
      out.push(bytes[index]);
      index += 1;
    }
  }
  String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn forms_libpq_accepts() {
    let parts = parse("u", "postgres://a:1,b:2,[::1]:3/db").unwrap();
    assert_eq!(parts.hosts.unwrap(), vec!["a", "b", "::1"]);
    assert_eq!(parts.ports.unwrap(), vec![1, 2, 3]);
    let parts = parse("u", "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql").unwrap();
    assert_eq!(parts.hosts.unwrap(), vec!["/var/run/postgresql"]);
    assert_eq!(parts.database.unwrap(), "db");
    assert_eq!(parse("u", "POSTGRESQL://localhost").unwrap().database, None);
    assert_eq!(
      parse("u", "postgres://h/db?sslmode=verify-full").unwrap().ssl_mode,
      Some(SslMode::VerifyFull)
    );
    let parts = parse(
      "u",
      "postgresql://app:p%40ss%2F1@db.example:6543/sessions?application_name=x",
    )
    .unwrap();
    assert_eq!(parts.user.as_deref(), Some("app"));
    assert_eq!(parts.password.unwrap().expose(), "p@ss/1");
    assert_eq!(parts.hosts.unwrap(), vec!["db.example"]);
    assert_eq!(parts.ports.unwrap(), vec![6543]);
    assert_eq!(parts.application_name.as_deref(), Some("x"));
    assert!(is_postgres_url("  Postgres://x") && !is_postgres_url("./test-data"));
  }

  #[test]
  fn an_unencoded_at_sign_in_the_password_still_parses() {
    let parts = parse("u", "postgres://app:Qe4@Ty6@db/x").unwrap();
    assert_eq!(parts.password.unwrap().expose(), "Qe4@Ty6");
    assert_eq!(parts.hosts.unwrap(), vec!["db"]);
  }

  #[test]
  fn errors_never_quote_the_user_info_and_say_how_to_encode() {
    for (url, secret) in [
      ("postgres://u:Zq7/Xw9@h:5432/db", ["Zq7", "Xw9"]),
      ("postgres://u:Kp3?Lm5@h/db", ["Kp3", "Lm5"]),
      ("postgres://u:Vb1#Nc8@h/db", ["Vb1", "Nc8"]),
      ("postgres://u:Zq7/Xw9?x=1@h/db", ["Zq7", "Xw9"]),
      ("postgres://u:Zq7%ZZXw9@h/db", ["Zq7", "Xw9"]),
      ("postgres://u:Zq7@h:Xw9/db", ["Zq7", "Xw9"]),
      ("mysql://u:Zq7@h/Xw9", ["Zq7", "Xw9"]),
      ("postgres://u:Zq7@h/db?Xw9=1", ["Zq7", "Zq7"]),
    ] {
      let error = parse("connectionString", url).unwrap_err();
      let text = error.to_string();
      assert_eq!(error.code(), "E_CONFIG", "{url}");
      assert!(text.contains("connectionString"), "{text}");
      for fragment in secret {
        assert!(!text.contains(fragment), "{url}: {text}");
      }
    }
    let text = parse("connectionString", "postgres://u:Zq7/Xw9@h/db")
      .unwrap_err()
      .to_string();
    assert!(text.contains("%2F") && text.contains("percent-encode"), "{text}");
  }

  #[test]
  fn parameters_are_checked() {
    assert!(parse("u", "postgres://h/db?sslmode=sometimes").is_err());
    assert!(parse("u", "postgres://h/db?connect_timeout=0").is_err());
    assert_eq!(
      parse("u", "postgres://h/db?connect_timeout=3")
        .unwrap()
        .connect_timeout_s,
      Some(3)
    );
    assert_eq!(
      parse("u", "postgres://h/db?target_session_attrs=read-write")
        .unwrap()
        .target_session_attrs,
      Some(SessionAttrs::ReadWrite)
    );
    assert_eq!(parse("u", "postgres://h/db?port=1,2").unwrap().ports, Some(vec![1, 2]));
  }
}
