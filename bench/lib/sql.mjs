// The adapter's own statements (src/schema.rs), mirrored here once for everything in bench/ that
// runs "the same SQL" without the adapter: the pgbench limits, the scale seeding and the plans
// printed by the stale-statistics workload. When the adapter's SQL changes, change it here (the
// list's order is one line: LIST_ORDER). The references (reference-*.mjs) keep the original
// TypeScript adapter's SQL, on purpose, and are not built from this file.

/** ORDER BY of listSessions: newest first, ties broken by id so pagination is stable. */
export const LIST_ORDER = 'updated_at DESC, id DESC'

/** getSession. */
export const GET_SESSION = 'SELECT data FROM sessions WHERE id = $1'

/** getSessions (and the "16 ids in one statement" reference point). */
export const GET_SESSIONS = 'SELECT id, data FROM sessions WHERE id = ANY($1::text[])'

/** saveSession: the version-guarded upsert; affects 1 row when accepted. */
export const SAVE_SESSION =
  'INSERT INTO sessions (id, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) ' +
  'ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at ' +
  'WHERE sessions.version < EXCLUDED.version'

/** listSessions without a state filter. */
export const LIST_SESSIONS =
  "SELECT id, data->>'state' AS state, updated_at, " +
  "CASE WHEN jsonb_typeof(data->'agentIds') = 'array' THEN jsonb_array_length(data->'agentIds') ELSE 0 END AS agent_count " +
  `FROM sessions ORDER BY ${LIST_ORDER} LIMIT $1 OFFSET $2`

/**
 * `sql` with each `$n` replaced by `values[n - 1]` (pgbench expressions such as `:id`, or SQL
 * literals), longest numbers first so `$1` never eats into `$10`.
 */
export function bind(sql, values) {
  let text = sql
  for (let index = values.length; index >= 1; index--) text = text.replaceAll(`$${index}`, values[index - 1])
  return text
}

/** A SQL string literal. */
export const literal = (text) => `'${String(text).replaceAll("'", "''")}'`
