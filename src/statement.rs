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
    text
      .replace("{state_counts}", &self.qualify("session_state_counts"))
      .replace("{state_deltas}", &self.qualify("session_state_deltas"))
      .replace("{live}", "(ttl IS NULL OR ttl > {now})")
      .replace("{now}", "(now() AT TIME ZONE 'UTC')")
      .replace("{sessions}", &self.sessions)
      .replace("{key_value}", &self.key_value)
  }
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
