// One workload, measured: every contestant (each adapter, the workload's pgbench runs and its
// JS-thread floor) gets its turn in each round, in an order that rotates from round to round
// (A B C, B C A, ...), so a slow minute of the shared machine hits all of them alike and the
// ratios stay fair. Adapters get an unmeasured warm-up round first.
import { median, runFloor, runRound, summarize } from './measure.mjs'
import { runPgbench } from './pgbench.mjs'

/**
 * Measures `workload` (already set up: `state`) and resolves to
 * `{ adapters: { name: figures }, limits: [...], floor, failures, checkedOps }`.
 * `adapters`: `[{ name, adapter }]`; `pgbench`: the executable or null; `record(detail)` is told
 * of every failed check.
 */
export async function measureWorkload({
  workload,
  state,
  db,
  adapters,
  options,
  pgbench,
  target,
  progress,
  step,
  record,
}) {
  const names = adapters.map(({ name }) => name)
  const rounds = Object.fromEntries(names.map((name) => [name, []]))
  const warmupFailures = Object.fromEntries(names.map((name) => [name, 0]))
  let checkedOps = 0
  let limitFailures = 0
  const note = (name, round, result) => {
    checkedOps += result.ops
    if (result.failures === 0) return
    const detail = `${workload.key} · ${name} · ${round}: ${result.failures} failed of ${result.ops}${result.errors.length ? ` (${result.errors.join('; ')})` : ''}`
    record(detail)
  }

  const contestants = adapters.map(({ name, adapter }) => ({
    name,
    run: async (round) => {
      const result = await runRound({ adapter, workload, state, db, seconds: options.roundSeconds })
      rounds[name].push(result)
      note(name, `round ${round + 1}`, result)
      return `${Math.round(result.opsPerSec).toLocaleString('en-US')} ops/s`
    },
  }))

  const floor = workload.floor && options.floor ? { what: workload.floor.what, rounds: [] } : null
  if (floor !== null) {
    const op = await workload.floor.prepare(db, state)
    runFloor(op, Math.min(0.05, options.roundSeconds))
    const seconds = Math.max(0.05, Math.min(0.5, options.roundSeconds))
    contestants.push({
      name: 'floor',
      run: async () => {
        const result = runFloor(op, seconds)
        floor.rounds.push(result)
        return `${result.usPerOp.toFixed(1)} µs/op`
      },
    })
  }

  const limits = []
  if (options.pgbench && workload.limits.length > 0) {
    for (const spec of workload.limits) {
      const limit = {
        name: spec.name,
        what: spec.what,
        clients: workload.concurrency,
        rowsPerTransaction: spec.rowsPerTransaction ?? 1,
        rounds: [],
      }
      limits.push(limit)
      if (pgbench === null) {
        limit.skipped = 'pgbench not found (PATH, /usr/lib/postgresql/*/bin): install postgresql-client'
        continue
      }
      contestants.push({
        name: spec.name,
        run: async (round) => {
          if (round >= options.pgbenchRounds || limit.skipped) return 'skipped'
          const defines = spec.defines ? await spec.defines(db, state) : {}
          try {
            const result = await runPgbench({
              executable: pgbench,
              target,
              scripts: spec.scripts(state),
              defines,
              seconds: options.pgbenchSeconds,
              clients: workload.concurrency,
              searchPath: workload.searchPath ?? null,
            })
            const problem = spec.verify ? await spec.verify(db, state, defines) : null
            for (const failure of [problem, result.failed > 0 ? `${result.failed} failed transactions` : null]) {
              if (failure === null) continue
              limitFailures++
              record(`${workload.key} · ${spec.name} · round ${round + 1}: ${failure}`)
            }
            limit.rounds.push(result)
            limit.command = result.command
            return `${Math.round(result.tps).toLocaleString('en-US')} tps`
          } catch (error) {
            limit.skipped = `pgbench failed: ${error.message}`
            progress.note(`${workload.key}: ${limit.skipped}`)
            return 'failed'
          } finally {
            // pgbench moved the save workloads' versions on: the adapters continue from there.
            if (workload.resync) await workload.resync(db, state)
          }
        },
      })
    }
  }

  for (const { name, adapter } of adapters) {
    progress.update(`${step}: warm-up · ${name}`)
    const warmup = await runRound({ adapter, workload, state, db, seconds: options.warmupSeconds || 0.01 })
    warmupFailures[name] += warmup.failures
    note(name, 'warm-up', warmup)
  }
  for (let round = 0; round < options.rounds; round++) {
    for (let turn = 0; turn < contestants.length; turn++) {
      const contestant = contestants[(round + turn) % contestants.length]
      progress.update(`${step}: round ${round + 1}/${options.rounds} · ${contestant.name}`)
      if (workload.beforeEachRun) await workload.beforeEachRun(db)
      const shown = await contestant.run(round)
      progress.update(`${step}: round ${round + 1}/${options.rounds} · ${contestant.name} · ${shown}`)
    }
  }

  const figures = Object.fromEntries(names.map((name) => [name, summarize(rounds[name])]))
  let failures = limitFailures
  for (const name of names) {
    figures[name].warmupFailures = warmupFailures[name]
    failures += figures[name].failures + warmupFailures[name]
  }
  for (const limit of limits) {
    if (limit.rounds.length === 0) {
      limit.skipped ??= 'no pgbench round ran'
      continue
    }
    limit.tps = median(limit.rounds.map((result) => result.tps))
    limit.rowsPerSec = limit.tps * limit.rowsPerTransaction
  }
  if (floor !== null) {
    floor.usPerOp = median(floor.rounds.map((result) => result.usPerOp))
    floor.cpuUsPerOp = median(floor.rounds.map((result) => result.cpuUsPerOp))
  }
  return { adapters: figures, limits, floor, failures, checkedOps }
}
