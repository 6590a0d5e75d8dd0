// The readable output of `npm run bench`: the table, the pgbench limit, the targets, the memory
// check and the machine. Everything here reads the results object that is also written as JSON.
import { describeMemory } from '../memory.mjs'

/** native; native with statementCache: false (the PgBouncer mode); and the two references. */
export const ADAPTERS = ['native', 'native no-cache', 'pg', 'postgres.js']

const integer = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–')
const fixed = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '–')
const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–')

/** The targets for native, evaluated on `results`. */
export function evaluateTargets(results) {
  const targets = []
  for (const workload of results.workloads) {
    const native = workload.adapters.native
    const reference = workload.adapters.pg
    if (workload.target?.ratio !== undefined) {
      targets.push({
        workload: workload.key,
        what: `${workload.title}: ops/s vs pg`,
        required: `>= ${workload.target.ratio.toFixed(1)}×`,
        measured: ratio(native.ratio),
        value: native.ratio,
        met: native.ratio >= workload.target.ratio,
      })
    }
    if (workload.target?.busyRatio !== undefined) {
      const value = native.busyUsPerOp / reference.busyUsPerOp
      targets.push({
        workload: workload.key,
        what: `${workload.title}: main-thread µs/op vs pg`,
        required: `<= ${workload.target.busyRatio.toFixed(1)}×`,
        measured: ratio(value),
        value,
        met: value <= workload.target.busyRatio,
      })
    }
    if (workload.key === 'get-typical-16' && results.pgbench?.tps) {
      targets.push({
        workload: workload.key,
        what: `${workload.title}: share of the pgbench limit`,
        required: '>= 60 %',
        measured: `${fixed(results.pgbench.percentOfLimit, 0)} %`,
        value: results.pgbench.percentOfLimit,
        met: results.pgbench.percentOfLimit >= 60,
      })
    }
  }
  return targets
}

function pad(text, width, right) {
  return right ? String(text).padStart(width) : String(text).padEnd(width)
}

/** The whole report as text. */
export function formatReport(results) {
  const lines = []
  const columns = [
    ['workload', 34, false],
    ['adapter', 15, false],
    ['ops/s', 9, true],
    ['vs pg', 7, true],
    ['p50 ms', 8, true],
    ['p99 ms', 8, true],
    ['main µs/op', 11, true],
    ['native target', 0, false],
  ]
  const row = (cells) =>
    cells
      .map((cell, index) => (columns[index][1] === 0 ? cell : pad(cell, columns[index][1], columns[index][2])))
      .join('  ')
      .trimEnd()
  const byWorkload = new Map((results.targets ?? []).map((target) => [target.workload, []]))
  for (const target of results.targets ?? []) byWorkload.get(target.workload).push(target)

  lines.push('', `Benchmark: ${results.label}`, '')
  lines.push(row(columns.map(([title]) => title)))
  lines.push(row(columns.map(([, width]) => '-'.repeat(width || 13))))
  for (const workload of results.workloads) {
    ADAPTERS.forEach((name, index) => {
      const figures = workload.adapters[name]
      const targets = name === 'native' ? (byWorkload.get(workload.key) ?? []) : []
      const note = targets.map((target) => `${target.required.replace(' ', '')} ${target.met ? 'met' : 'NOT met'}`).join(', ')
      lines.push(
        row([
          index === 0 ? workload.title : '',
          name,
          integer(figures.opsPerSec),
          ratio(figures.ratio),
          fixed(figures.p50Ms, 2),
          fixed(figures.p99Ms, 2),
          fixed(figures.busyUsPerOp, 0),
          note,
        ]),
      )
    })
  }
  lines.push(
    '',
    `ops/s: median of ${results.options.rounds} interleaved rounds of ${results.options.roundSeconds} s per adapter (after a ${results.options.warmupSeconds} s warm-up); ` +
      'p50/p99: over every op of those rounds; main µs/op: event-loop busy time (performance.eventLoopUtilization) per op.',
  )

  if (results.pgbench) {
    const limit = results.pgbench
    lines.push('')
    if (limit.skipped) lines.push(`pgbench limit: skipped (${limit.skipped})`)
    else {
      lines.push(
        `pgbench limit (same typical read, -M prepared -c ${limit.clients} -j ${limit.threads} -T ${limit.seconds}): ${integer(limit.tps)} tps; ` +
          `native getSession typical @16 = ${fixed(limit.percentOfLimit, 0)} % of the limit (pg ${fixed(limit.pgPercentOfLimit, 0)} %, postgres.js ${fixed(limit.postgresJsPercentOfLimit, 0)} %)`,
      )
    }
  }

  if (results.targets?.length) {
    lines.push('', 'Targets of issue 5 (native):')
    for (const target of results.targets) {
      lines.push(`  ${target.met ? 'met    ' : 'NOT met'}  ${target.what}: ${target.measured} (target ${target.required})`)
    }
  }

  if (results.memory) {
    lines.push('')
    if (results.memory.error) lines.push(`Memory check: FAILED (${results.memory.error})`)
    else lines.push(describeMemory(results.memory))
  }

  const failures = results.verification
  lines.push(
    '',
    `Verification: ${integer(failures.checkedOps)} operations checked (right id/version; Map size and ids; list count and order; stored versions after each save round): ` +
      (failures.failures === 0 ? 'all correct' : `${failures.failures} FAILED`),
  )
  for (const detail of failures.details) lines.push(`  ${detail}`)

  const machine = results.machine
  lines.push(
    '',
    `Machine: ${machine.cpu} (${machine.cores} cores), ${machine.memoryGb} GB RAM, ${machine.os}; Node ${machine.node}; ` +
      `PostgreSQL ${machine.postgres} (${results.database.throwaway ? 'throwaway server' : 'configured server'} ${results.database.host}:${results.database.port}/${results.database.database}; ` +
      `fsync=${machine.postgresSettings.fsync}, synchronous_commit=${machine.postgresSettings.synchronous_commit}, shared_buffers=${machine.postgresSettings.shared_buffers}); ` +
      `load average ${machine.loadAverageStart.map((value) => value.toFixed(2)).join(' ')} at start, ${machine.loadAverageEnd.map((value) => value.toFixed(2)).join(' ')} at end.`,
    `Data: typical session ${integer(results.data.typicalBytes)} bytes serialized (3 turns, 2 agents); large ${integer(results.data.largeBytes)} bytes (1000 turns, 2 agents); ` +
      `listSessions over ${integer(results.data.listRows)} rows. Pool size ${results.options.poolSize} for every adapter. Reference save flow: ${results.options.referenceSaveFlow}.`,
  )
  return `${lines.join('\n')}\n`
}
