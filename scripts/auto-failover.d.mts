// Types of scripts/auto-failover.mjs, for the TypeScript tests.
export interface FormationNode {
  name: string
  pgdata: string
  port: number
}
export interface NodeState {
  name: string
  port: number
  reported: string
  assigned: string
  node: FormationNode | undefined
}
export interface Formation {
  dir: string
  database: string
  monitor: FormationNode
  nodes: FormationNode[]
  state(): Promise<NodeState[]>
  waitForSteadyState(timeoutMs?: number): Promise<{ primary: FormationNode; secondaries: FormationNode[] }>
  uri(): Promise<string>
  query(node: FormationNode, text: string, params?: unknown[]): Promise<any[]>
  performFailover(): Promise<string>
  stopFast(node: FormationNode): Promise<void>
  restart(node: FormationNode): void
  stop(): Promise<void>
}
export const FAST_HEALTH_CHECKS: Readonly<Record<string, string>>
export function findPgAutoctl(): string | null
export function startFormation(options?: {
  database?: string
  nodes?: number
  monitorSettings?: Record<string, string>
}): Promise<Formation>
