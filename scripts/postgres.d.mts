// Types of scripts/postgres.mjs, for the TypeScript tests.
export interface Target {
  host: string
  port: number
  database: string
  user: string
  password: string
  /** The user's DATABASE_URL / POSTGRES_URL, whole (naming `database`). */
  url?: string
  sslmode?: string
  sslrootcert?: string
}

export interface Throwaway {
  target: Target
  dataDir: string
  binDir: string | null
  /** Stops the server and removes its files. */
  stop(): Promise<void>
  /** Stops the server (mode 'fast' by default), keeping its files. */
  stopServer(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** Starts a stopped server again. */
  startServer(): Promise<void>
  /** Restarts the server. */
  restart(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** Promotes a standby to primary (local binaries only). */
  promote?(): Promise<void>
}

/** The connection variables: any of them set means the user configured a server. */
export const CONNECTION_VARIABLES: readonly string[]
/** The comment a test run's own database carries. */
export const TEST_DATABASE_COMMENT: string
/** The environment variable naming the test run's own database. */
export const TEST_DATABASE_VARIABLE: 'SMALLTALK_TEST_DATABASE'
export function configuredVariables(env?: Record<string, string | undefined>): string[]
export function describeTarget(target: Target): string
export function withDatabase(url: string, database: string): string
export function onDatabase(target: Target, database: string): Target
export function createTestDatabase(target: Target): Promise<string>
export function dropTestDatabase(target: Target, name: string): Promise<boolean>
export function configuredTarget(env?: Record<string, string | undefined>, defaultDatabase?: string): Target
export function targetEnv(target: Target): Record<string, string>
export function probe(target: Target, timeoutMs?: number): Promise<'ok' | 'unreachable'>
export function ensureDatabase(target: Target): Promise<void>
export function freePort(): Promise<number>
export function findServerBinaries(): string | null
export function startThrowaway(options?: {
  database?: string
  settings?: Record<string, string | number> | ((dataDir: string) => Record<string, string | number>)
  port?: number
  password?: string
  files?: Record<string, string>
  /** Make a streaming standby of this cluster (pg_basebackup -R) instead of a new cluster. */
  standbyOf?: Throwaway
}): Promise<Throwaway>
export function provideDatabase(options?: {
  defaultDatabase?: string
  /** A database created for this run (smalltalk_test_<random>), dropped by stop(). */
  ownDatabase?: boolean
  env?: Record<string, string | undefined>
}): Promise<{
  target: Target
  throwaway: boolean
  ownDatabase: boolean
  stop(): Promise<void>
}>
