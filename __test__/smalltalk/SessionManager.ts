// A minimal SmallTalk SessionManager: it takes a StorageAdapter, and adds a message by reading the
// session (version v), appending a turn, bumping to v + 1 and saving. A save that loses a race is
// retried only when the error is an instance of SmallTalk's own ConflictError.
import { randomUUID } from 'node:crypto'
import { ConflictError, NotFoundError } from './errors.js'
import type { StorageAdapter } from './StorageAdapter.js'
import { SessionState, type MessageTurn, type Session } from './types.js'

export interface SessionManagerOptions {
  /** How many times one addMessage retries after a ConflictError. Default 3. */
  maxRetries?: number
}

export class SessionManager {
  /** Saves that succeeded (createSession included). */
  saves = 0
  /** Saves that lost a race and were retried. */
  retries = 0

  constructor(
    private readonly storage: StorageAdapter,
    private readonly options: SessionManagerOptions = {},
  ) {}

  async createSession(agentIds: string[], metadata: Session['metadata'] = {}): Promise<Session> {
    const now = new Date()
    const session: Session = {
      id: randomUUID(),
      createdAt: now,
      updatedAt: now,
      expiresAt: new Date(now.getTime() + 24 * 3_600_000),
      state: SessionState.ACTIVE,
      agentIds,
      agentStates: Object.fromEntries(agentIds.map((agentId) => [agentId, { config: {}, context: {}, messageHistory: [] }])),
      conversationHistory: [],
      sharedContext: {},
      metadata,
      version: 1,
    }
    await this.storage.saveSession(session)
    this.saves++
    return session
  }

  async getSession(sessionId: string): Promise<Session | null> {
    return this.storage.getSession(sessionId)
  }

  async addMessage(
    sessionId: string,
    userMessage: string,
    agentResponses: MessageTurn['agentResponses'] = [],
  ): Promise<Session> {
    const maxRetries = this.options.maxRetries ?? 3
    for (let attempt = 0; ; attempt++) {
      const current = await this.storage.getSession(sessionId)
      if (current === null) throw new NotFoundError('Session', sessionId)
      if (current.state !== SessionState.ACTIVE) throw new Error(`session ${sessionId} is ${current.state}`)
      const now = new Date()
      const sequence = current.conversationHistory.length + 1
      const turn: MessageTurn = { sequence, timestamp: now, userMessage, agentResponses }
      const next: Session = {
        ...current,
        conversationHistory: [...current.conversationHistory, turn],
        updatedAt: now,
        version: current.version + 1,
      }
      try {
        await this.storage.saveSession(next)
        this.saves++
        return next
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= maxRetries) throw error
        this.retries++
      }
    }
  }
}
