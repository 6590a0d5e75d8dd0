import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
const cfg = { host: '127.0.0.1', port: 5432, database: 'smalltalk_test', user: 'postgres', password: 'postgres' }
const a = new PostgresStorageAdapter({ ...cfg, poolSize: 16 })
await a.initialize()
const now = new Date()
const turns = (n) => Array.from({length: n}, (_, i) => ({ sequence: i+1, timestamp: new Date(), userMessage: 'hello there '.repeat(5), agentResponses: [{agentId:'a', response:'answer '.repeat(20), timestamp: new Date()},{agentId:'b', response:'answer '.repeat(20), timestamp: new Date()}]}))
const mk = (id, n) => ({ id, createdAt: now, updatedAt: now, expiresAt: now, state: 'active', agentIds: ['a','b'], agentStates: {a:{config:{},context:{},messageHistory:[]}, b:{config:{},context:{},messageHistory:[]}}, conversationHistory: turns(n), sharedContext: {}, metadata: {}, version: 1 })
await a.clear()
const sessions = Array.from({length: 200}, (_, i) => mk('p' + i, 3))
let version = 1
const t = performance.now(); const e0 = performance.eventLoopUtilization()
let total = 0
for (let r = 0; r < 40; r++) { version++; await Promise.all(sessions.map(s => a.saveSession({ ...s, version }))); total += sessions.length }
const e = performance.eventLoopUtilization(e0)
console.log('typical saves', Math.round(total / (performance.now() - t) * 1000), 'ops/s main us/op', (e.active * 1000 / total).toFixed(1))
const batch = Array.from({length: 100}, (_, i) => mk('b' + i, 3))
const t2 = performance.now(); const e2 = performance.eventLoopUtilization()
for (let r = 0; r < 40; r++) { await a.saveSessions(batch.map(s => ({ ...s, version: r + 1 }))) }
const e3 = performance.eventLoopUtilization(e2)
console.log('saveSessions(100)', (40 / (performance.now() - t2) * 1000).toFixed(1), 'ops/s main us/op', (e3.active * 1000 / 40).toFixed(1))
await a.close()
