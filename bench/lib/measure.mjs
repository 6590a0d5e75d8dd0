// One timed round: N async workers share one adapter until the round's time is up. Per round:
// ops/s, every op's latency, main-thread busy time (event-loop utilisation), and failed checks.
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'

const MAX_REPORTED_ERRORS = 3
/** /proc reports thread times in USER_HZ, which Linux fixes at 100 per second. */
const USER_HZ = 100

/**
 * Times the calling thread was preempted so far (involuntary context switches: runnable, but
 * the core went to another thread), or NaN off Linux. Busy time minus CPU time is mostly this.
 */
export function threadPreemptions() {
  try {
    const status = fs.readFileSync('/proc/thread-self/status', 'utf8')
    return Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1])
  } catch {
    return NaN
  }
}

/**
 * CPU time (user + system, ms) of the calling thread so far: the JS thread's own, unlike
 * process.cpuUsage(), which adds the tokio and libuv threads. Linux only (10 ms ticks), else NaN.
 */
export function threadCpuMs() {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ
  } catch {
    return NaN
  }
}

/**
 * Runs `workload` on `adapter` for `seconds`. A failed check, a rejected call and a wrong stored
 * version (saves, checked after the round) all count as failures.
 */
export async function runRound({ adapter, workload, state, db, seconds }) {
  // Garbage left by the previous round (another adapter's, maybe) is not this round's cost.
  globalThis.gc?.()
  const latencies = []
  const errors = []
  let ops = 0
  let failures = 0
  const started = performance.now()
  const deadline = started + seconds * 1000
  const eluStart = performance.eventLoopUtilization()
  const cpuStart = threadCpuMs()
  const preemptionsStart = threadPreemptions()

  const worker = async (index) => {
    for (let k = 0; performance.now() < deadline; k++) {
      const input = workload.input(state, index, k)
      const begin = performance.now()
      let ok
      try {
        const result = await workload.call(adapter, input)
        latencies.push(performance.now() - begin)
        ok = workload.check(result, input)
      } catch (error) {
        latencies.push(performance.now() - begin)
        ok = false
        if (errors.length < MAX_REPORTED_ERRORS) errors.push(`${error?.name ?? 'Error'}: ${error?.message ?? error}`)
      }
      ops++
      if (!ok) failures++
    }
  }
  await Promise.all(Array.from({ length: workload.concurrency }, (_, index) => worker(index)))

  const elu = performance.eventLoopUtilization(eluStart)
  const cpuMs = threadCpuMs() - cpuStart
  const preemptions = threadPreemptions() - preemptionsStart
  const elapsedSeconds = (performance.now() - started) / 1000
  const wrongStored = workload.verifyRound ? await workload.verifyRound(db, state) : 0
  if (wrongStored > 0) errors.push(`${wrongStored} stored versions differ from the versions saved`)
  return {
    ops,
    seconds: elapsedSeconds,
    opsPerSec: ops / elapsedSeconds,
    busyMs: elu.active,
    cpuMs,
    preemptions,
    utilization: elu.utilization,
    latencies,
    failures: failures + wrongStored,
    errors,
  }
}

/** The q-quantile (0..1) of sorted numbers, nearest rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** One adapter's figures for a workload from its measured rounds. */
export function summarize(rounds) {
  const latencies = Float64Array.from(rounds.flatMap((round) => round.latencies)).sort()
  const ops = rounds.reduce((sum, round) => sum + round.ops, 0)
  const busyMs = rounds.reduce((sum, round) => sum + round.busyMs, 0)
  const cpuMs = rounds.reduce((sum, round) => sum + round.cpuMs, 0)
  const preemptions = rounds.reduce((sum, round) => sum + round.preemptions, 0)
  return {
    opsPerSec: median(rounds.map((round) => round.opsPerSec)),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    busyUsPerOp: ops > 0 ? (busyMs * 1000) / ops : NaN,
    cpuUsPerOp: ops > 0 ? (cpuMs * 1000) / ops : NaN,
    preemptionsPerOp: ops > 0 ? preemptions / ops : NaN,
    utilization: median(rounds.map((round) => round.utilization)),
    ops,
    failures: rounds.reduce((sum, round) => sum + round.failures, 0),
    errors: rounds.flatMap((round) => round.errors).slice(0, MAX_REPORTED_ERRORS),
    rounds: rounds.map((round) => ({
      ops: round.ops,
      seconds: round.seconds,
      opsPerSec: round.opsPerSec,
      busyMs: round.busyMs,
      cpuMs: round.cpuMs,
      preemptions: round.preemptions,
      failures: round.failures,
    })),
  }
}

/**
 * The JS-thread floor: `op` (the JSON work of one operation) run back to back for `seconds` on
 * this thread; resolves to `{ ops, usPerOp }`. Its results are kept alive until the next one, as a
 * caller would hold a session, so their garbage is part of the cost.
 */
export function runFloor(op, seconds) {
  globalThis.gc?.()
  let ops = 0
  let kept = null
  const cpuStart = threadCpuMs()
  const started = performance.now()
  const deadline = started + seconds * 1000
  do {
    kept = op()
    ops++
  } while (performance.now() < deadline)
  const elapsedMs = performance.now() - started
  const cpuMs = threadCpuMs() - cpuStart
  if (kept === undefined) throw new Error('the floor operation returned nothing')
  return { ops, seconds: elapsedMs / 1000, usPerOp: (elapsedMs * 1000) / ops, cpuUsPerOp: (cpuMs * 1000) / ops }
}
