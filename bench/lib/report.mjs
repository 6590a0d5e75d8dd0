// The readable output of `npm run bench`: Markdown tables (so a run can be pasted into
// bench/README.md as it is), the performance targets and the machine. Everything here reads the
// results object that is also written as JSON.
import { describeMemory } from '../memory.mjs'
import { keyValueSection, keyValueTargets } from './key-value.mjs'

/** Display names of the adapters, by --adapters name, in table order. */
export const ADAPTER_NAMES = {
  native: 'native',
  'native-coalesce-off': 'native coalesce-off',
  'native-no-cache': 'native no-cache',
  'native-no-read-cache': 'native no-read-cache',
  pg: 'pg',
  'postgres.js': 'postgres.js',
}

const finite = Number.isFinite
const integer = (value) => (finite(value) ? Math.round(value).toLocaleString('en-US') : '–')
const fixed = (value, digits) => (finite(value) ? value.toFixed(digits) : '–')
const times = (value) => (finite(value) ? `${value.toFixed(2)}×` : '–')
/** ops/s in short form: 361/s, 2.44k/s, 25.8k/s. */
export function rate(value) {
  if (!finite(value)) return '–'
  if (value < 1000) return `${Math.round(value)}/s`
  if (value < 10_000) return `${(value / 1000).toFixed(2)}k/s`
  if (value < 1_000_000) return `${(value / 1000).toFixed(1)}k/s`
  return `${(value / 1e6).toFixed(2)}M/s`
}
const us = (value) => (finite(value) ? (value >= 100 ? integer(value) : value.toFixed(1)) : '–')
const ms = (value) =>
  finite(value) ? (value >= 100 ? integer(value) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) : '–'

/** A Markdown table, columns padded; `align` per column: 'l' or 'r'. */
export function table(headers, rows, align = headers.map((_, index) => (index === 0 ? 'l' : 'r'))) {
  const widths = headers.map((header, column) =>
    Math.max(3, header.length, ...rows.map((row) => String(row[column]).length)),
  )
  const line = (cells) =>
    `| ${cells.map((cell, column) => (align[column] === 'r' ? String(cell).padStart(widths[column]) : String(cell).padEnd(widths[column]))).join(' | ')} |`
  const rule = `| ${widths.map((width, column) => (align[column] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`
  return [line(headers), rule, ...rows.map(line)].join('\n')
}

/** Native's figures against the limit and floor, derived once for the report and the targets. */
export function derive(workload) {
  const native = workload.adapters.native
  const limit = workload.limits?.[0]
  const limitOps = limit && !limit.skipped ? limit.tps : NaN
  const vs = (name) => (workload.adapters[name] ? native.opsPerSec / workload.adapters[name].opsPerSec : NaN)
  return {
    vsPg: vs('pg'),
    vsPostgresJs: vs('postgres.js'),
    limitOps,
    ofLimit: native.opsPerSec / limitOps,
    share: (name) => (workload.adapters[name] ? workload.adapters[name].opsPerSec / limitOps : NaN),
    floorUs: workload.floor?.usPerOp ?? NaN,
    ofFloor: native.busyUsPerOp / (workload.floor?.usPerOp ?? NaN),
    ofFloorCpu: native.cpuUsPerOp / (workload.floor?.cpuUsPerOp ?? NaN),
  }
}

const LIMIT_TARGETS = { 'get-typical-16': 1.0, 'save-typical-16': 1.0, 'get-sessions-100': 0.8, 'list-100': 0.95 }
const FLOOR_TARGETS = { 'get-typical-16': 2.0, 'save-typical-16': 2.0, 'get-large-4': 1.2, 'save-large-4': 1.2 }
/** One caller: native must be this far ahead of each reference (no limit measured). */
const SINGLE_CALLER_TARGETS = { 'get-typical-1': 1.2, 'save-typical-1': 1.2 }
/** Below this share of the limit, a reference leaves room: native must be 1.5× ahead of it. */
const HEADROOM = 0.8
const AHEAD = 1.5

/** The performance targets, evaluated on `results`: `[{ what, required, measured, value, met }]`. */
export function evaluateTargets(results) {
  const targets = []
  const add = (what, required, measured, met) => targets.push({ what, required, measured, met: Boolean(met) })
  for (const workload of results.workloads) {
    const figures = derive(workload)
    if (workload.key in LIMIT_TARGETS && finite(figures.limitOps)) {
      const bound = LIMIT_TARGETS[workload.key]
      add(
        `${workload.title}: native / limit (pgbench, same SQL)`,
        `>= ${bound.toFixed(2)}`,
        fixed(figures.ofLimit, 2),
        figures.ofLimit >= bound,
      )
    }
    if (workload.key in FLOOR_TARGETS && finite(figures.ofFloor)) {
      const bound = FLOOR_TARGETS[workload.key]
      const cpu = finite(figures.ofFloorCpu) ? ` (in CPU time: ${times(figures.ofFloorCpu)})` : ''
      add(
        `${workload.title}: native JS-thread µs/op / floor`,
        `<= ${bound.toFixed(1)}×`,
        `${times(figures.ofFloor)}${cpu}`,
        figures.ofFloor <= bound,
      )
    }
    for (const [name, ratio] of [
      ['pg', figures.vsPg],
      ['postgres.js', figures.vsPostgresJs],
    ]) {
      if (!finite(ratio)) continue
      const share = figures.share(name)
      const single = SINGLE_CALLER_TARGETS[workload.key]
      const needed = single ?? (finite(share) && share < HEADROOM ? AHEAD : 1.0)
      const why =
        single !== undefined
          ? ' (one caller)'
          : needed === AHEAD
            ? ` (it reaches ${fixed(100 * share, 0)} % of the limit)`
            : finite(share)
              ? ''
              : ' (no limit measured)'
      add(
        `${workload.title}: native vs ${name}${why}`,
        needed > 1.0 ? `>= ${needed.toFixed(1)}×` : '> 1.00×',
        times(ratio),
        needed > 1.0 ? ratio >= needed : ratio > 1.0,
      )
    }
  }
  const stall = results.stall
  if (stall?.adapters?.native) {
    for (const [kind, call] of [
      ['save', 'saveSessions'],
      ['get', 'getSessions'],
    ]) {
      const value = stall.adapters.native[kind].maxStallMs
      add(
        `${call} of ${integer(stall.sessions)} x ${fixed(stall.sessionBytes / 1000, 0)} kB: native's longest event-loop stall`,
        `<= ${stall.targetMs} ms`,
        `${ms(value)} ms`,
        value <= stall.targetMs,
      )
    }
  }
  if (results.memory && !results.memory.error) {
    add(
      'memory check: RSS growth (first 10 % to last 10 %)',
      `< ${results.memory.boundMb} MB`,
      `${fixed(results.memory.growthMb, 1)} MB`,
      results.memory.withinBound,
    )
  }
  const stale = results.staleStats
  if (stale?.adapters?.native && stale.adapters.pg) {
    const ratio = stale.adapters.native.opsPerSec / stale.adapters.pg.opsPerSec
    add(`${stale.title}: native vs pg`, `>= ${stale.targetRatio.toFixed(1)}×`, times(ratio), ratio >= stale.targetRatio)
  }
  for (const workload of results.conversation?.workloads ?? []) {
    const { native, pg } = workload.adapters
    const redis = workload.adapters[REDIS_NAME]
    if (native && redis) {
      const ratio = native.opsPerSec / redis.opsPerSec
      add(`SmallTalk conversation, ${workload.title}: native vs Redis`, '>= 1.00×', times(ratio), ratio >= 1)
    }
    if (native && pg) {
      const ratio = native.opsPerSec / pg.opsPerSec
      add(`SmallTalk conversation, ${workload.title}: native vs pg`, '>= 2.00×', times(ratio), ratio >= 2)
    }
  }
  if (results.keyValue) targets.push(...keyValueTargets(results.keyValue))
  const scale = results.scale
  if (scale?.points?.length >= 2) {
    const [first, last] = [scale.points[0], scale.points.at(-1)]
    const span = `${integer(first.size)} to ${integer(last.size)} rows`
    for (const [what, label] of [
      ['get', 'getSession'],
      ['has', 'hasSession'],
      ['save', 'saveSession'],
      ['listFirst', 'listSessions first page'],
      ['getStats', 'getStats'],
    ]) {
      const growth = scale.growth[what]
      add(
        `scale: ${label} p50 growth, ${span}`,
        `<= ${scale.flatGrowth.toFixed(1)}× (flat)`,
        times(growth),
        growth <= scale.flatGrowth,
      )
    }
    if (last.iterate) {
      const growth = last.iterate.p50Ms / last.iterate.firstPagesMs
      add(
        `scale: iterateSessions page at depth / first pages, ${integer(last.size)} rows`,
        `<= ${scale.flatGrowth.toFixed(1)}×`,
        times(growth),
        growth <= scale.flatGrowth,
      )
    } else {
      add('scale: iterateSessions page at depth', 'constant', 'n/a (no iterateSessions in this build)', false)
    }
  }
  return targets
}

function mainTable(results) {
  const names = results.adapterNames
  const headers = [
    'workload',
    ...names,
    'native vs pg',
    'native vs postgres.js',
    'limit (pgbench, same SQL)',
    'native / limit',
    'native JS-thread µs/op',
    'floor µs',
    '/ floor',
    '/ floor in CPU time',
  ]
  const rows = results.workloads.map((workload) => {
    const figures = derive(workload)
    const limit = workload.limits?.[0]
    return [
      workload.title,
      ...names.map((name) => rate(workload.adapters[name]?.opsPerSec)),
      times(figures.vsPg),
      times(figures.vsPostgresJs),
      limit ? (limit.skipped ? 'skipped' : rate(limit.tps)) : '',
      limit && !limit.skipped ? fixed(figures.ofLimit, 2) : '',
      us(workload.adapters.native.busyUsPerOp),
      workload.floor ? us(figures.floorUs) : '',
      workload.floor ? times(figures.ofFloor) : '',
      workload.floor ? times(figures.ofFloorCpu) : '',
    ]
  })
  return table(headers, rows)
}

function detailTable(results) {
  const rows = []
  for (const workload of results.workloads) {
    results.adapterNames.forEach((name, index) => {
      const figures = workload.adapters[name]
      rows.push([
        index === 0 ? workload.title : '',
        name,
        integer(figures.opsPerSec),
        ms(figures.p50Ms),
        ms(figures.p99Ms),
        us(figures.busyUsPerOp),
        us(figures.cpuUsPerOp),
        fixed(figures.preemptionsPerOp, 2),
        fixed(100 * figures.utilization, 0),
      ])
    })
    if (workload.floor)
      rows.push(['', 'floor', '', '', '', us(workload.floor.usPerOp), us(workload.floor.cpuUsPerOp), '', ''])
  }
  return table(
    [
      'workload',
      'adapter',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'JS-thread µs/op',
      'JS-thread CPU µs/op',
      'preemptions/op',
      'JS-thread busy %',
    ],
    rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
}

function limitLines(results) {
  const lines = []
  for (const workload of [...results.workloads, ...(results.staleStats ? [results.staleStats] : [])]) {
    for (const [index, limit] of (workload.limits ?? []).entries()) {
      const head = `- ${workload.title}${index === 0 ? ' — limit' : ' — reference point'}: ${limit.name}, ${limit.what}`
      if (limit.skipped) lines.push(`${head}: skipped (${limit.skipped})`)
      else {
        const rows = limit.rowsPerTransaction > 1 ? ` = ${rate(limit.rowsPerSec).replace('/s', ' rows/s')}` : ''
        lines.push(
          `${head}: ${rate(limit.tps).replace('/s', ' statements/s')}${rows} (median of ${limit.rounds.length}; \`${limit.command}\`)`,
        )
      }
    }
  }
  return lines
}

/** A compact text of a metrics object (numbers rounded). */
function compact(value) {
  return JSON.stringify(value, (key, item) =>
    typeof item === 'number' && !Number.isInteger(item) ? Number(item.toFixed(2)) : item,
  )
}

function coalescingLines(results) {
  const lines = []
  for (const workload of results.workloads) {
    for (const [name, metrics] of Object.entries(workload.coalescing ?? {})) {
      if (metrics !== null) lines.push(`- ${workload.title} · ${name}: ${compact(metrics).slice(0, 400)}`)
    }
  }
  return lines
}

function stallSection(stall) {
  const rows = Object.entries(stall.adapters).map(([name, { save, get }]) => [
    name,
    ms(save.ms),
    ms(save.maxStallMs),
    ms(save.busyMs),
    ms(get.ms),
    ms(get.maxStallMs),
    ms(get.busyMs),
  ])
  return [
    `Event-loop stall: saveSessions of ${integer(stall.sessions)} sessions of ${integer(stall.sessionBytes)} bytes, then getSessions of the same ${integer(stall.sessions)} ` +
      `(${stall.rounds} interleaved round${stall.rounds === 1 ? '' : 's'}; call time and JS-thread busy time: median of the rounds; longest stall: the worst round; target for native <= ${stall.targetMs} ms).`,
    '',
    table(
      [
        'adapter',
        'saveSessions ms',
        'longest stall ms',
        'JS-thread busy ms',
        'getSessions ms',
        'longest stall ms',
        'JS-thread busy ms',
      ],
      rows,
    ),
  ].join('\n')
}

function planText(plan) {
  const jit = plan.jit ? `, JIT ${plan.jit.functions} functions ${ms(plan.jit.totalMs)} ms` : ', no JIT'
  return `${plan.nodes} (cost ${integer(plan.totalCost)}${jit}; ${ms(plan.executionMs)} ms)`
}

function staleSection(stale, names) {
  const table_ = stale.table
  const limit = stale.limits?.[0]
  const rows = names
    .filter((name) => stale.adapters[name])
    .map((name) => [
      name,
      rate(stale.adapters[name].opsPerSec),
      times(stale.adapters[name].opsPerSec / stale.adapters.pg.opsPerSec),
      ms(stale.adapters[name].p50Ms),
      us(stale.adapters[name].busyUsPerOp),
    ])
  if (limit && !limit.skipped)
    rows.push([`pgbench (the adapter's SQL)`, rate(limit.tps), times(limit.tps / stale.adapters.pg.opsPerSec), '', ''])
  return [
    `Stale statistics: ${integer(table_.liveRows)} live rows, ${integer(table_.deadRows)} dead rows (${table_.churnRounds} churn rounds of every row; ` +
      `${integer(table_.rowVersionsWritten)} row versions written), ${fixed(table_.bytes / 1024 ** 2, 0)} MB, ` +
      `${table_.analyzed ? 'ANALYZED (not stale!)' : 'never analyzed'}, autovacuum off for the table; target native >= ${stale.targetRatio}× pg.`,
    '',
    table(['adapter', 'listSessions(100)', 'vs pg', 'p50 ms', 'JS-thread µs/op'], rows),
    '',
    `Plans on that table (EXPLAIN ANALYZE from a plain connection):`,
    `- the adapter's SQL, custom plan: ${planText(stale.plans.adapterCustom)}`,
    `- the adapter's SQL, generic plan (a prepared statement after 5 runs may switch to it): ${planText(stale.plans.adapterGeneric)}`,
    `- the reference's SQL (ORDER BY updated_at DESC): ${planText(stale.plans.reference)}`,
  ].join('\n')
}

/** The Redis reference's column name (bench/reference-redis.mjs). */
export const REDIS_NAME = 'Redis'

function conversationSection(conversation) {
  const names = conversation.adapterNames
  const ratio = (workload, name) =>
    workload.adapters.native && workload.adapters[name]
      ? times(workload.adapters.native.opsPerSec / workload.adapters[name].opsPerSec)
      : '–'
  const rows = conversation.workloads.map((workload) => [
    workload.title,
    ...names.map((name) => integer(workload.adapters[name]?.opsPerSec)),
    ratio(workload, 'pg'),
    ratio(workload, REDIS_NAME),
  ])
  const lines = [
    "SmallTalk's SessionManager `addMessage`, turns/s (one turn: getSession, getSession again for the version check, " +
      'saveSession with version + 1 and the new turn appended; each conversation gains a turn every turn):',
    '',
    table(['workload', ...names, 'native vs pg', 'native vs Redis'], rows),
  ]
  lines.push(
    '',
    conversation.redis
      ? `Redis: a throwaway redis-server ${conversation.redis.version} on 127.0.0.1 (nothing persisted), one JSON string per session, GET/SET through ioredis, as SmallTalk's Redis adapter stores them.`
      : `Redis: not run (${conversation.redisSkipped}).`,
  )
  return lines.join('\n')
}

function scaleSection(scale) {
  const cell = (figures) => (figures ? ms(figures.p50Ms) : 'n/a')
  const rows = scale.points.map((point) => [
    integer(point.size),
    fixed(point.tableBytes / 1024 ** 2, 0),
    cell(point.get),
    cell(point.has),
    cell(point.save),
    cell(point.listFirst),
    cell(point.getStats),
    `${cell(point.listDeep)} (offset ${integer(point.deepOffset)})`,
    point.iterate ? `${ms(point.iterate.p50Ms)} (first pages ${ms(point.iterate.firstPagesMs)})` : 'n/a',
    point.deleteExpired
      ? `${ms(point.deleteExpired.p50Ms)} (${integer(Math.max(1, Math.floor(point.size / 100)))} rows)`
      : 'n/a',
  ])
  if (scale.points.length >= 2) {
    const growth = (what) => (scale.growth[what] === undefined ? 'n/a' : times(scale.growth[what]))
    rows.push([
      'growth',
      '',
      growth('get'),
      growth('has'),
      growth('save'),
      growth('listFirst'),
      growth('getStats'),
      growth('listDeep'),
      growth('iterate'),
      growth('deleteExpired'),
    ])
  }
  return [
    `Scale (native, p50 ms of ${scale.calls} calls each at 1 caller; getStats and the deep offset: ${scale.points[0]?.getStats?.calls ?? '–'} calls; ` +
      `iterateSessions: median page of 100 over the deepest 10 % of a full walk; growth: largest size / smallest; "flat" means <= ${scale.flatGrowth}×):`,
    '',
    table(
      [
        'sessions',
        'table MB',
        'getSession',
        'hasSession',
        'saveSession',
        'list first page',
        'getStats',
        'list at 90 % offset',
        'iterateSessions page',
        'deleteExpiredSessions (1 %)',
      ],
      rows,
    ),
  ].join('\n')
}

/** The whole report as text (Markdown). */
export function formatReport(results) {
  const lines = []
  const options = results.options
  lines.push(
    '',
    `## Benchmark: ${results.label}, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${results.commit ?? 'unknown'}`,
    '',
  )
  if (results.workloads.length > 0) {
    lines.push(mainTable(results), '')
    lines.push(
      `ops/s: median of ${options.rounds} interleaved rounds of ${options.roundSeconds} s per adapter (after a ${options.warmupSeconds} s warm-up). ` +
        "limit: pgbench running the adapter's SQL on the same rows at the same concurrency, as one more contestant of the same rounds. " +
        "native JS-thread µs/op: the event loop's busy time (performance.eventLoopUtilization) per operation; floor: the JSON work of one " +
        'operation alone (JSON.stringify, or JSON.parse + Date revival of the stored text), timed on the same thread in the same rounds; ' +
        "/ floor in CPU time: the same ratio of the JS thread's own CPU times, which the machine's other load does not inflate.",
    )
    if (!results.coalesceOptionKnown) {
      lines.push(
        '',
        'native coalesce-off: this build reports no `metrics.coalescing`, so it most likely ignores `coalesce: false` (the column runs the same code as native).',
      )
    }
    lines.push(
      '',
      '### Per adapter',
      '',
      detailTable(results),
      '',
      'p50/p99: over every call of the measured rounds. JS-thread µs/op: event-loop busy time per operation (wall time, so it grows when the ' +
        "machine's other processes take the core); JS-thread CPU µs/op: the JS thread's own CPU time per operation (/proc/thread-self, 10 ms ticks: " +
        'coarse in short rounds); preemptions/op: how often per operation the JS thread, runnable, lost its core to another thread (tokio, ' +
        'PostgreSQL, pgbench, other work): most of the gap between busy and CPU time; busy %: event-loop utilisation.',
    )
    const limits = limitLines(results)
    for (const mirror of results.sqlMirror ?? []) {
      limits.push(
        mirror.matches
          ? `- ${mirror.workload}: the statement native's connections ran (pg_stat_activity) is the one pgbench runs (bench/lib/sql.mjs)`
          : `- **${mirror.workload}: native's connections ran \`${mirror.seen.join(' | ')}\`, not bench/lib/sql.mjs' \`${mirror.expected}\`: update sql.mjs**`,
      )
    }
    if (limits.length) lines.push('', '### Limits and reference points', '', ...limits)
    const coalescing = coalescingLines(results)
    if (coalescing.length)
      lines.push('', '### Coalescing (getStats().metrics.coalescing, change over the workload)', '', ...coalescing)
  }
  if (results.stall) lines.push('', '### Event-loop stall', '', stallSection(results.stall))
  if (results.staleStats)
    lines.push('', '### Stale statistics', '', staleSection(results.staleStats, results.adapterNames))
  if (results.conversation)
    lines.push('', "### SmallTalk's conversation workload", '', conversationSection(results.conversation))
  if (results.keyValue) lines.push('', '### Key-value', '', keyValueSection(results.keyValue))
  if (results.scale) lines.push('', '### Scale', '', scaleSection(results.scale))

  if (results.targets?.length) {
    lines.push('', '### Performance targets (native)', '')
    for (const target of results.targets)
      lines.push(
        `- ${target.met ? 'met' : '**NOT met**'}: ${target.what}: ${target.measured} (target ${target.required})`,
      )
  }
  if (results.memory) {
    lines.push('', '### Memory', '')
    if (results.memory.error) lines.push(`Memory check: FAILED (${results.memory.error})`)
    else lines.push(describeMemory(results.memory))
  }

  const verification = results.verification
  lines.push(
    '',
    `Verification: ${integer(verification.checkedOps)} operations checked (right id/version; Map size and ids; list count and order; stored versions after each save round and batch; pgbench's upserts accepted): ` +
      (verification.failures === 0 ? 'all correct' : `${verification.failures} FAILED`),
  )
  for (const detail of verification.details) lines.push(`  ${detail}`)
  lines.push('', machineLine(results))
  lines.push(
    `Data: typical session ${integer(results.data.typicalBytes)} bytes serialized (3 turns, 2 agents); 1000-turn ${integer(results.data.largeBytes)} bytes; ` +
      `listSessions over ${integer(results.data.listRows)} rows. Pool size ${options.poolSize} for every adapter. Reference save flow: ${options.referenceSaveFlow}.`,
  )
  return `${lines.join('\n')}\n`
}

/** The machine line: CPU, cores, Node, PostgreSQL and its durability settings, the load. */
export function machineLine(results) {
  const machine = results.machine
  const settings = machine.postgresSettings
  const load = (values) => (values ? values.map((value) => value.toFixed(2)).join(' ') : '–')
  return (
    `Machine: ${machine.cpu} (${machine.cores} cores), ${machine.memoryGb} GB RAM, ${machine.os}; Node ${machine.node}; ` +
    `PostgreSQL ${machine.postgres} (${results.database.throwaway ? 'throwaway server' : 'configured server'} ${results.database.host}:${results.database.port}/${results.database.database}; ` +
    `fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, shared_buffers=${settings.shared_buffers}, jit=${settings.jit}, autovacuum=${settings.autovacuum}); ` +
    `load average ${load(machine.loadAverageStart)} at start, ${load(machine.loadAverageEnd)} at end; commit ${results.commit ?? 'unknown'}.`
  )
}
