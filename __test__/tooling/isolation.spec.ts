// `npm test` and `npm start` against the server a user configured (scripts/with-database.mjs):
// the tests run in a database created for the run and dropped at its end (after success, failure,
// SIGTERM or SIGINT), never in the user's; a configured server that does not answer is an error
// naming host:port (never the password), not a silent throwaway; DATABASE_URL reaches the command
// whole, `?sslmode=require` included, and the run is then encrypted.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import pg from 'pg'
import {
  CONNECTION_VARIABLES,
  TEST_DATABASE_VARIABLE,
  configuredTarget,
  freePort,
  startThrowaway,
  type Throwaway,
} from '../../scripts/postgres.mjs'
import { dropTables, sql, testServer } from '../helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const server = testServer()
const PASSWORD_MARK = 'Pw-never-printed-7f3a'

/** This process' environment without any connection setting or run marker, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || CONNECTION_VARIABLES.includes(key) || key === TEST_DATABASE_VARIABLE) continue
    if (key === 'PGSSLMODE' || key === 'PGSSLROOTCERT') continue
    env[key] = value
  }
  return { ...env, ...extra }
}

// Commands run through with-database.mjs get script files, not `node -e <code>`: on Windows it
// starts the command through cmd.exe, which would split code at its spaces.
let scripts: string
let scriptCount = 0
/** `['node', <a file holding code>]`. */
function nodeScript(code: string): string[] {
  const file = path.join(scripts, `script-${++scriptCount}.cjs`)
  fs.writeFileSync(file, code)
  return ['node', file]
}

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The database the runner created for the run, from its log. */
  database: string | undefined
}

/** Runs `node scripts/with-database.mjs ...args`; `whenCreated` sees the child once the run's database exists. */
function runner(
  args: string[],
  env: Record<string, string>,
  whenCreated?: (child: ReturnType<typeof spawn>, database: string) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/with-database.mjs', ...args], { cwd: root, env })
    let stdout = ''
    let stderr = ''
    let database: string | undefined
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const found = /created database (smalltalk_test_[0-9a-f]+) for this run/.exec(stderr)
      if (found && database === undefined) {
        database = found[1]
        whenCreated?.(child, database)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, database })
    })
  })
}

/** A plain client on `database` of the test server. */
async function on<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...server, database })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

const databaseExists = (name: string) =>
  on(
    'postgres',
    async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1,
  )

/** The server of this run, as a user would configure it, on `database`. */
function configured(database: string, style: 'PG' | 'POSTGRES' | 'URL') {
  if (style === 'URL') {
    const url = `postgres://${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}@${server.host}:${server.port}/${database}`
    return { DATABASE_URL: url }
  }
  const prefix = style === 'PG' ? 'PG' : 'POSTGRES_'
  return {
    [`${prefix}HOST`]: server.host,
    [`${prefix}PORT`]: String(server.port),
    [style === 'PG' ? 'PGDATABASE' : 'POSTGRES_DB']: database,
    [`${prefix}USER`]: server.user,
    [`${prefix}PASSWORD`]: server.password,
  }
}

// A user's database on the same server, with the package's tables holding the user's data.
const userDatabase = `smalltalk_user_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  scripts = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-isolation-'))
  await on('postgres', (client) => client.query(`CREATE DATABASE ${userDatabase}`))
  await on(userDatabase, async (client) => {
    await client.query('CREATE TABLE sessions (id text PRIMARY KEY, data jsonb NOT NULL)')
    await client.query('CREATE TABLE key_value (key text PRIMARY KEY, value jsonb)')
    await client.query(`INSERT INTO sessions VALUES ('users-own-session', '{"mine": true}')`)
    await client.query(`INSERT INTO key_value VALUES ('users-own-key', '42')`)
  })
}, 30_000)

afterAll(async () => {
  await on('postgres', (client) => client.query(`DROP DATABASE IF EXISTS ${userDatabase} WITH (FORCE)`))
  fs.rmSync(scripts, { recursive: true, force: true })
})

/** The user's rows, read after whatever ran. */
const userRows = () =>
  on(userDatabase, async (client) => ({
    sessions: (await client.query('SELECT id, data FROM sessions')).rows,
    keyValue: (await client.query('SELECT key, value FROM key_value')).rows,
  }))
const untouched = {
  sessions: [{ id: 'users-own-session', data: { mine: true } }],
  keyValue: [{ key: 'users-own-key', value: 42 }],
}

describe('npm test runs in a database of its own', () => {
  it.each(['PG', 'URL'] as const)(
    "the contract suite run against a server configured with %s drops tables only in the run's database, which is gone afterwards",
    async (style) => {
      const jest = [
        'node',
        '--experimental-vm-modules',
        'node_modules/jest/bin/jest.js',
        '-c',
        '__test__/jest.config.js',
        '--runInBand',
      ]
      const run = await runner(
        [...jest, '__test__/contract.spec.ts', '--testNamePattern=initialize.resolves'],
        cleanEnv(configured(userDatabase, style)),
      )
      expect(run.stderr).toMatch(/Tests:.*\b1 passed, 48 total/)
      expect(run.code).toBe(0)
      expect(run.database).toMatch(/^smalltalk_test_/)
      expect(await databaseExists(run.database as string)).toBe(false)
      expect(await userRows()).toEqual(untouched)
    },
    120_000,
  )

  it("the run's database is named to the command, and dropped when the command fails", async () => {
    const run = await runner(
      nodeScript(
        'console.log(JSON.stringify([process.env.PGDATABASE, process.env.POSTGRES_DB, process.env.SMALLTALK_TEST_DATABASE])); process.exit(7)',
      ),
      cleanEnv(configured(userDatabase, 'POSTGRES')),
    )
    expect(run.code).toBe(7)
    expect(JSON.parse(run.stdout)).toEqual([run.database, run.database, run.database])
    expect(await databaseExists(run.database as string)).toBe(false)
    expect(run.stderr).toContain(`dropped database ${run.database}`)
  })

  // POSIX signals: on Windows a parent's kill() ends the runner at once, with no handler to run.
  const signals = process.platform === 'win32' ? it.skip.each : it.each
  signals([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)("on %s the command is stopped and the run's database dropped", async (signal, status) => {
    let seenAlive = false
    const run = await runner(
      nodeScript('setInterval(() => {}, 1000)'),
      cleanEnv(configured(userDatabase, 'PG')),
      (child, database) => {
        databaseExists(database).then((exists) => {
          seenAlive = exists
          child.kill(signal)
        })
      },
    )
    expect(seenAlive).toBe(true)
    expect(run.code).toBe(status)
    expect(await databaseExists(run.database as string)).toBe(false)
    expect(await userRows()).toEqual(untouched)
  })

  it('two runs on one server at once get two databases', async () => {
    const script = 'console.log(process.env.PGDATABASE); setTimeout(() => {}, 1500)'
    const env = cleanEnv(configured(userDatabase, 'PG'))
    const [first, second] = await Promise.all([runner(nodeScript(script), env), runner(nodeScript(script), env)])
    expect([first.code, second.code]).toEqual([0, 0])
    expect(first.stdout.trim()).toBe(first.database)
    expect(second.stdout.trim()).toBe(second.database)
    expect(first.database).not.toBe(second.database)
    expect(await databaseExists(first.database as string)).toBe(false)
    expect(await databaseExists(second.database as string)).toBe(false)
  })
})

describe("the suites' table drops refuse a database the run did not create", () => {
  const saved = { ...process.env }
  afterEach(() => {
    for (const key of ['POSTGRES_DB', TEST_DATABASE_VARIABLE]) {
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
    }
  })

  it('jest pointed by hand at your database (no run marker) refuses to drop or clear its tables', async () => {
    process.env.POSTGRES_DB = userDatabase
    delete process.env[TEST_DATABASE_VARIABLE]
    await expect(dropTables()).rejects.toThrow(`refusing to drop or clear tables in the database "${userDatabase}"`)
    await expect(sql('TRUNCATE sessions, key_value')).rejects.toThrow('SMALLTALK_TEST_DATABASE is not set')
    expect(await userRows()).toEqual(untouched)
  })

  it("naming your database as the run's by hand is not enough: it lacks the mark a run puts on its own", async () => {
    process.env.POSTGRES_DB = userDatabase
    process.env[TEST_DATABASE_VARIABLE] = userDatabase
    await expect(dropTables()).rejects.toThrow('it does not carry the mark of a database made for a test run')
    expect(await userRows()).toEqual(untouched)
  })

  it("another run's marker does not open this database either", async () => {
    process.env.POSTGRES_DB = userDatabase
    process.env[TEST_DATABASE_VARIABLE] = 'smalltalk_test_0000000000'
    await expect(dropTables()).rejects.toThrow(`this run's own database is "smalltalk_test_0000000000"`)
    expect(await userRows()).toEqual(untouched)
  })
})

describe('a configured server is used or reported, never replaced by a throwaway', () => {
  it.each([
    [
      'DATABASE_URL',
      async () => ({ DATABASE_URL: `postgres://someone:${PASSWORD_MARK}@127.0.0.1:${await freePort()}/app` }),
    ],
    ['PGHOST', async () => ({ PGHOST: 'no-such-host.invalid', PGPASSWORD: PASSWORD_MARK })],
    ['POSTGRES_PORT', async () => ({ POSTGRES_PORT: String(await freePort()), POSTGRES_PASSWORD: PASSWORD_MARK })],
  ] as const)(
    '%s naming a server that does not answer fails naming host:port, without the password',
    async (_name, make) => {
      const env = await make()
      const expected =
        'DATABASE_URL' in env
          ? new URL(env.DATABASE_URL).host
          : 'PGHOST' in env
            ? `${env.PGHOST}:5432`
            : `localhost:${env.POSTGRES_PORT}`
      for (const mode of [[], ['--default-database', 'smalltalk']]) {
        const run = await runner([...mode, ...nodeScript('console.log("the command ran")')], cleanEnv(env))
        expect(run.code).toBe(1)
        expect(run.stdout).toBe('')
        expect(run.stderr).toContain(`does not answer at ${expected}`)
        expect(run.stderr).not.toContain('throwaway PostgreSQL')
        expect(run.stderr).not.toContain(PASSWORD_MARK)
      }
    },
    60_000,
  )

  it('npm start passes DATABASE_URL through exactly; npm test changes only its database', async () => {
    const url = `${configured(userDatabase, 'URL').DATABASE_URL}?sslmode=disable&application_name=passed-through`
    const print = nodeScript(
      'console.log(JSON.stringify([process.env.DATABASE_URL, process.env.PGSSLMODE, process.env.PGDATABASE]))',
    )
    const demo = await runner(['--default-database', 'smalltalk', ...print], cleanEnv({ DATABASE_URL: url }))
    expect(demo.code).toBe(0)
    expect(JSON.parse(demo.stdout)).toEqual([url, 'disable', userDatabase])
    const test = await runner(print, cleanEnv({ DATABASE_URL: url }))
    expect(test.code).toBe(0)
    expect(JSON.parse(test.stdout)).toEqual([
      url.replace(`/${userDatabase}?`, `/${test.database}?`),
      'disable',
      test.database,
    ])
    expect(await userRows()).toEqual(untouched)
  })
})

describe('reading DATABASE_URL', () => {
  it('keeps the URL whole (several hosts, encoded password, query) and reads the first host and sslmode from it', () => {
    const url = `postgres://app:p%40ss%2Fw@db1.internal:5433,db2.internal:5434/app?sslmode=require&target_session_attrs=read-write`
    expect(configuredTarget({ DATABASE_URL: url, PGHOST: 'ignored' })).toEqual({
      host: 'db1.internal',
      port: 5433,
      database: 'app',
      user: 'app',
      password: 'p@ss/w',
      sslmode: 'require',
      url,
    })
    expect(
      configuredTarget({ DATABASE_URL: 'postgresql://app@db', PGSSLMODE: 'verify-full' }, 'smalltalk'),
    ).toMatchObject({
      database: 'smalltalk',
      sslmode: 'verify-full',
      url: 'postgresql://app@db/smalltalk',
    })
  })

  it.each([
    'postgres://app:hunter2/x@db/app',
    'postgres://app:hunter2@db:99999/app',
    'postgres://app:%E0%A4%A@db/app',
    'mysql://app:hunter2@db/app',
  ])('a malformed URL is refused without quoting it (%s)', (url) => {
    const error = (() => {
      try {
        configuredTarget({ DATABASE_URL: url })
      } catch (caught) {
        return caught as Error
      }
      throw new Error('accepted')
    })()
    expect(error.message).toMatch(/^DATABASE_URL /)
    expect(`${error.message} ${error.stack}`).not.toContain('hunter2')
  })
})

describe('DATABASE_URL with ?sslmode=require: the run is encrypted', () => {
  let dir: string
  let tls: Throwaway

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-isolation-tls-'))
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'server.key',
        '-out',
        'server.crt',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
      ],
      { cwd: dir, stdio: 'pipe' },
    )
    tls = await startThrowaway({
      database: 'postgres',
      password: PASSWORD_MARK,
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
    await tls?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("the suites' adapter, configured from POSTGRES_* as contractConfig() does, connects with TLS", async () => {
    // What a spec does: POSTGRES_* as explicit settings, the rest (sslmode) from the PG* environment.
    const check = `
      const { PostgresStorageAdapter } = require(${JSON.stringify(path.join(root, 'index.js'))})
      const pg = require(${JSON.stringify(path.join(root, 'node_modules', 'pg'))})
      const env = process.env
      ;(async () => {
        const adapter = new PostgresStorageAdapter({ host: env.POSTGRES_HOST, port: Number(env.POSTGRES_PORT), database: env.POSTGRES_DB,
          user: env.POSTGRES_USER, password: env.POSTGRES_PASSWORD, applicationName: 'isolation-tls', poolSize: 1 })
        await adapter.initialize()
        const client = new pg.Client({ connectionString: env.DATABASE_URL.replace('sslmode=require', 'sslmode=no-verify') })
        await client.connect()
        const { rows } = await client.query(
          "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'isolation-tls'")
        await client.end()
        await adapter.close()
        console.log(JSON.stringify(rows.map((row) => row.ssl)))
      })().catch((error) => { console.error(error.message); process.exit(1) })
    `
    const url = `postgres://postgres:${PASSWORD_MARK}@127.0.0.1:${tls.target.port}/postgres?sslmode=require`
    const run = await runner(nodeScript(check), cleanEnv({ DATABASE_URL: url }))
    expect(run.stderr).not.toContain(PASSWORD_MARK)
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual([true])
  }, 60_000)
})
