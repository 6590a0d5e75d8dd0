//! The session statements, each written once.

use crate::statement::statements;

/// The summary columns of `listSessions`: id, state, updatedAt, agentCount.
macro_rules! summary {
  () => {
    "SELECT id, data->>'state' AS state, updated_at, \
     CASE WHEN jsonb_typeof(data->'agentIds') = 'array' THEN jsonb_array_length(data->'agentIds') ELSE 0 END AS agent_count \
     FROM {sessions}"
  };
}

/// The row version's validator (see `cache.rs`): `xmin:ctid:version` of the sessions table
/// (`$table` its alias and a dot, or nothing). Any UPDATE, by any client, makes a new row version
/// with another `xmin` and `ctid`.
macro_rules! validator {
  ($table:literal) => {
    concat!(
      $table,
      "xmin::text || ':' || ",
      $table,
      "ctid::text || ':' || ",
      $table,
      "version::text"
    )
  };
}

/// Whether the row `$row` (a `RETURNING` row of the sessions table with its `tableoid`, read
/// after the upsert; `$6` is the sessions table's name, bound as text) is sure to hold exactly
/// the data its statement sent: only a `BEFORE INSERT` or `BEFORE UPDATE` row trigger can store
/// other data (rules cannot: `ON CONFLICT` refuses tables with rules), so it is when neither the
/// row's table (a partition, say) nor the sessions table has one enabled. The statement's lock on
/// the table keeps one from appearing while it runs. (Comparing the stored data with the sent one
/// would read the whole session once more, and would put the sent JSON in the plan twice.) Asked
/// outside the `INSERT`, as Citus requires (no subqueries in a distributed `INSERT`); there
/// `tableoid` names a shard on a worker, and the sessions table's triggers are the coordinator's.
macro_rules! stored_as_sent {
  ($row:literal) => {
    concat!(
      "NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid IN (",
      $row,
      ".tableoid, $6::regclass) AND t.tgenabled <> 'D' AND t.tgtype::int4 & 3 = 3 AND t.tgtype::int4 & 20 <> 0)"
    )
  };
}

/// The version guard of every save: a row is replaced only by a newer version.
macro_rules! upsert_guard {
  () => {
    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at \
     WHERE {sessions}.version < EXCLUDED.version"
  };
}

statements! {
  /// The session statements.
  pub struct SessionSql {
    /// Upsert guarded by the version: affects 1 row when accepted (returning the new row
    /// version's validator, and whether it is sure to hold exactly the data sent: see
    /// `stored_as_sent`), 0 on a version conflict.
    save_session(TEXT, JSONB, INT4, TIMESTAMP, TIMESTAMP, TEXT) = concat!(
      "WITH written AS (INSERT INTO {sessions} (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
      upsert_guard!(),
      " RETURNING {sessions}.tableoid, ", validator!("{sessions}."), " AS validator) \
       SELECT validator, ", stored_as_sent!("written"), " AS same FROM written"
    );
    /// Batch upsert from arrays; returns the ids it wrote.
    save_sessions(TEXT_ARRAY, JSONB_ARRAY, INT4_ARRAY, TIMESTAMP_ARRAY, TIMESTAMP_ARRAY) = concat!(
      "INSERT INTO {sessions} (id, data, version, created_at, updated_at) \
       SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int4[], $4::timestamp[], $5::timestamp[])",
      upsert_guard!(),
      " RETURNING id"
    );
    /// A coalesced group's upsert from arrays: the ids it wrote, each with the new row version's
    /// validator and whether the row is sure to hold exactly the data sent (for conditional reads).
    save_group(TEXT_ARRAY, JSONB_ARRAY, INT4_ARRAY, TIMESTAMP_ARRAY, TIMESTAMP_ARRAY, TEXT) = concat!(
      "WITH input AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int4[], $4::timestamp[], $5::timestamp[]) \
       AS i(id, data, version, created_at, updated_at)), \
       written AS (INSERT INTO {sessions} (id, data, version, created_at, updated_at) SELECT * FROM input",
      upsert_guard!(),
      " RETURNING {sessions}.id, {sessions}.tableoid, ", validator!("{sessions}."), " AS validator) \
       SELECT id, validator, ", stored_as_sent!("written"), " AS same FROM written"
    );
    /// Stored version of one session.
    stored_version(TEXT) = "SELECT version FROM {sessions} WHERE id = $1";
    /// Stored versions of several sessions, and whether each is stored with exactly this data.
    stored_versions(TEXT_ARRAY, JSONB_ARRAY) = "SELECT id, s.version, s.data = i.data AS same FROM {sessions} s \
       JOIN unnest($1::text[], $2::jsonb[]) AS i(id, data) USING (id)";
    /// How many of the given (id, data, version) triples are stored exactly so: tells, after a
    /// lost connection, whether an earlier attempt of the same save was committed.
    applied_sessions(TEXT_ARRAY, JSONB_ARRAY, INT4_ARRAY) = "SELECT count(*) AS matching FROM {sessions} s \
       JOIN unnest($1::text[], $2::jsonb[], $3::int4[]) AS i(id, data, version) \
       ON s.id = i.id AND s.version = i.version AND s.data = i.data";
    /// One session's JSON.
    get_session(TEXT) = "SELECT data FROM {sessions} WHERE id = $1";
    /// One session's row validator, and its JSON unless the row is still the version `$2` names
    /// (then only the index and the row header are read: no detoasting, no transfer).
    get_session_if_changed(TEXT, TEXT) = concat!(
      "SELECT ", validator!(""), " AS validator, CASE WHEN ", validator!(""),
      " = $2 THEN NULL ELSE data END AS data FROM {sessions} WHERE id = $1"
    );
    /// The same for several sessions, `$2` holding each one's validator ('' for none).
    get_sessions_if_changed(TEXT_ARRAY, TEXT_ARRAY) = concat!(
      "SELECT s.id, ", validator!("s."), " AS validator, CASE WHEN ", validator!("s."),
      " = i.validator THEN NULL ELSE s.data END AS data \
       FROM {sessions} s JOIN unnest($1::text[], $2::text[]) AS i(id, validator) ON s.id = i.id"
    );
    /// Many sessions' ids and JSON.
    get_sessions(TEXT_ARRAY) = "SELECT id, data FROM {sessions} WHERE id = ANY($1::text[])";
    /// Delete one session.
    delete_session(TEXT) = "DELETE FROM {sessions} WHERE id = $1";
    /// Delete many sessions.
    delete_sessions(TEXT_ARRAY) = "DELETE FROM {sessions} WHERE id = ANY($1::text[])";
    /// Does a session exist.
    has_session(TEXT) = "SELECT EXISTS (SELECT 1 FROM {sessions} WHERE id = $1) AS found";
    /// Which of several sessions exist.
    existing_ids(TEXT_ARRAY) = "SELECT id FROM {sessions} WHERE id = ANY($1::text[])";
    /// Summaries, newest first.
    list_sessions(INT8, INT8) = concat!(summary!(), " ORDER BY updated_at DESC, id DESC LIMIT $1 OFFSET $2");
    /// Summaries in one state, newest first.
    list_sessions_by_state(INT8, INT8, TEXT) = concat!(
      summary!(),
      " WHERE data->>'state' = $3 ORDER BY updated_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    /// Delete at most `$2` of the sessions whose `expiresAt` (ISO 8601 text, compared byte by byte)
    /// is before `$1`: one bounded batch of the expiry, through idx_sessions_expires_at.
    delete_expired(TEXT, INT8) = "DELETE FROM {sessions} WHERE id IN (SELECT id FROM {sessions} \
       WHERE (data->>'expiresAt') COLLATE \"C\" < $1 LIMIT $2)";
    /// Delete every session.
    clear_all() = "DELETE FROM {sessions}";
    /// Delete sessions updated before a time.
    clear_before(TIMESTAMP) = "DELETE FROM {sessions} WHERE updated_at < $1";
    /// Counts and sizes for `getStats`; `$1`/`$2` are the tables' names as identifiers (bound,
    /// never spliced into a string literal). Run with sequential scans off (see `stats()`), each
    /// state is counted from idx_sessions_state without reading (or detoasting) a session.
    stats(TEXT, TEXT) = "SELECT (SELECT count(*) FROM {sessions}) AS total, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'active') AS active, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'paused') AS paused, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'expired') AS expired, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'invalidated_pending_cleanup') AS invalidated_pending_cleanup, \
       (SELECT count(*) FROM {sessions} WHERE data->>'state' = 'closed') AS closed, \
       pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS size_bytes";
    /// The first page of `iterateSessions`: newest first, at most `$1`.
    page(INT8) = "SELECT id, updated_at, data FROM {sessions} ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// A later page: the rows after the cursor `($2, $3)` in the same order (keyset: constant cost
    /// at any depth, through idx_sessions_updated_at_id).
    page_after(INT8, TIMESTAMP, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// The first page of `iterateSessions({ state })`.
    page_in_state(INT8, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE data->>'state' = $2 ORDER BY updated_at DESC, id DESC LIMIT $1";
    /// A later page of `iterateSessions({ state })`.
    page_in_state_after(INT8, TEXT, TIMESTAMP, TEXT) = "SELECT id, updated_at, data FROM {sessions} \
       WHERE data->>'state' = $2 AND (updated_at, id) < ($3, $4) ORDER BY updated_at DESC, id DESC LIMIT $1";
  }
}
