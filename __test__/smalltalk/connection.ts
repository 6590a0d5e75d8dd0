// The connection settings SmallTalk's PostgreSQL tests use (docs/contract.md, "How the contract suite
// drives an adapter"), typed as SmallTalk's own adapter typed its options.

/** The options of SmallTalk's original PostgresStorageAdapter. */
export interface PostgresConnection {
  host?: string
  port?: number
  database?: string
  user?: string
  password?: string
  connectionString?: string
  poolSize?: number
  ssl?: boolean
}

/** POSTGRES_HOST / _PORT / _DB / _USER / _PASSWORD with the suite's defaults, pool 5. */
export function postgresConnection(): PostgresConnection {
  return {
    host: process.env.POSTGRES_HOST ?? 'localhost',
    port: Number(process.env.POSTGRES_PORT ?? 5432),
    database: process.env.POSTGRES_DB ?? 'smalltalk_test',
    user: process.env.POSTGRES_USER ?? 'postgres',
    password: process.env.POSTGRES_PASSWORD ?? 'postgres',
    poolSize: 5,
  }
}
