// The Keyv store beyond Keyv's compliance suite: Keyv's TTL (milliseconds) as the row's expiry,
// what the rows hold, the batch calls in one statement each, refused input that writes nothing,
// the 'error' event, disconnect, and iteration across pages. In a schema of its own (dropped at
// the end), checked through a plain `pg` client.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import Keyv, { type KeyvStoreAdapter } from 'keyv'
import { PostgresStorageAdapter, StorageError, ValidationError } from '@smalltalk-ai/postgres-storage'
import { KeyvPostgresStore } from '@smalltalk-ai/postgres-storage/keyv'
import { freePort } from '../../scripts/postgres.mjs'
import { contractConfig, sleep, sql } from '../helpers.js'

const SCHEMA = 'keyv_store_spec'
const TABLE = `${SCHEMA}.key_value`
const config = () => ({ ...contractConfig(), poolSize: 2, schema: SCHEMA })

// The store is a KeyvStoreAdapter as keyv's own types declare it (checked by tsc).
const typed: KeyvStoreAdapter = null as unknown as KeyvPostgresStore
void typed

let store: KeyvPostgresStore
beforeEach(async () => {
  store = new KeyvPostgresStore(config())
  await store.clear() // opens the pool and creates the tables in the schema
  await sql(`TRUNCATE ${TABLE}`)
})
afterEach(async () => {
  await store.disconnect()
  await sql(`DROP TABLE IF EXISTS kv_statements; DROP FUNCTION IF EXISTS ${SCHEMA}.kv_count_statement() CASCADE`)
})
afterAll(async () => {
  await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
})

const rows = async () =>
  (await sql(`SELECT key, value FROM ${TABLE} ORDER BY key COLLATE "C"`)).map((row) => [row.key, row.value])

/** Seconds from a row's creation to its expiry (null: never expires). */
async function ttlOf(key: string): Promise<number | null> {
  const [row] = await sql(
    `SELECT extract(epoch FROM ttl - created_at)::float8 AS seconds FROM ${TABLE} WHERE key = $1`,
    [key],
  )
  return row.seconds
}

// Counts the statements that write the table (statement-level, so a batch counts once).
async function countWriteStatements(): Promise<() => Promise<number>> {
  await sql(`
    CREATE TABLE kv_statements (n int NOT NULL);
    INSERT INTO kv_statements VALUES (0);
    CREATE FUNCTION ${SCHEMA}.kv_count_statement() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN UPDATE public.kv_statements SET n = n + 1; RETURN NULL; END $$;
    CREATE TRIGGER kv_count AFTER INSERT OR DELETE ON ${TABLE}
      FOR EACH STATEMENT EXECUTE FUNCTION ${SCHEMA}.kv_count_statement();`)
  return async () => (await sql('SELECT n FROM kv_statements'))[0].n
}

describe('what Keyv stores through it', () => {
  it('stores <namespace>:<key> with the JSON string Keyv serialized, readable by a namespaced adapter', async () => {
    const keyv = new Keyv({ store, namespace: 'cache' })
    await keyv.set('user:1', { name: 'Ada', tags: ['x'] })
    expect(await rows()).toEqual([['cache:user:1', '{"value":{"name":"Ada","tags":["x"]}}']])
    const adapter = new PostgresStorageAdapter({ ...config(), namespace: 'cache' })
    await adapter.initialize()
    try {
      expect(await adapter.getValue('user:1')).toBe('{"value":{"name":"Ada","tags":["x"]}}')
    } finally {
      await adapter.close()
    }
    expect(await keyv.get('user:1')).toEqual({ name: 'Ada', tags: ['x'] })
  })

  it("turns Keyv's TTL in milliseconds into the row's expiry in seconds, rounded up to the millisecond", async () => {
    const keyv = new Keyv({ store })
    await keyv.set('minute', 1, 60_000)
    await keyv.set('sliver', 2, 1500.2)
    await keyv.set('forever', 3)
    await store.set('direct', '"4"', 0.4)
    await store.set('zero', '"5"', 0)
    expect(await ttlOf('keyv:minute')).toBe(60)
    expect(await ttlOf('keyv:sliver')).toBe(1.501)
    expect(await ttlOf('keyv:forever')).toBeNull()
    expect(await ttlOf('direct')).toBe(0.001)
    expect(await ttlOf('zero')).toBeNull()
  })

  it('reads an expired entry as absent on the server, whatever Keyv wrote in it', async () => {
    await store.set('short', '"kept by the text"', 300)
    await store.setMany([{ key: 'short-batch', value: '"x"', ttl: 300 }])
    expect(await store.get('short')).toBe('"kept by the text"')
    await sleep(450)
    expect(await store.get('short')).toBeUndefined()
    expect(await store.getMany(['short', 'short-batch'])).toEqual([undefined, undefined])
    expect(await store.has('short')).toBe(false)
    expect(await store.hasMany(['short-batch'])).toEqual([false])
  })
})

describe('the batch calls', () => {
  it('setMany stores the entries of one TTL in one statement, one per distinct TTL, a repeated key keeping its last', async () => {
    const statements = await countWriteStatements()
    await store.setMany([
      { key: 'a', value: '"1"' },
      { key: 'b', value: '"2"' },
      { key: 'a', value: '"3"' },
    ])
    expect(await statements()).toBe(1)
    await store.setMany([
      { key: 'c', value: '"4"', ttl: 60_000 },
      { key: 'd', value: '"5"' },
      { key: 'c', value: '"6"' },
    ])
    expect(await statements()).toBe(2)
    expect(await rows()).toEqual([
      ['a', '"3"'],
      ['b', '"2"'],
      ['c', '"6"'],
      ['d', '"5"'],
    ])
    expect(await ttlOf('c')).toBeNull()
  })

  it('getMany, hasMany and deleteMany answer in the order of the keys; deleteMany is one statement', async () => {
    await store.setMany([
      { key: 'x', value: '"1"' },
      { key: 'y', value: '"2"' },
    ])
    expect(await store.getMany(['y', 'nope', 'x'])).toEqual(['"2"', undefined, '"1"'])
    expect(await store.hasMany(['nope', 'x'])).toEqual([false, true])
    const statements = await countWriteStatements()
    expect(await store.deleteMany(['x', 'y', 'nope'])).toBe(true)
    expect(await store.deleteMany(['x'])).toBe(false)
    expect(await statements()).toBe(2)
    expect(await rows()).toEqual([])
  })

  it("Keyv's setMany, get([...]) and delete([...]) go through them", async () => {
    const keyv = new Keyv({ store, namespace: 'n' })
    await keyv.setMany([
      { key: 'p', value: 1 },
      { key: 'q', value: 2, ttl: 60_000 },
    ])
    expect(await keyv.get(['p', 'q', 'r'])).toEqual([1, 2, undefined])
    expect(await keyv.has(['p', 'r'])).toEqual([true, false])
    expect(await keyv.delete(['p', 'q'])).toBe(true)
    expect(await rows()).toEqual([])
  })
})

describe('refused input', () => {
  it('a bad TTL is a ValidationError naming it in milliseconds, and writes nothing', async () => {
    for (const ttl of [-1, Number.NaN, Infinity, 1e15, '60' as never]) {
      const error = await store.set('k', '"v"', ttl).catch((caught) => caught)
      expect(error).toBeInstanceOf(ValidationError)
      expect(error.code).toBe('E_VALIDATION')
      expect(error.invalidFields).toEqual(['ttl'])
      expect(error.message).toContain('milliseconds')
    }
    expect(await rows()).toEqual([])
  })

  it('setMany checks every entry before it sends any, whatever their TTLs', async () => {
    const cases: [unknown, string][] = [
      [
        [
          { key: 'a', value: '"1"', ttl: 1000 },
          { key: '', value: '"2"' },
        ],
        'entries[1].key',
      ],
      [
        [
          { key: 'a', value: '"1"', ttl: 1000 },
          { key: 'b', value: 1n },
        ],
        'entries[1].value',
      ],
      [
        [
          { key: 'a', value: '"1"' },
          { key: 'b', value: '"2"', ttl: -5 },
        ],
        'entries[1].ttl',
      ],
      [[{ key: 'a', value: '"1"' }, null], 'entries[1]'],
      ['a', 'entries'],
    ]
    for (const [entries, field] of cases) {
      const error = await store.setMany(entries as never).catch((caught) => caught)
      expect(error).toBeInstanceOf(ValidationError)
      expect(error.invalidFields).toEqual([field])
    }
    expect(await rows()).toEqual([])
  })

  it('through Keyv, a refused set resolves false and is emitted as an error', async () => {
    const keyv = new Keyv({ store })
    const errors: unknown[] = []
    keyv.on('error', (error) => errors.push(error))
    expect(await keyv.set('x'.repeat(2000), 1)).toBe(false)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(ValidationError)
    expect(await rows()).toEqual([])
  })

  it("refuses Keyv's own options and unknown ones, as E_CONFIG", () => {
    for (const [options, field] of [
      [{ namespace: 'cache' }, 'namespace'],
      [{ ttl: 60 }, 'ttl'],
      [{ tabel: 'keyv' }, 'tabel'],
    ] as const) {
      let error: ValidationError | undefined
      try {
        new KeyvPostgresStore({ ...config(), ...options } as never)
      } catch (caught) {
        error = caught as ValidationError
      }
      expect(error).toBeInstanceOf(ValidationError)
      expect(error!.code).toBe('E_CONFIG')
      expect(error!.message).toContain(field)
    }
  })
})

describe('failures and lifecycle', () => {
  it('emits a failure to open as an error event, which Keyv forwards even for a get it answers undefined', async () => {
    const port = await freePort()
    const down = new KeyvPostgresStore({ host: '127.0.0.1', port, connectTimeoutMs: 2000 })
    const keyv = new Keyv({ store: down })
    const errors: StorageError[] = []
    keyv.on('error', (error) => errors.push(error))
    expect(await keyv.get('k')).toBeUndefined()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(StorageError)
    expect(errors[0]).toMatchObject({ code: 'E_CONNECTION' })
    // The next call tries to open again, and fails the same way.
    const rejected = await down.has('k').catch((caught) => caught)
    expect(errors).toHaveLength(2)
    expect(rejected).toBe(errors[1])
    await down.disconnect()
  })

  it('without an error listener, a failure to connect only rejects the call', async () => {
    const port = await freePort()
    const down = new KeyvPostgresStore({ host: '127.0.0.1', port, connectTimeoutMs: 2000 })
    const error = await down.get('k').catch((caught) => caught)
    expect(error).toBeInstanceOf(StorageError)
    expect(error.code).toBe('E_CONNECTION')
    await down.disconnect()
  })

  it("Keyv's disconnect closes the pool: later calls reject with E_CLOSED", async () => {
    const keyv = new Keyv({ store })
    await keyv.set('k', 1)
    await keyv.disconnect()
    await expect(store.get('keyv:k')).rejects.toMatchObject({ code: 'E_CLOSED' })
    await store.disconnect()
  })
})

describe('iteration', () => {
  it("yields the namespace's live entries across pages, in code-point order, without other namespaces", async () => {
    const keyv = new Keyv({ store, namespace: 'it' })
    const keys = Array.from({ length: 230 }, (_, index) => `k${String(index).padStart(3, '0')}`)
    await keyv.setMany(keys.map((key) => ({ key, value: { key } })))
    await keyv.set('gone', 1, 100)
    await store.set('other:k001', '"elsewhere"')
    await sleep(200)
    const seen: [string, unknown][] = []
    for await (const entry of keyv.iterator!(undefined)) seen.push(entry as [string, unknown])
    expect(seen.map(([key]) => key)).toEqual(keys)
    expect(seen.every(([key, value]) => (value as { key: string }).key === key)).toBe(true)
    const stored: string[] = []
    for await (const [key] of store.iterator('it')) stored.push(key)
    expect(stored).toEqual(keys.map((key) => `it:${key}`))
  })
})
