//! How a statement is declared: [`Stmt`] (text and parameter types), [`Tables`] (the tables'
//! names for the configured schema, baked into the text once) and the `statements!` table through
//! which each operation module declares its SQL once.

use tokio_postgres::types::Type;

/// One statement: its text and its parameters' types (given to the server, never inferred, so
/// the same statement runs prepared or as a one-shot typed query).
#[derive(Debug, Clone)]
pub struct Stmt {
  /// SQL text, with the table names baked in.
  pub text: String,
  /// Types of `$1`, `$2`, ...
  pub types: &'static [Type],
}

impl Stmt {
  /// `text` with its placeholders filled in for `tables`.
  pub fn new(tables: &Tables, text: &str, types: &'static [Type]) -> Self {
    Stmt {
      text: tables.expand(text),
      types,
    }
  }
}

/// The tables' names as SQL, built once per schema (never formatted per call).
#[derive(Debug, Clone)]
pub struct Tables {
  /// `CREATE SCHEMA` for a named schema (quoted), else nothing.
  namespace: Option<String>,
  /// `sessions`, or `"schema".sessions`.
  pub sessions: String,
  /// `key_value`, or `"schema".key_value`.
  pub key_value: String,
}

impl Tables {
  /// The tables in `schema`, or (when `None`) unqualified names resolved through the connection's
  /// `search_path`, as the original adapter did.
  pub fn new(schema: Option<&str>) -> Self {
    match schema {
      None => Tables {
        namespace: None,
        sessions: "sessions".into(),
        key_value: "key_value".into(),
      },
      Some(schema) => {
        let quoted = quote_identifier(schema);
        Tables {
          sessions: format!("{quoted}.sessions"),
          key_value: format!("{quoted}.key_value"),
          namespace: Some(quoted),
        }
      }
    }
  }

  /// The named schema, quoted as an identifier (`None`: the `search_path`'s).
  pub fn namespace(&self) -> Option<&str> {
    self.namespace.as_deref()
  }

  /// `name` (a table or index of the schema) qualified as the statements name the tables.
  pub fn qualify(&self, name: &str) -> String {
    match &self.namespace {
      Some(quoted) => format!("{quoted}.{name}"),
      None => name.to_string(),
    }
  }

  /// Fills in `{sessions}`, `{key_value}`, `{state_counts}` / `{state_deltas}` (the per-state session counters),
  /// `{live}` (an unexpired key-value row) and `{now}` (UTC wall time, as the `TIMESTAMP` columns
  /// hold it).
  pub fn expand(&self, text: &str) -> String {
    self.expand_with(text, &[])
  }

  /// [`expand`](Self::expand), with `more` placeholders (`("{name}", text)`) filled in too.
  pub fn expand_with(&self, text: &str, more: &[(&str, &str)]) -> String {
    let now = "(now() AT TIME ZONE 'UTC')";
    let live = format!("(ttl IS NULL OR ttl > {now})");
    let counts = self.qualify("session_state_counts");
    let deltas = self.qualify("session_state_deltas");
    let mut placeholders: Vec<(&str, &str)> = vec![
      ("{sessions}", &self.sessions),
      ("{key_value}", &self.key_value),
      ("{state_counts}", &counts),
      ("{state_deltas}", &deltas),
      ("{live}", &live),
      ("{now}", now),
    ];
    placeholders.extend_from_slice(more);
    fill(text, &placeholders)
  }
}

/// `text` with each `{name}` of `placeholders` replaced, in one pass: what is filled in (a
/// schema's name may hold braces) is never read for placeholders again.
pub fn fill(text: &str, placeholders: &[(&str, &str)]) -> String {
  let mut out = String::with_capacity(text.len() + 64);
  let mut rest = text;
  while let Some(at) = rest.find('{') {
    out.push_str(&rest[..at]);
    rest = &rest[at..];
    match placeholders.iter().find(|(name, _)| rest.starts_with(name)) {
      Some((name, value)) => {
        out.push_str(value);
        rest = &rest[name.len()..];
      }
      None => {
        out.push('{');
        rest = &rest[1..];
      }
    }
  }
  out.push_str(rest);
  out
}

/// `name` as a double-quoted SQL identifier.
pub fn quote_identifier(name: &str) -> String {
  format!("\"{}\"", name.replace('"', "\"\""))
}

/// Declares a struct of [`Stmt`]s, one per `name(TYPES) = "SQL";` line, with `new(&Tables)` and
/// `all()`. The one place a statement is written; `initialize()` prepares every one of them.
macro_rules! statements {
  ($(#[$meta:meta])* pub struct $name:ident { $($(#[$doc:meta])* $field:ident($($ty:ident),*) = $text:expr;)* }) => {
    $(#[$meta])*
    #[derive(Debug, Clone)]
    pub struct $name {
      $($(#[$doc])* pub $field: $crate::statement::Stmt,)*
    }

    impl $name {
      /// Every statement, for `tables`.
      pub fn new(tables: &$crate::statement::Tables) -> Self {
        $name {
          $($field: $crate::statement::Stmt::new(tables, $text, &[$(tokio_postgres::types::Type::$ty),*]),)*
        }
      }

      /// All of them.
      pub fn all(&self) -> Vec<&$crate::statement::Stmt> {
        vec![$(&self.$field),*]
      }
    }
  };
}
pub(crate) use statements;

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn placeholders_inside_a_schema_name_are_never_filled_in() {
    let tables = Tables::new(Some("{key_value}{now}"));
    let text = tables.expand("DELETE FROM {sessions} WHERE {live}");
    assert_eq!(
      text,
      "DELETE FROM \"{key_value}{now}\".sessions WHERE (ttl IS NULL OR ttl > (now() AT TIME ZONE 'UTC'))"
    );
    assert_eq!(fill("{a}{b}{", &[("{a}", "{b}"), ("{b}", "x")]), "{b}x{");
  }
}
