// TLS (rustls) against a throwaway server whose certificate is signed by a CA generated here with
// openssl: disable / require / verify-ca / verify-full, `ssl` in pg's shape, and sslmode in the URL.
// `ssl` means what it meant on pg: `true` and `{}` verify, `rejectUnauthorized: false` opts out,
// and when two settings disagree the stricter wins or the call is refused.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresStorageAdapter, StorageError } from '@smalltalk-ai/postgres-storage'
import type { PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { startThrowaway, type Throwaway } from '../scripts/postgres.mjs'
import { connectionsNamed } from './helpers.js'

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
    openssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ])
  }
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  )
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ])
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
  if (error === null)
    throw new Error(`initialize() resolved: the connection was accepted (${JSON.stringify(options).slice(0, 120)})`)
  expect(error).toBeInstanceOf(StorageError)
  return error as StorageError
}

const ca = () => path.join(dir, 'ca.crt')
const url = (host: string, query: string) => `postgres://postgres:postgres@${host}:${cluster.target.port}/tls?${query}`

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
  expect(
    await connect({
      connectionString: url('localhost', `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`),
    }),
  ).toBe(true)
})

it('verify-full accepts the right CA and host name', async () => {
  expect(await connect({ host: 'localhost', sslMode: 'verify-full', sslRootCert: ca() })).toBe(true)
  expect(await connect({ host: 'localhost', ssl: { ca: fs.readFileSync(ca(), 'utf8') } })).toBe(true)
  expect(await connect({ host: 'localhost', ssl: { ca: fs.readFileSync(ca()) } })).toBe(true)
})

it('verify-full refuses a certificate from another CA', async () => {
  const error = await refused({
    host: 'localhost',
    sslMode: 'verify-full',
    sslRootCert: path.join(dir, 'other-ca.crt'),
  })
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

describe('ssl means what it meant on pg: verify unless told not to', () => {
  const caPem = () => fs.readFileSync(ca(), 'utf8')
  const otherCaPem = () => fs.readFileSync(path.join(dir, 'other-ca.crt'), 'utf8')

  /** A refusal for the certificate: StorageError E_CONNECTION saying what was wrong with it. */
  async function refusedCertificate(options: PostgresConfig): Promise<void> {
    const error = await refused(options)
    expect(error.name).toBe('StorageError')
    expect(error.code).toBe('E_CONNECTION')
    expect(error.message).toMatch(/certificate|UnknownIssuer|NotValidForName|verify/i)
  }

  /** Connections the server sees with this application_name. */
  const sessionsNamed = (applicationName: string) => connectionsNamed({ ...cluster.target }, applicationName)

  it('ssl: true refuses a certificate from an unknown CA, for another host name or the right one', async () => {
    await refusedCertificate({ ssl: true })
    await refusedCertificate({ host: 'localhost', ssl: true })
  })

  it('ssl: {} verifies too', async () => {
    await refusedCertificate({ ssl: {} })
    await refusedCertificate({ host: 'localhost', ssl: {} })
  })

  it('ssl: { rejectUnauthorized: false } is the explicit opt-out: it encrypts without verifying', async () => {
    expect(await connect({ ssl: { rejectUnauthorized: false } })).toBe(true)
  })

  it('ssl: { ca } with the right CA checks the host name: refused for 127.0.0.1, accepted for localhost', async () => {
    await refusedCertificate({ host: '127.0.0.1', ssl: { ca: caPem() } })
    expect(await connect({ host: 'localhost', ssl: { ca: caPem() } })).toBe(true)
  })

  it("sslmode=require in a URL keeps libpq's meaning: encrypted, not verified", async () => {
    expect(await connect({ connectionString: url('127.0.0.1', 'sslmode=require') })).toBe(true)
  })

  it('sslMode require with a verifying ssl option verifies: the stricter setting wins', async () => {
    await refusedCertificate({ host: '127.0.0.1', sslMode: 'require', ssl: { ca: caPem() } })
    await refusedCertificate({ host: 'localhost', sslMode: 'require', ssl: { ca: otherCaPem() } })
    await refusedCertificate({ host: 'localhost', sslMode: 'require', ssl: true })
    expect(await connect({ host: 'localhost', sslMode: 'require', ssl: { ca: caPem() } })).toBe(true)
  })

  it('sslMode disable with a verifying ssl option is never a silent downgrade to plain text', async () => {
    let outcome: unknown
    try {
      const adapter = new PostgresStorageAdapter({
        ...cluster.target,
        host: '127.0.0.1',
        sslMode: 'disable',
        ssl: { ca: caPem() },
        poolSize: 1,
      })
      outcome = await adapter.initialize().then(
        () => 'initialize() resolved: connected in plain text',
        (error: unknown) => error,
      )
      await adapter.close()
    } catch (error) {
      outcome = error
    }
    // Either refused as a contradiction, or verified (and then this host name is wrong).
    if (typeof outcome === 'string') throw new Error(outcome)
    expect(outcome).toBeInstanceOf(StorageError)
    const error = outcome as StorageError
    if (error.name === 'ValidationError') {
      expect(error.code).toBe('E_CONFIG')
      expect(error.message).toMatch(/ssl/i)
    } else {
      expect(error.code).toBe('E_CONNECTION')
      expect(error.message).toMatch(/certificate|NotValidForName|verify/i)
    }
  })

  it.each(['require', 'disable'] as const)(
    'initialize({ options: { sslMode: %j } }) on a verifying adapter is refused with ValidationError E_CONFIG, opening nothing',
    async (sslMode) => {
      for (const ssl of [{ ca: caPem() }, true] as const) {
        const applicationName = `tls-spec-weaken-${sslMode}-${++appCounter}`
        const adapter = new PostgresStorageAdapter({
          ...cluster.target,
          host: 'localhost',
          ssl,
          applicationName,
          poolSize: 1,
        })
        try {
          const error = await adapter.initialize({ options: { sslMode } }).then(
            () => null,
            (caught: unknown) => caught,
          )
          if (error === null)
            throw new Error(
              `initialize() resolved with sslMode ${sslMode}: a silent downgrade of ssl ${JSON.stringify(ssl).slice(0, 30)}`,
            )
          expect(error).toBeInstanceOf(StorageError)
          expect((error as StorageError).name).toBe('ValidationError')
          expect((error as StorageError).code).toBe('E_CONFIG')
          expect((error as Error).message).toMatch(/sslMode/)
          expect(await sessionsNamed(applicationName)).toBe(0)
          expect((await adapter.healthCheck()).healthy).toBe(false)
        } finally {
          await adapter.close()
        }
      }
    },
  )

  it('a weakening initialize() on an open verifying adapter is refused and leaves its verified connection in place', async () => {
    const applicationName = `tls-spec-open-${++appCounter}`
    const adapter = new PostgresStorageAdapter({
      ...cluster.target,
      host: 'localhost',
      ssl: { ca: caPem() },
      applicationName,
      poolSize: 1,
    })
    try {
      await adapter.initialize()
      const error = await adapter.initialize({ options: { sslMode: 'disable' } }).then(
        () => null,
        (caught: unknown) => caught,
      )
      if (error === null)
        throw new Error('initialize({ options: { sslMode: "disable" } }) resolved: a silent downgrade')
      expect(error).toBeInstanceOf(StorageError)
      expect((error as StorageError).name).toBe('ValidationError')
      expect((error as StorageError).code).toBe('E_CONFIG')
      await adapter.setValue('tls-still', 1)
      const client = new pg.Client({ ...cluster.target })
      await client.connect()
      try {
        const { rows } = await client.query(
          'SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1',
          [applicationName],
        )
        expect(rows.map((row) => row.ssl)).toEqual([true])
      } finally {
        await client.end()
      }
      // Asking for the same or a stricter mode is fine.
      await adapter.initialize({ options: { sslMode: 'verify-full' } })
      expect(await adapter.getValue('tls-still')).toBe(1)
    } finally {
      await adapter.close()
    }
  })
})
