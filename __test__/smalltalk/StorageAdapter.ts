// SmallTalk's StorageAdapter interface (docs/contract.md, "Data types" and "Methods"), every method typed
// in terms of SmallTalk's own Session and SessionState enum.
import type { Session, SessionState } from './types.js'

export interface StorageAdapterConfig {
  location?: string
  ttl?: number
  maxSize?: number
  compression?: boolean
  encryption?: boolean
  options?: {
    poolSize?: number
    sslMode?: 'disable' | 'require' | 'verify-full'
    [key: string]: any
  }
}

export interface StorageStats {
  totalSessions: number
  sizeBytes: number
  backendType: string
  metrics?: Record<string, any>
}

export interface StorageAdapter {
  initialize(config?: StorageAdapterConfig): Promise<void>
  close(): Promise<void>
  healthCheck(): Promise<{ healthy: boolean; message?: string }>
  serializeSession(session: Session): string
  deserializeSession(data: string): Session
  saveSession(session: Session): Promise<void>
  saveSessions(sessions: Session[]): Promise<number>
  getSession(sessionId: string): Promise<Session | null>
  getSessions(sessionIds: string[]): Promise<Map<string, Session>>
  deleteSession(sessionId: string): Promise<boolean>
  deleteSessions(sessionIds: string[]): Promise<number>
  listSessions(
    state?: SessionState,
    limit?: number,
    offset?: number,
  ): Promise<Array<{ id: string; state: SessionState; updatedAt: Date; agentCount?: number }>>
  hasSession(sessionId: string): Promise<boolean>
  setValue(key: string, value: any): Promise<void>
  getValue<T = any>(key: string): Promise<T | null>
  deleteValue(key: string): Promise<boolean>
  hasValue(key: string): Promise<boolean>
  clear(olderThan?: Date): Promise<number>
  getStats(): Promise<StorageStats>
}
