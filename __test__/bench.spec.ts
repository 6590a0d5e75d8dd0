// The benchmark harness (bench/): a quick run end to end in a child process, and the harness'
// own bookkeeping: a wrong result or a wrong stored version must count as a failure.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
// @ts-expect-error: plain ESM modules without type declarations
import { runRound } from '../bench/lib/measure.mjs'
// @ts-expect-error: plain ESM modules without type declarations
import { WORKLOADS } from '../bench/lib/workloads.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ADAPTERS = ['native', 'native no-cache', 'pg', 'postgres.js']
const workload = (key: string) => WORKLOADS.find((candidate: { key: string }) => candidate.key === key)

it('`npm run bench -- --quick` runs every workload on every adapter and verifies every operation', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-spec-'))
  const output = path.join(dir, 'latest.json')
  try {
    // The test database from the environment (POSTGRES_*), as every suite here.
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', 'bench/run.mjs', '--quick', '--memory-ops', '100', '--output', output],
      { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env } },
    )
    if (run.status !== 0) throw new Error(`bench exited with ${run.status}\n${run.stderr}\n${run.stdout}`)

    const results = JSON.parse(fs.readFileSync(output, 'utf8'))
    expect(results.workloads.map((entry: { key: string }) => entry.key)).toEqual(WORKLOADS.map((entry: { key: string }) => entry.key))
    for (const entry of results.workloads) {
      expect(Object.keys(entry.adapters).sort()).toEqual([...ADAPTERS].sort())
      for (const name of ADAPTERS) {
        const figures = entry.adapters[name]
        expect(figures.ops).toBeGreaterThan(0)
        expect(figures.rounds).toHaveLength(3)
        expect(Number.isFinite(figures.ratio)).toBe(true)
        expect(figures.ratio).toBeGreaterThan(0)
        for (const value of [figures.opsPerSec, figures.p50Ms, figures.p99Ms, figures.busyUsPerOp]) {
          expect(Number.isFinite(value)).toBe(true)
        }
        expect(figures.failures + figures.warmupFailures).toBe(0)
      }
      expect(entry.adapters.pg.ratio).toBe(1)
    }
    expect(results.verification.failures).toBe(0)
    expect(results.verification.checkedOps).toBeGreaterThan(0)
    expect(results.memory.failures).toBe(0)
    expect(results.memory.withinBound).toBe(true)
    expect(results.targets.length).toBeGreaterThanOrEqual(8)
    expect(JSON.stringify(results)).not.toMatch(/password/i)
    expect(run.stdout).toContain('Verification:')
    expect(run.stdout).toContain('all correct')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}, 60_000)

it('counts a wrong result as a failed operation, the same for any adapter', async () => {
  const getTypical = workload('get-typical-1')
  const state = { next: 0, ids: ['bench-typical-0'], versions: [3] }
  const session = (version: number) => ({ id: 'bench-typical-0', version, conversationHistory: [{}, {}, {}] })
  const right = await runRound({ adapter: { getSession: async () => session(3) }, workload: getTypical, state, db: null, seconds: 0.02 })
  expect(right.ops).toBeGreaterThan(0)
  expect(right.failures).toBe(0)
  const wrong = await runRound({ adapter: { getSession: async () => session(2) }, workload: getTypical, state, db: null, seconds: 0.02 })
  expect(wrong.failures).toBe(wrong.ops)
  const rejecting = await runRound({
    adapter: { getSession: async () => Promise.reject(new Error('boom')) },
    workload: getTypical,
    state,
    db: null,
    seconds: 0.02,
  })
  expect(rejecting.failures).toBe(rejecting.ops)
  expect(rejecting.errors[0]).toContain('boom')
})

it('counts stored versions that differ from the saved ones after a save round', async () => {
  const saveTypical = workload('save-typical-16')
  const sessions = Array.from({ length: 16 }, (_, worker) => [0, 1, 2, 3].map((index) => ({ id: `s-${worker}-${index}`, version: 1, createdAt: new Date(0) })))
  const state = { sessions, versions: new Map(sessions.flat().map((entry) => [entry.id, 1])) }
  const saved: string[] = []
  const adapter = { saveSession: async (entry: { id: string }) => void saved.push(entry.id) }
  // A database that "lost" every write: each session still at version 1.
  const db = { storedVersions: async (ids: string[]) => new Map(ids.map((id) => [id, 1])) }
  const round = await runRound({ adapter, workload: saveTypical, state, db, seconds: 0.02 })
  expect(saved.length).toBe(round.ops)
  const touched = new Set(saved).size
  expect(round.failures).toBe(touched)
  expect(round.errors.join(' ')).toContain('stored versions differ')
})
