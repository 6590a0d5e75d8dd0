// SmallTalk's session types, as SmallTalk declares them (docs/contract.md, "Data types"):
// `SessionState` is a string enum and `Session` is typed in terms of it. Written from the contract
// and not taken from this package, so that what compiles here is what compiles in SmallTalk.

/** A session's lifecycle state: a string enum, not a union of literals. */
export enum SessionState {
  ACTIVE = 'active',
  PAUSED = 'paused',
  EXPIRED = 'expired',
  INVALIDATED_PENDING_CLEANUP = 'invalidated_pending_cleanup',
  CLOSED = 'closed',
}

/** One user message and the agents' replies. */
export interface MessageTurn {
  sequence: number
  timestamp: Date
  userMessage: string
  agentResponses: Array<{ agentId: string; response: string; timestamp: Date }>
}

/** A conversation session. */
export interface Session {
  id: string
  createdAt: Date
  updatedAt: Date
  expiresAt: Date
  state: SessionState
  agentIds: string[]
  agentStates: {
    [agentId: string]: { config: Record<string, any>; context: Record<string, any>; messageHistory: MessageTurn[] }
  }
  conversationHistory: MessageTurn[]
  sharedContext: Record<string, any>
  metadata: { userId?: string; tags?: string[]; [key: string]: any }
  version: number
}
