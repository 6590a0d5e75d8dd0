// TLS (rustls) against a throwaway server whose certificate is signed by a CA generated here with
// openssl: disable / require / verify-ca / verify-full, `ssl` in pg's shape, and sslmode in the URL.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'

let dir: string
let cluster: Throwaway
let appCounter = 0

function openssl(args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** A CA, and a server certificate it signs for the name `localhost` only (not 127.0.0.1). */
function makeCertificates() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-tls-'))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  for (const name of ['ca', 'other-ca']) {
    openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  }
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  )
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out',
    'server.crt', '-days', '2', '-extfile', 'server.ext'])
}

beforeAll(async () => {
  makeCertificates()
  cluster = await startThrowaway({
    database: 'tls',
    files: {
      'server.crt': fs.readFileSync(path.join(dir, 'server.crt'), 'utf8'),
      'server.key': fs.readFileSync(path.join(dir, 'server.key'), 'utf8'),
    },
    settings: (dataDir: string) => ({
      ssl: 'on',
      ssl_cert_file: path.join(dataDir, 'server.crt'),
      ssl_key_file: path.join(dataDir, 'server.key'),
    }),
  })
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Initializes an adapter with `options`, and reports whether its connection is encrypted. */
async function connect(options: PostgresConfig): Promise<boolean> {
  const applicationName = `tls-spec-${++appCounter}`
  const adapter = new PostgresStorageAdapter({ ...cluster.target, ...options, applicationName, poolSize: 1 })
  try {
    await adapter.initialize()
    await adapter.setValue('tls', { ok: true })
    expect(await adapter.getValue('tls')).toEqual({ ok: true })
    const client = new pg.Client({ ...cluster.target })
    await client.connect()
    try {
      const { rows } = await client.query(
        'SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1',
        [applicationName],
      )
      expect(rows).toHaveLength(1)
      return rows[0].ssl
    } finally {
      await client.end()
    }
  } finally {
    await adapter.close()
  }
}

async function refused(options: PostgresConfig): Promise<StorageError> {
  const adapter = new PostgresStorageAdapter({ ...cluster.target, ...options, poolSize: 1 })
  const error = await adapter.initialize().then(
    () => null,
    (caught: unknown) => caught,
  )
  await adapter.close()
  expect(error).toBeInstanceOf(StorageError)
  return error as StorageError
}

const ca = () => path.join(dir, 'ca.crt')
const url = (host: string, query: string) =>
  `postgres://postgres:postgres@${host}:${cluster.target.port}/tls?${query}`

it('sslMode disable connects in plain text', async () => {
  expect(await connect({ sslMode: 'disable' })).toBe(false)
})

it('sslMode require encrypts without checking the certificate', async () => {
  expect(await connect({ sslMode: 'require' })).toBe(true)
  expect(await connect({ ssl: { rejectUnauthorized: false } })).toBe(true)
})

it('sslmode in the URL', async () => {
  expect(await connect({ connectionString: url('127.0.0.1', 'sslmode=require') })).toBe(true)
  expect(await connect({ connectionString: url('127.0.0.1', 'sslmode=disable') })).toBe(false)
  expect(await connect({ connectionString: url('localhost', `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`) })).toBe(true)
})

it('verify-full accepts the right CA and host name', async () => {
  expect(await connect({ host: 'localhost', sslMode: 'verify-full', sslRootCert: ca() })).toBe(true)
  expect(await connect({ host: 'localhost', ssl: { ca: fs.readFileSync(ca(), 'utf8') } })).toBe(true)
  expect(await connect({ host: 'localhost', ssl: { ca: fs.readFileSync(ca()) } })).toBe(true)
})

it('verify-full refuses a certificate from another CA', async () => {
  const error = await refused({ host: 'localhost', sslMode: 'verify-full', sslRootCert: path.join(dir, 'other-ca.crt') })
  expect(error.code).toBe('E_CONNECTION')
  expect(error.message).toMatch(/certificate|UnknownIssuer/i)
})

it('verify-full refuses a host name the certificate does not name; verify-ca accepts it', async () => {
  const error = await refused({ host: '127.0.0.1', sslMode: 'verify-full', sslRootCert: ca() })
  expect(error.code).toBe('E_CONNECTION')
  expect(error.message).toMatch(/certificate|name/i)
  expect(await connect({ host: '127.0.0.1', sslMode: 'verify-ca', sslRootCert: ca() })).toBe(true)
})

it('a missing CA file is a configuration error naming the option', async () => {
  const error = await refused({ host: 'localhost', sslMode: 'verify-full', sslRootCert: path.join(dir, 'nope.crt') })
  expect(error.name).toBe('ValidationError')
  expect(error.message).toMatch(/sslRootCert/)
})
