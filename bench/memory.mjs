#!/usr/bin/env node
// Memory check of the native adapter (`npm run bench:memory`; also run at the end of `npm run bench`):
// a bounded loop of 20,000 operations: 4 workers, each alternating saveSession and getSession of
// its own 1000-turn session (versions increasing, every read checked), sampling the process' RSS (after a full GC
// when node runs with --expose-gc). It reports the RSS at the start, the peak, the end, and the
// growth between the mean of the first 10 % of the samples and the mean of the last 10 %.
// Documented bound: that growth stays under 64 MB (MEMORY_BOUND_MB); otherwise it exits 1.
//
// Usage: node --expose-gc bench/memory.mjs [--ops N] [--concurrency N] [--pool-size N] [--result-file FILE]
// Database: as `npm run bench` (configured server, else a throwaway one; default database
// smalltalk_bench). It writes the rows "bench-memory-<worker>" and deletes them at the end.
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PostgresStorageAdapter } from '../index.mjs'
import { provideDatabase } from '../scripts/postgres.mjs'
import { largeSession, serializedBytes } from './lib/data.mjs'
import { Progress } from './lib/progress.mjs'

/** Largest accepted RSS growth (first 10 % of the samples to the last 10 %), in MB. */
export const MEMORY_BOUND_MB = 64
const SAMPLES = 200
const MB = 1024 * 1024

/** Runs the loop against `target`; resolves to the figures (sizes in MB). */
export async function memoryCheck({ target, ops = 20_000, concurrency = 4, poolSize = 10, progress = new Progress() }) {
  const adapter = new PostgresStorageAdapter({ ...target, poolSize })
  const sessions = Array.from({ length: concurrency }, (_, worker) => largeSession(`bench-memory-${worker}`, worker))
  const ids = sessions.map((session) => session.id)
  let failures = 0
  const samples = []
  const sample = (op) => {
    globalThis.gc?.()
    samples.push({ op, rssMb: process.memoryUsage.rss() / MB })
  }
  const every = Math.max(1, Math.floor(ops / SAMPLES))
  let started = 0
  let done = 0
  // Each worker alternates saving (version + 1) and reading back its own session.
  const worker = async (session) => {
    for (let step = 0; started < ops; step++) {
      started++
      try {
        if (step % 2 === 0) {
          session.version += 1
          session.updatedAt = new Date(session.createdAt.getTime() + session.version * 1000)
          await adapter.saveSession(session)
        } else {
          const read = await adapter.getSession(session.id)
          if (
            read === null ||
            read.id !== session.id ||
            read.version !== session.version ||
            read.conversationHistory.length !== 1000
          ) {
            failures++
          }
        }
      } catch {
        failures++
      }
      done++
      if (done % every === 0 || done === ops) {
        sample(done)
        if (samples.length % 20 === 0 || done === ops) {
          progress.update(
            `memory: ${done.toLocaleString('en-US')}/${ops.toLocaleString('en-US')} ops, RSS ${samples.at(-1).rssMb.toFixed(1)} MB`,
          )
        }
      }
    }
  }
  const begin = performance.now()
  try {
    await adapter.initialize()
    await adapter.deleteSessions(ids)
    await adapter.saveSessions(sessions)
    sample(0)
    await Promise.all(sessions.map(worker))
  } finally {
    await adapter.deleteSessions(ids).catch(() => {})
    await adapter.close()
  }
  const tenth = Math.max(1, Math.floor(samples.length / 10))
  const mean = (list) => list.reduce((sum, item) => sum + item.rssMb, 0) / list.length
  const growthMb = mean(samples.slice(-tenth)) - mean(samples.slice(0, tenth))
  return {
    ops,
    concurrency,
    sessionBytes: serializedBytes(sessions[0]),
    seconds: (performance.now() - begin) / 1000,
    gcExposed: typeof globalThis.gc === 'function',
    startRssMb: samples[0].rssMb,
    peakRssMb: Math.max(...samples.map((item) => item.rssMb)),
    endRssMb: samples.at(-1).rssMb,
    growthMb,
    boundMb: MEMORY_BOUND_MB,
    withinBound: growthMb < MEMORY_BOUND_MB,
    failures,
    samples: samples.map((item) => [item.op, Number(item.rssMb.toFixed(2))]),
  }
}

/** The human summary of `memoryCheck`'s result. */
export function describeMemory(result) {
  const mb = (value) => `${value.toFixed(1)} MB`
  return [
    `Memory (native adapter, ${result.ops.toLocaleString('en-US')} ops, ${result.concurrency} workers each alternating save/get of a ${(result.sessionBytes / 1024).toFixed(0)} KB session, ${result.seconds.toFixed(0)} s${result.gcExposed ? ', RSS sampled after a full GC' : ', no --expose-gc'}):`,
    `  RSS start ${mb(result.startRssMb)}, peak ${mb(result.peakRssMb)}, end ${mb(result.endRssMb)}; growth first 10 % -> last 10 % ${result.growthMb >= 0 ? '+' : ''}${mb(result.growthMb)} (bound < ${result.boundMb} MB): ${result.withinBound ? 'within bound' : 'EXCEEDED'}`,
    `  failed checks: ${result.failures}`,
  ].join('\n')
}

async function main() {
  const argv = process.argv.slice(2)
  const flag = (name) => {
    const index = argv.indexOf(name)
    return index >= 0 ? argv[index + 1] : undefined
  }
  const ops = Number(flag('--ops') ?? process.env.BENCH_MEMORY_OPS ?? 20_000)
  const poolSize = Number(flag('--pool-size') ?? process.env.BENCH_POOL_SIZE ?? 10)
  const concurrency = Number(flag('--concurrency') ?? 4)
  const resultFile = flag('--result-file')
  if (![ops, poolSize, concurrency].every(Number.isInteger) || ops < 10 || poolSize < 1 || concurrency < 1) {
    process.stderr.write(
      'usage: node --expose-gc bench/memory.mjs [--ops N>=10] [--concurrency N] [--pool-size N] [--result-file FILE]\n',
    )
    process.exit(2)
  }
  const database = await provideDatabase({ defaultDatabase: 'smalltalk_bench' })
  const progress = new Progress()
  let result
  try {
    result = await memoryCheck({ target: database.target, ops, concurrency, poolSize, progress })
  } finally {
    progress.clear()
    await database.stop()
  }
  if (resultFile) {
    fs.mkdirSync(path.dirname(path.resolve(resultFile)), { recursive: true })
    fs.writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`)
  }
  console.log(describeMemory(result))
  if (!result.withinBound || result.failures > 0) process.exitCode = 1
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main().catch((error) => {
    process.stderr.write(`memory check failed: ${error.stack ?? error}\n`)
    process.exit(1)
  })
}
