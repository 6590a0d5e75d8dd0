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
  /** A musl binary's imports resolved against a musl libc.so, or null when none is installed. */
  musl: { libc: string; imports: number; missing: string[] } | null
}
export const DEFAULT_FLOOR: string
export function checkBinary(
  file: string,
  options?: { floor?: string; kind?: 'gnu' | 'musl'; crossCheck?: boolean; muslLibc?: string },
): LibcCheck
export function describe(result: LibcCheck): string
