// The event-loop stall during large batch calls: saveSessions of N ~69 KB sessions, then
// getSessions of the same N, per adapter, with perf_hooks.monitorEventLoopDelay at 1 ms
// resolution. Its max is the longest time the JS thread went without turning the event loop (a
// timer due every 1 ms came that late): what every other request of the process waits behind.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { ids, mediumSession, serializedBytes } from './data.mjs'
import { median } from './measure.mjs'

/** The bound for native: no single stall above this during a 1,000 x 69 KB batch. */
export const STALL_TARGET_MS = 25

async function timed(call) {
  globalThis.gc?.()
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const eluStart = performance.eventLoopUtilization()
  histogram.enable()
  // Let the timer arm before the call starts, so a stall at its very start is seen too.
  await new Promise((resolve) => setTimeout(resolve, 5))
  const started = performance.now()
  let result
  let error = null
  try {
    result = await call()
  } catch (caught) {
    error = caught
  }
  const ms = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 5))
  histogram.disable()
  const elu = performance.eventLoopUtilization(eluStart)
  return {
    result,
    error,
    ms,
    maxStallMs: histogram.max / 1e6,
    p99StallMs: histogram.percentile(99) / 1e6,
    busyMs: elu.active,
  }
}

/**
 * Runs the stall workload on `adapters` (`[{ name, adapter }]`) for `rounds` interleaved rounds
 * and resolves to `{ sessions, sessionBytes, rounds, adapters: { name: { save, get } }, failures, details }`.
 */
export async function measureStalls({ adapters, db, sessions: count, rounds, progress }) {
  const sessions = ids('stall', count).map((id, index) => mediumSession(id, index))
  const sessionIds = sessions.map((session) => session.id)
  progress.update(
    `stall: seeding ${count.toLocaleString('en-US')} sessions of ${(serializedBytes(sessions[0]) / 1024).toFixed(0)} KB`,
  )
  await db.seed(sessions)
  let version = 1
  const figures = Object.fromEntries(adapters.map(({ name }) => [name, { save: [], get: [] }]))
  const details = []
  let failures = 0
  const fail = (text) => {
    failures++
    details.push(text)
    progress.note(`verification failed: ${text}`)
  }
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < adapters.length; turn++) {
      const { name, adapter } = adapters[(round + turn) % adapters.length]
      version++
      for (const session of sessions) {
        session.version = version
        session.updatedAt = new Date(session.createdAt.getTime() + version * 1000)
      }
      progress.update(`stall: round ${round + 1}/${rounds} · ${name} · saveSessions(${count})`)
      const save = await timed(() => adapter.saveSessions(sessions))
      if (save.error !== null || save.result !== count)
        fail(`stall · ${name} · saveSessions: ${save.error?.message ?? `resolved ${save.result}`}`)
      const stored = await db.storedVersions(sessionIds)
      const wrong = sessionIds.filter((id) => stored.get(id) !== version).length
      if (wrong > 0) fail(`stall · ${name} · saveSessions: ${wrong} stored versions differ from the versions saved`)

      progress.update(`stall: round ${round + 1}/${rounds} · ${name} · getSessions(${count})`)
      const get = await timed(() => adapter.getSessions(sessionIds))
      const map = get.result
      const right =
        get.error === null &&
        map instanceof Map &&
        map.size === count &&
        sessionIds.every((id) => {
          const session = map.get(id)
          return (
            session !== undefined &&
            session.version === version &&
            session.conversationHistory.length === sessions[0].conversationHistory.length
          )
        })
      if (!right) fail(`stall · ${name} · getSessions: ${get.error?.message ?? 'wrong result'}`)
      for (const [kind, entry] of [
        ['save', save],
        ['get', get],
      ]) {
        figures[name][kind].push({
          ms: entry.ms,
          maxStallMs: entry.maxStallMs,
          p99StallMs: entry.p99StallMs,
          busyMs: entry.busyMs,
        })
      }
    }
  }
  await db.deleteRows(sessionIds)
  const worst = (list) => ({
    maxStallMs: Math.max(...list.map((entry) => entry.maxStallMs)),
    ms: median(list.map((entry) => entry.ms)),
    busyMs: median(list.map((entry) => entry.busyMs)),
    rounds: list,
  })
  const summary = Object.fromEntries(
    Object.entries(figures).map(([name, { save, get }]) => [name, { save: worst(save), get: worst(get) }]),
  )
  return {
    sessions: count,
    sessionBytes: serializedBytes(sessions[0]),
    rounds,
    targetMs: STALL_TARGET_MS,
    adapters: summary,
    failures,
    details,
  }
}
