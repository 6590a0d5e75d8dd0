// Tenants: the `schema` option puts the tables in their own schema (created if missing, name
// quoted), so adapters on one database with different schemas never see each other's data.
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import { contractConfig, dropTables, makeSession, sql } from './helpers.js'

const SCHEMAS = ['tenant_a', 'Tenant B; "quoted" -- DROP TABLE sessions']
const dropSchemas = () =>
  sql(SCHEMAS.map((name) => `DROP SCHEMA IF EXISTS "${name.replaceAll('"', '""')}" CASCADE`).join('; '))

let tenants: PostgresStorageAdapter[]
let plain: PostgresStorageAdapter

beforeAll(async () => {
  await dropTables()
  await dropSchemas()
  tenants = SCHEMAS.map((schema) => new PostgresStorageAdapter({ ...contractConfig(), schema }))
  plain = new PostgresStorageAdapter(contractConfig())
  for (const adapter of [...tenants, plain]) await adapter.initialize()
})

afterAll(async () => {
  for (const adapter of [...tenants, plain]) await adapter.close()
  await dropSchemas()
  await dropTables()
})

it('creates each schema and its tables, leaving the default (public) tables apart', async () => {
  const rows = await sql(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relname IN ('sessions', 'key_value') ORDER BY 1, 2`,
  )
  expect(rows).toEqual([
    { schema: SCHEMAS[1], name: 'key_value' },
    { schema: SCHEMAS[1], name: 'sessions' },
    { schema: 'public', name: 'key_value' },
    { schema: 'public', name: 'sessions' },
    { schema: 'tenant_a', name: 'key_value' },
    { schema: 'tenant_a', name: 'sessions' },
  ])
})

it('the same id in two tenants holds two different sessions', async () => {
  const [a, b] = tenants
  await a.saveSession(makeSession({ id: 'same-id', metadata: { userId: 'alice' } }))
  await b.saveSession(makeSession({ id: 'same-id', version: 5, metadata: { userId: 'bob' } }))
  await a.saveSession(makeSession({ id: 'only-a' }))
  expect((await a.getSession('same-id'))!.metadata.userId).toBe('alice')
  expect((await b.getSession('same-id'))!.metadata.userId).toBe('bob')
  expect(await b.hasSession('only-a')).toBe(false)
  expect(await plain.hasSession('same-id')).toBe(false)
  expect((await a.listSessions()).map((summary) => summary.id).sort()).toEqual(['only-a', 'same-id'])
  expect((await b.listSessions()).map((summary) => summary.id)).toEqual(['same-id'])
  expect((await a.getStats()).totalSessions).toBe(2)
  expect((await b.getStats()).totalSessions).toBe(1)
  expect((await b.getSessions(['same-id', 'only-a'])).size).toBe(1)
  // Versions are per tenant too: b's version 5 does not make a's save stale.
  await a.saveSession(makeSession({ id: 'same-id', version: 2, metadata: { userId: 'alice2' } }))
  expect((await a.getSession('same-id'))!.version).toBe(2)
})

it('key-value entries and clear() stay within their tenant', async () => {
  const [a, b] = tenants
  await a.setValue('k', 'from a')
  await b.setValue('k', 'from b')
  expect(await a.getValue('k')).toBe('from a')
  expect(await b.getValue('k')).toBe('from b')
  expect(await plain.getValue('k')).toBeNull()
  await b.saveSession(makeSession({ id: 'b-2' }))
  expect(await a.clear()).toBe(2)
  expect((await b.getStats()).totalSessions).toBe(2)
  expect((await sql(`SELECT count(*)::int AS n FROM public.sessions`))[0].n).toBe(0)
})
