// Types of scripts/citus.mjs, for the TypeScript tests.
import type { Target, Throwaway } from './postgres.mjs'

export const CITUS_VERSION: string
/** The documented distribution step: sessions by id, key_value by key (idempotent). */
export const DISTRIBUTE_SQL: string
export function citusCacheDir(): string
/** Builds (or reuses the cached build of) Citus and installs it; the bin directory to run clusters from. */
export function ensureCitus(): string
export function startCitus(options?: { workers?: number }): Promise<{
  coordinator: Throwaway
  workers: Throwaway[]
  database: string
  target: Target
  env: Record<string, string>
  stop(): Promise<void>
}>
export function runCitusSpecs(extraArgs?: string[]): Promise<number>
