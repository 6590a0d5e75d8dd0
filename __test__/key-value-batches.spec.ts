// The key-value batch calls (getValues, setValues, deleteValues: one statement each, atomic),
// iterateValues' keyset pages, clearValues by prefix, the `namespace` option and `unlogged` tables,
// against the real tables and checked through a plain `pg` client.
import { PostgresStorageAdapter, ValidationError } from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, sleep, sql } from './helpers.js'

const current = adapterPerTest()

async function storedKeys(): Promise<string[]> {
  return (await sql('SELECT key FROM key_value ORDER BY key COLLATE "C"')).map((row) => row.key)
}

async function collect<T>(entries: AsyncIterable<[string, T]>): Promise<[string, T][]> {
  const all: [string, T][] = []
  for await (const entry of entries) all.push(entry)
  return all
}

// Counts the statements that write key_value (a statement-level trigger, so one INSERT or
// DELETE of many rows counts once; an upsert fires the INSERT one and the UPDATE one, so only
// INSERT and DELETE are counted).
async function countWriteStatements(): Promise<() => Promise<number>> {
  await sql(`
    CREATE TABLE kv_statements (n int NOT NULL);
    INSERT INTO kv_statements VALUES (0);
    CREATE FUNCTION kv_count_statement() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN UPDATE kv_statements SET n = n + 1; RETURN NULL; END $$;
    CREATE TRIGGER kv_count AFTER INSERT OR DELETE ON key_value
      FOR EACH STATEMENT EXECUTE FUNCTION kv_count_statement();`)
  return async () => (await sql('SELECT n FROM kv_statements'))[0].n
}

afterEach(async () => {
  await sql('DROP TABLE IF EXISTS kv_statements; DROP FUNCTION IF EXISTS kv_count_statement() CASCADE')
})

describe('getValues', () => {
  it('returns the values in the order of the keys, null for missing and expired ones', async () => {
    await current().setValue('a', { n: 1 })
    await current().setValue('b', [2])
    await current().setValue('gone', 3, { ttl: 0.2 })
    await sleep(400)
    expect(await current().getValues(['b', 'missing', 'a', 'gone', 'a'])).toEqual([[2], null, { n: 1 }, null, { n: 1 }])
    expect(await current().getValues([])).toEqual([])
  })

  it('refuses a malformed key, naming its position', async () => {
    const error = await current()
      .getValues(['ok', ''])
      .catch((e) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect(error.invalidFields).toEqual(['keys[1]'])
    await expect(current().getValues('a' as never)).rejects.toThrow('getValues: keys must be an array')
  })
})

describe('setValues', () => {
  it('stores a Map, an iterable of pairs or an object in one statement; a repeated key keeps its last value', async () => {
    const statements = await countWriteStatements()
    await current().setValues(
      new Map<string, unknown>([
        ['x', 1],
        ['y', { z: 'é' }],
      ]),
    )
    await current().setValues([
      ['p', 'first'],
      ['q', null],
      ['p', 'last'],
    ])
    await current().setValues({ o: true })
    expect(await statements()).toBe(3)
    expect(await current().getValues(['x', 'y', 'p', 'q', 'o'])).toEqual([1, { z: 'é' }, 'last', null, true])
    const rows = await sql("SELECT value FROM key_value WHERE key = 'y'")
    expect(rows[0].value).toEqual({ z: 'é' })
  })

  it('replaces existing entries and their expiry, with one ttl for all', async () => {
    await current().setValue('keep', 'old', { ttl: 0.2 })
    await current().setValues({ keep: 'new', other: 1 }, { ttl: 60 })
    await current().setValues({ short: 1 }, { ttl: 0.2 })
    await sleep(400)
    expect(await current().getValues(['keep', 'other', 'short'])).toEqual(['new', 1, null])
    const [row] = await sql(
      "SELECT extract(epoch FROM ttl - (now() AT TIME ZONE 'UTC')) AS seconds FROM key_value WHERE key = 'other'",
    )
    expect(Number(row.seconds)).toBeGreaterThan(55)
  })

  it('is atomic: when the server refuses one entry, none is stored', async () => {
    await current().setValue('before', 0)
    await sql(`
      CREATE FUNCTION kv_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.key = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER kv_refuse BEFORE INSERT ON key_value FOR EACH ROW EXECUTE FUNCTION kv_refuse_poison();`)
    try {
      await expect(
        current().setValues([...Array.from({ length: 50 }, (_, i) => [`k${i}`, i] as const), ['poison', 1]]),
      ).rejects.toThrow('refused')
      expect(await storedKeys()).toEqual(['before'])
    } finally {
      await sql('DROP FUNCTION kv_refuse_poison() CASCADE')
    }
  })

  it('refuses bad input before writing anything', async () => {
    const cases: [unknown, string][] = [
      [
        [
          ['a', 1],
          ['b', undefined],
        ],
        'entries[1][1]',
      ],
      [
        [
          ['a', 1],
          ['', 2],
        ],
        'entries[1][0]',
      ],
      [[['a', 1], ['b']], 'entries[1]'],
      [[['a', 1n]], 'entries[0][1]'],
      [42, 'entries'],
    ]
    for (const [entries, field] of cases) {
      const error = await current()
        .setValues(entries as never)
        .catch((e) => e)
      expect(error).toBeInstanceOf(ValidationError)
      expect(error.invalidFields).toEqual([field])
    }
    await expect(current().setValues({ a: 1 }, { ttl: -1 })).rejects.toThrow('options.ttl')
    expect(await storedKeys()).toEqual([])
  })
})

describe('deleteValues', () => {
  it('deletes the keys in one statement and counts the live ones', async () => {
    await current().setValues({ a: 1, b: 2, c: 3 })
    await current().setValue('expired', 4, { ttl: 0.2 })
    await sleep(400)
    const statements = await countWriteStatements()
    expect(await current().deleteValues(['a', 'c', 'expired', 'missing'])).toBe(2)
    expect(await statements()).toBe(1)
    expect(await storedKeys()).toEqual(['b'])
    expect(await current().deleteValues([])).toBe(0)
  })
})

describe('iterateValues', () => {
  it('yields every live entry once, in code-point order of keys, across pages', async () => {
    const keys = Array.from({ length: 230 }, (_, i) => `k${String(i).padStart(3, '0')}`)
    const odd = ['B', 'a', 'é', 'Z', 'a b', 'a\u{10FFFF}', '\u{1F600}']
    await current().setValues([...keys, ...odd].map((key) => [key, { key }] as const))
    await current().setValue('expired', 1, { ttl: 0.2 })
    await sleep(400)
    const all = await collect(current().iterateValues({ batchSize: 7 }))
    const expected = [...keys, ...odd].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1))
    expect(all.map(([key]) => key)).toEqual(expected)
    expect(all.every(([key, value]) => (value as { key: string }).key === key)).toBe(true)
  })

  it('yields only the keys with the prefix, and stops at its end', async () => {
    await current().setValues({ 'ns:a': 1, 'ns:b': 2, 'ns;': 3, ns: 4, 'nsx:a': 5, 'n:a': 6, 'ns:\u{10FFFF}': 7 })
    expect(await collect(current().iterateValues({ prefix: 'ns:', batchSize: 1 }))).toEqual([
      ['ns:a', 1],
      ['ns:b', 2],
      ['ns:\u{10FFFF}', 7],
    ])
    expect((await collect(current().iterateValues({ prefix: 'ns' }))).map(([key]) => key)).toEqual([
      'ns',
      'ns:a',
      'ns:b',
      'ns:\u{10FFFF}',
      'ns;',
      'nsx:a',
    ])
    expect(await collect(current().iterateValues({ prefix: 'zz' }))).toEqual([])
  })

  it('refuses a bad option synchronously', () => {
    expect(() => current().iterateValues({ batchSize: 0 })).toThrow(ValidationError)
    expect(() => current().iterateValues({ prefix: 5 as never })).toThrow('options.prefix must be a string')
    expect(() => current().iterateValues({ state: 'active' } as never)).toThrow('unknown option `state`')
  })
})

describe('clearValues', () => {
  it('deletes every entry with the prefix, live or expired, and nothing else', async () => {
    await current().setValues({ 'a:1': 1, 'a:2': 2, 'ab:1': 3, b: 4 })
    await current().setValue('a:old', 5, { ttl: 0.2 })
    await sleep(400)
    expect(await current().clearValues({ prefix: 'a:' })).toBe(3)
    expect(await storedKeys()).toEqual(['ab:1', 'b'])
    expect(await current().clearValues()).toBe(2)
    expect(await storedKeys()).toEqual([])
  })
})

describe('namespace', () => {
  it('stores keys as namespace:key, isolates namespaces, and hides the prefix from its own calls', async () => {
    const config = contractConfig()
    const cache = new PostgresStorageAdapter({ ...config, namespace: 'cache' })
    const other = new PostgresStorageAdapter({ ...config, namespace: 'other' })
    await cache.initialize()
    await other.initialize()
    try {
      await current().setValue('plain', 'outside')
      await cache.setValue('k', 'c1')
      await cache.setValues({ m: 'c2', n: 'c3' })
      await other.setValue('k', 'o1')
      expect(await storedKeys()).toEqual(['cache:k', 'cache:m', 'cache:n', 'other:k', 'plain'])
      // The original format for keys outside namespaces; the namespaced ones are plain keys to an
      // adapter without a namespace.
      expect(await current().getValue('plain')).toBe('outside')
      expect(await current().getValue('cache:k')).toBe('c1')
      expect(await cache.getValue('k')).toBe('c1')
      expect(await other.getValue('k')).toBe('o1')
      expect(await cache.getValue('plain')).toBeNull()
      expect(await cache.getValues(['k', 'm', 'plain'])).toEqual(['c1', 'c2', null])
      expect(await cache.hasValue('n')).toBe(true)
      expect(await collect(cache.iterateValues())).toEqual([
        ['k', 'c1'],
        ['m', 'c2'],
        ['n', 'c3'],
      ])
      expect(await collect(cache.iterateValues({ prefix: 'm' }))).toEqual([['m', 'c2']])
      expect(await cache.deleteValue('m')).toBe(true)
      expect(await cache.deleteValues(['n', 'k'])).toBe(2)
      await cache.setValue('again', 1)
      expect(await cache.clearValues()).toBe(1)
      expect(await storedKeys()).toEqual(['other:k', 'plain'])
    } finally {
      await cache.close()
      await other.close()
    }
  })

  it('refuses a namespace that could overlap another', () => {
    for (const namespace of ['a:b', '', 5]) {
      expect(() => new PostgresStorageAdapter({ ...contractConfig(), namespace: namespace as never })).toThrow(
        ValidationError,
      )
    }
  })
})

describe('unlogged', () => {
  const persistence = async (schema: string) =>
    Object.fromEntries(
      (
        await sql(
          `SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relname IN ('sessions', 'key_value')`,
          [schema],
        )
      ).map((row) => [row.relname, row.relpersistence]),
    )

  afterEach(async () => {
    await sql('DROP SCHEMA IF EXISTS unlogged_kv CASCADE')
  })

  it('creates the chosen tables UNLOGGED, and never converts an existing table', async () => {
    const first = new PostgresStorageAdapter({
      ...contractConfig(),
      schema: 'unlogged_kv',
      unlogged: { keyValue: true },
    })
    await first.initialize()
    await first.setValues({ a: 1 })
    await first.close()
    expect(await persistence('unlogged_kv')).toEqual({ key_value: 'u', sessions: 'p' })
    const second = new PostgresStorageAdapter({
      ...contractConfig(),
      schema: 'unlogged_kv',
      unlogged: { keyValue: false, sessions: true },
    })
    await second.initialize()
    expect(await second.getValues(['a'])).toEqual([1])
    await second.close()
    expect(await persistence('unlogged_kv')).toEqual({ key_value: 'u', sessions: 'p' })
  })

  it('refuses an unknown table name', () => {
    expect(() => new PostgresStorageAdapter({ ...contractConfig(), unlogged: { keyvalue: true } as never })).toThrow(
      'unlogged.keyvalue',
    )
  })
})
