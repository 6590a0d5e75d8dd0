// TTL for key-value entries: per-call and default TTLs, expired entries read as absent before any
// purge, purgeExpired(), and the optional background purge that never keeps Node alive.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, dropTables, sleep, sql } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const current = adapterPerTest()

async function storedKeys(): Promise<string[]> {
  return (await sql('SELECT key FROM key_value ORDER BY key')).map((row) => row.key)
}

it('an entry with a ttl reads as absent once expired, before it is purged', async () => {
  await current().setValue('short', { a: 1 }, { ttl: 0.5 })
  await current().setValue('forever', 'x')
  expect(await current().getValue('short')).toEqual({ a: 1 })
  expect(await current().hasValue('short')).toBe(true)
  await sleep(800)
  expect(await current().getValue('short')).toBeNull()
  expect(await current().hasValue('short')).toBe(false)
  expect(await current().deleteValue('short')).toBe(false)
  expect(await current().getValue('forever')).toBe('x')
})

it('the ttl column holds the absolute UTC expiry time', async () => {
  await current().setValue('hour', 1, { ttl: 3600 })
  const [row] = await sql(
    `SELECT extract(epoch FROM ttl - (now() AT TIME ZONE 'UTC')) AS seconds, ttl IS NOT NULL AS has_ttl FROM key_value`,
  )
  expect(row.has_ttl).toBe(true)
  expect(Number(row.seconds)).toBeGreaterThan(3590)
  expect(Number(row.seconds)).toBeLessThanOrEqual(3600)
})

it('purgeExpired() deletes expired entries and returns the count', async () => {
  await current().setValue('a', 1, { ttl: 0.2 })
  await current().setValue('b', 2, { ttl: 0.2 })
  await current().setValue('c', 3, { ttl: 60 })
  await current().setValue('d', 4)
  await sleep(400)
  expect(await storedKeys()).toEqual(['a', 'b', 'c', 'd'])
  expect(await current().purgeExpired()).toBe(2)
  expect(await storedKeys()).toEqual(['c', 'd'])
  expect(await current().purgeExpired()).toBe(0)
})

it('a config default ttl applies to every entry; ttl: null opts out', async () => {
  const withDefault = new PostgresStorageAdapter({ ...contractConfig(), ttl: 0.3 })
  await withDefault.initialize()
  try {
    await withDefault.setValue('defaulted', 1)
    await withDefault.setValue('kept', 2, { ttl: null })
    await withDefault.setValue('longer', 3, { ttl: 60 })
    await sleep(600)
    expect(await withDefault.getValue('defaulted')).toBeNull()
    expect(await withDefault.getValue('kept')).toBe(2)
    expect(await withDefault.getValue('longer')).toBe(3)
  } finally {
    await withDefault.close()
  }
})

it("initialize({ ttl }) sets the default too (SmallTalk's StorageAdapterConfig.ttl, seconds)", async () => {
  const fresh = new PostgresStorageAdapter(contractConfig())
  await fresh.initialize({ ttl: 0.3 })
  try {
    await fresh.setValue('soon', true)
    await sleep(600)
    expect(await fresh.hasValue('soon')).toBe(false)
  } finally {
    await fresh.close()
  }
})

it('overwriting an entry replaces its ttl', async () => {
  await current().setValue('k', 1, { ttl: 0.2 })
  await current().setValue('k', 2)
  await sleep(400)
  expect(await current().getValue('k')).toBe(2)
})

it('refuses a ttl that is not a positive number of seconds, writing nothing', async () => {
  for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10' as any]) {
    await expect(current().setValue('bad', 1, { ttl })).rejects.toBeInstanceOf(ValidationError)
  }
  expect(() => new PostgresStorageAdapter({ ttl: -5 })).toThrow(/ttl/)
  expect(await storedKeys()).toEqual([])
})

it('the background purge (purgeIntervalMs) deletes expired rows on its own', async () => {
  const purging = new PostgresStorageAdapter({ ...contractConfig(), purgeIntervalMs: 200 })
  await purging.initialize()
  try {
    await purging.setValue('gone', 1, { ttl: 0.1 })
    await purging.setValue('stays', 2)
    await sleep(1000)
    expect(await storedKeys()).toEqual(['stays'])
  } finally {
    await purging.close()
  }
})

it('the background purge stops at close() and never keeps Node alive', () => {
  const config = JSON.stringify({ ...contractConfig(), purgeIntervalMs: 50 })
  const script = `
    const { PostgresStorageAdapter } = require('@smalltalk-ai/postgres-storage')
    const adapter = new PostgresStorageAdapter(${config})
    adapter.initialize().then(() => adapter.setValue('child', 1)).then(() => console.log('ready'))
  `
  const started = performance.now()
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 10_000 })
  expect({ stdout: result.stdout.trim(), stderr: result.stderr, status: result.status }).toEqual({
    stdout: 'ready',
    stderr: '',
    status: 0,
  })
  expect(performance.now() - started).toBeLessThan(2000)
})
