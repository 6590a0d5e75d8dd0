// A throwaway npm registry on this machine: verdaccio (the pinned devDependency) on a free
// 127.0.0.1 port, with an empty storage folder of its own, no uplink (a name it does not hold is
// a 404, never a fetch from elsewhere), anonymous publish for the @smalltalk-ai scope only and
// nothing else publishable. Used by scripts/test-publish.mjs.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { root } from './python-tools.mjs'
import { freePort } from './throwaway-server.mjs'

export const SCOPE = '@smalltalk-ai'

function config(dir) {
  // JSON is YAML: no YAML writer needed.
  return JSON.stringify(
    {
      storage: path.join(dir, 'storage'),
      auth: { htpasswd: { file: path.join(dir, 'htpasswd'), max_users: -1 } },
      uplinks: {},
      packages: {
        [`${SCOPE}/*`]: { access: '$all', publish: '$anonymous', unpublish: '$anonymous' },
        '**': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
      },
      // The audit middleware forwards to the public registry: off, like the web UI.
      middlewares: { audit: { enabled: false } },
      web: { enable: false },
      // Longer than any pause between this run's requests: undici (fetch) reuses idle
      // connections and fails on one the server has just closed.
      server: { keepAliveTimeout: 600 },
      log: { type: 'file', path: path.join(dir, 'verdaccio.log'), format: 'json', level: 'http' },
    },
    null,
    2,
  )
}

/**
 * Starts verdaccio with its files under `dir` (created empty); resolves to
 * `{ url, port, dir, log, stop() }` once it answers `/-/ping`. `env` is the server's environment.
 */
export async function startRegistry(dir, { env = process.env, timeoutMs = 60_000 } = {}) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true })
  const configFile = path.join(dir, 'config.yaml')
  fs.writeFileSync(configFile, config(dir))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const bin = path.join(root, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  if (!fs.existsSync(bin)) throw new Error('verdaccio is not installed (npm ci installs it: it is a devDependency)')
  const output = fs.openSync(path.join(dir, 'verdaccio.out'), 'w')
  const child = spawn(process.execPath, [bin, '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env,
    stdio: ['ignore', output, output],
  })
  let exited = null
  child.on('exit', (code, signal) => {
    exited = { code, signal }
  })
  const stop = () =>
    new Promise((resolve) => {
      if (exited !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited !== null) {
      throw new Error(
        `verdaccio exited (${exited.code ?? exited.signal}) before answering: ${fs.readFileSync(path.join(dir, 'verdaccio.out'), 'utf8').slice(-2000)}`,
      )
    }
    try {
      const response = await fetch(`${url}-/ping`)
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`verdaccio did not answer on ${url} within ${timeoutMs / 1000} s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { url, port, dir, log: path.join(dir, 'verdaccio.log'), stop }
}

/** The registry's document for a package name (null on 404). */
export async function packument(registryUrl, name) {
  const response = await fetch(`${registryUrl}${name.replace('/', '%2f')}`)
  if (response.status === 404) return null
  if (!response.ok) throw new Error(`GET ${name} from ${registryUrl}: HTTP ${response.status}`)
  return response.json()
}
