// Types of scripts/check-libc.mjs, for the TypeScript tests.
export interface LibcCheck {
  file: string
  kind: 'gnu' | 'musl'
  machine: string
  size: number
  /** The newest GLIBC_* version required, or null. */
  newest: string | null
  versions: string[]
  needed: string[]
  /** Empty when the binary passes. */
  problems: string[]
  objdump: boolean
}
export const DEFAULT_FLOOR: string
export function checkBinary(file: string, options?: { floor?: string; kind?: 'gnu' | 'musl'; crossCheck?: boolean }): LibcCheck
export function describe(result: LibcCheck): string
