// The Redis reference: sessions stored as SmallTalk's Redis adapter stores them, one JSON string
// per session (the original serializer's text) under its key, read with GET and written with SET
// (ioredis, one connection, pipelining as ioredis does by default). No version check on the
// server: what users give up for the speed. Reduced to the methods the conversation workload calls.
//
// The server is a throwaway `redis-server` on a free loopback port (`startRedis`), with nothing
// saved to disk, started and stopped by the benchmark like its throwaway PostgreSQL.
import { spawn } from 'node:child_process'
import Redis from 'ioredis'
import { freePort } from '../scripts/postgres.mjs'
import { deserializeSession, serializeSession } from './original-serializer.mjs'

const KEY_PREFIX = 'smalltalk:session:'

export class RedisReferenceAdapter {
  #options
  #redis = null

  /** @param {{ host: string, port: number }} options */
  constructor(options) {
    this.#options = options
  }

  async initialize() {
    this.#redis = new Redis({ host: this.#options.host, port: this.#options.port, lazyConnect: true })
    await this.#redis.connect()
  }

  async close() {
    const redis = this.#redis
    this.#redis = null
    if (redis !== null) await redis.quit()
  }

  async saveSession(session) {
    await this.#redis.set(KEY_PREFIX + session.id, serializeSession(session))
  }

  async getSession(sessionId) {
    const json = await this.#redis.get(KEY_PREFIX + sessionId)
    return json === null ? null : deserializeSession(json)
  }
}

/**
 * Starts a throwaway `redis-server` (PATH, or /usr/bin) on a free loopback port, persisting
 * nothing; resolves to `{ host, port, version, stop() }`, or to null when there is no
 * redis-server (the reference is then left out, and the report says so).
 */
export async function startRedis() {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/bin:/usr/sbin` } },
  )
  const started = await new Promise((resolve) => {
    let output = ''
    const timer = setTimeout(() => resolve(false), 10_000)
    child.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer)
        resolve(true)
      }
    })
  })
  if (!started) {
    child.kill('SIGKILL')
    return null
  }
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true })
  await probe.connect()
  const version = /redis_version:(\S+)/.exec(await probe.info('server'))?.[1] ?? 'unknown'
  await probe.quit()
  return {
    host: '127.0.0.1',
    port,
    version,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
