//! The statement runner every query goes through: a cached prepared statement or a one-shot typed
//! statement (`statementCache: false`), writes with the call's deadline carried to the server, and
//! typed column reads.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Object};
use futures_util::TryStreamExt;
use tokio::time::Instant;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use super::Store;
use crate::error::{Error, Result};
use crate::jsonb::RawJson;
use crate::op::Op;
use crate::retry::Attempt;
use crate::statement::Stmt;

/// Parameters as tokio-postgres takes them.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A pooled connection or a transaction on one: deadpool's statement cache plus tokio-postgres'
/// one-shot typed queries.
pub trait Conn: GenericClient + Sync {
  /// The tokio-postgres client or transaction underneath.
  type Pg: tokio_postgres::GenericClient + Sync;
  /// The tokio-postgres client or transaction underneath.
  fn pg(&self) -> &Self::Pg;
}

impl Conn for Object {
  type Pg = tokio_postgres::Client;
  fn pg(&self) -> &tokio_postgres::Client {
    self
  }
}

impl<'a> Conn for deadpool_postgres::Transaction<'a> {
  type Pg = tokio_postgres::Transaction<'a>;
  fn pg(&self) -> &tokio_postgres::Transaction<'a> {
    self
  }
}

fn typed<'p>(stmt: &Stmt, params: &Params<'p>) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
  params
    .iter()
    .zip(stmt.types)
    .map(|(param, ty)| (*param, ty.clone()))
    .collect()
}

/// What a write statement returned: its rows (`RETURNING`) and how many rows it affected.
pub struct Written {
  /// The rows it returned.
  pub rows: Vec<Row>,
  /// The rows it inserted, updated or deleted.
  pub count: u64,
}

impl Store {
  /// The connection's prepared statement for `stmt` (prepared on first use, then cached).
  pub async fn prepared(&self, client: &impl Conn, stmt: &Stmt, op: Op<'_>) -> Result<Statement> {
    client
      .prepare_typed_cached(&stmt.text, stmt.types)
      .await
      .map_err(|e| Error::from_pg(op, &e))
  }

  /// Runs a statement and returns its rows: prepared and cached, or with `statementCache: false`
  /// as one unnamed typed statement (one round trip, nothing left on the server).
  pub async fn query(&self, client: &impl Conn, stmt: &Stmt, params: &Params<'_>, op: Op<'_>) -> Result<Vec<Row>> {
    let rows = if self.options().statement_cache.0 {
      let statement = self.prepared(client, stmt, op).await?;
      client.query(&statement, params).await
    } else {
      tokio_postgres::GenericClient::query_typed(client.pg(), &stmt.text, &typed(stmt, params)).await
    };
    rows.map_err(|e| Error::from_pg(op, &e))
  }

  /// Runs a statement and hands each row to `each` as it arrives, so that a large result is never
  /// held as rows.
  pub async fn each_row(
    &self,
    client: &Object,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
    mut each: impl FnMut(&Row) -> Result<()>,
  ) -> Result<()> {
    let statement = self.statement_if_cached(client, stmt, op).await?;
    self
      .stream(client, stmt, statement.as_ref(), params, op, |row| each(&row))
      .await
      .map(|_| ())
  }

  /// Runs a statement and returns its first row, if any.
  pub async fn query_opt(
    &self,
    client: &impl Conn,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Option<Row>> {
    Ok(self.query(client, stmt, params, op).await?.into_iter().next())
  }

  /// Runs a statement and returns the number of rows it affected.
  pub async fn execute(&self, client: &impl Conn, stmt: &Stmt, params: &Params<'_>, op: Op<'_>) -> Result<u64> {
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    if self.options().statement_cache.0 {
      let statement = self.prepared(client, stmt, op).await?;
      return client.execute(&statement, params).await.map_err(pg_error);
    }
    let stream = tokio_postgres::GenericClient::query_typed_raw(client.pg(), &stmt.text, typed(stmt, params))
      .await
      .map_err(pg_error)?;
    futures_util::pin_mut!(stream);
    while stream.try_next().await.map_err(pg_error)?.is_some() {}
    Ok(stream.rows_affected().unwrap_or(0))
  }

  /// Runs one write statement and commits it. The call's deadline reaches the server: a statement
  /// still running at the deadline is cancelled there (see `retry::run_attempt`), so a write that
  /// fails with `E_TIMEOUT` never commits later.
  ///
  /// Alone it runs as one autocommit statement: the fastest form, and the one that costs the
  /// server least. With a lock bound (`attempt.lock_wait`, in coalesced groups) it runs in a
  /// transaction of its own that carries the timeouts to the server (see
  /// [`Attempt::begin_sql`]): `BEGIN` with them, the statement and `COMMIT` in one flight.
  pub async fn write(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    if attempt.lock_wait.is_some() {
      return self.write_in_transaction(client, attempt, stmt, params, op, true).await;
    }
    if attempt.deadline <= Instant::now() {
      return Err(self.deadline_passed(op));
    }
    let statement = self.statement_if_cached(client, stmt, op).await?;
    attempt.sending_write();
    self.run_write(client, stmt, statement.as_ref(), params, op).await
  }

  /// [`write`](Self::write) in a transaction left open for the caller to end with `COMMIT` or
  /// `ROLLBACK` (see [`end_write`](Self::end_write)); the timeouts go to the server with `BEGIN`,
  /// so that a client gone silent mid-transaction holds no lock past the deadline.
  pub async fn write_begun(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    self
      .write_in_transaction(client, attempt, stmt, params, op, false)
      .await
  }

  async fn write_in_transaction(
    &self,
    client: &Object,
    attempt: &Attempt,
    stmt: &Stmt,
    params: &Params<'_>,
    op: Op<'_>,
    commit: bool,
  ) -> Result<Written> {
    let statement_timeout = self.options().statement_timeout_ms.map(|ms| ms.duration());
    let begin = attempt
      .begin_sql(statement_timeout)
      .ok_or_else(|| self.deadline_passed(op))?;
    // Prepared first: the three requests below must leave in order, each sent when its future is
    // first polled.
    let statement = self.statement_if_cached(client, stmt, op).await?;
    let pg: &tokio_postgres::Client = client;
    let end = async {
      match commit {
        // On a transaction the statement aborted, COMMIT rolls back (and succeeds).
        true => pg.batch_execute("COMMIT").await.map_err(|e| Error::from_pg(op, &e)),
        false => Ok(()),
      }
    };
    attempt.sending_write();
    let (begun, written, ended) = futures_util::join!(
      pg.batch_execute(&begin),
      self.run_write(client, stmt, statement.as_ref(), params, op),
      end
    );
    let outcome = begun.map_err(|e| Error::from_pg(op, &e)).and(written);
    if !commit {
      if let Err(error) = &outcome {
        // The failed statement left its transaction open (and aborted): end it here.
        if !error.is_connection_loss() {
          self.end_write(client, false, op).await?;
        }
      }
    }
    let written = outcome?;
    ended?;
    Ok(written)
  }

  /// The connection's prepared statement for `stmt`, or `None` with `statementCache: false`.
  async fn statement_if_cached(&self, client: &Object, stmt: &Stmt, op: Op<'_>) -> Result<Option<Statement>> {
    match self.options().statement_cache.0 {
      true => Ok(Some(self.prepared(client, stmt, op).await?)),
      false => Ok(None),
    }
  }

  /// Runs `stmt` (as `statement` when prepared) and collects its rows and row count. Its request
  /// is sent when the future is first polled.
  async fn run_write(
    &self,
    client: &Object,
    stmt: &Stmt,
    statement: Option<&Statement>,
    params: &Params<'_>,
    op: Op<'_>,
  ) -> Result<Written> {
    let mut rows = Vec::new();
    let count = self
      .stream(client, stmt, statement, params, op, |row| {
        rows.push(row);
        Ok(())
      })
      .await?;
    Ok(Written { count, rows })
  }

  /// Runs `stmt` (as `statement` when prepared), hands each row to `each` as it arrives, and
  /// returns the number of rows it affected. Its request is sent when the future is first polled.
  async fn stream(
    &self,
    client: &Object,
    stmt: &Stmt,
    statement: Option<&Statement>,
    params: &Params<'_>,
    op: Op<'_>,
    mut each: impl FnMut(Row) -> Result<()>,
  ) -> Result<u64> {
    let pg: &tokio_postgres::Client = client;
    let pg_error = |e: tokio_postgres::Error| Error::from_pg(op, &e);
    let stream = match statement {
      Some(statement) => pg.query_raw(statement, params.iter().copied()).await,
      None => pg.query_typed_raw(&stmt.text, typed(stmt, params)).await,
    }
    .map_err(pg_error)?;
    futures_util::pin_mut!(stream);
    while let Some(row) = stream.try_next().await.map_err(pg_error)? {
      each(row)?;
    }
    Ok(stream.rows_affected().unwrap_or(0))
  }

  /// Ends the transaction [`write_begun`](Self::write_begun) opened.
  pub async fn end_write(&self, client: &Object, commit: bool, op: Op<'_>) -> Result<()> {
    let pg: &tokio_postgres::Client = client;
    pg.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
      .await
      .map_err(|e| Error::from_pg(op, &e))
  }

  /// For each of `keys` in order, the JSON `stmt` (`... WHERE <key> = ANY($1)`) returned for it in
  /// `columns` (key column, JSON column), or `None`: one statement for a group of lookups.
  pub async fn json_by_key(
    &self,
    client: &impl Conn,
    stmt: &Stmt,
    keys: &[&str],
    (key_column, json_column): (&str, &str),
    op: Op<'_>,
  ) -> Result<Vec<Option<String>>> {
    let rows = self.query(client, stmt, &[&keys], op).await?;
    let mut found: HashMap<&str, &str> = HashMap::with_capacity(rows.len());
    for row in &rows {
      found.insert(
        column(row, key_column, op)?,
        column::<RawJson<'_>>(row, json_column, op)?.0,
      );
    }
    Ok(
      keys
        .iter()
        .map(|key| found.get(key).map(|json| json.to_string()))
        .collect(),
    )
  }
}

/// Reads a column by name, turning a type mismatch into `E_QUERY` instead of a panic.
pub fn column<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, name: &str, op: Op<'_>) -> Result<T> {
  row.try_get(name).map_err(|e| Error::from_pg(op, &e))
}
