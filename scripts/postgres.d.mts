// Types of scripts/postgres.mjs, for the TypeScript tests.
export interface Target {
  host: string
  port: number
  database: string
  user: string
  password: string
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
export function provideDatabase(options?: { defaultDatabase?: string }): Promise<{
  target: Target
  throwaway: boolean
  stop(): Promise<void>
}>
