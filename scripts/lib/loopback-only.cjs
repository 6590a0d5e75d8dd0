'use strict'
// Preloaded (NODE_OPTIONS=--require) into every Node process of a publish rehearsal (npm, the
// napi CLI, the npm it spawns, verdaccio): a TCP connection to anything but this machine's
// loopback is refused before any DNS lookup or byte is sent, and its host and port are appended
// to the file named by LOOPBACK_ONLY_LOG. scripts/test-publish.mjs fails when that file is not
// empty, so "nothing went to the public registry (or to GitHub)" is observed, not assumed.
const fs = require('node:fs')
const net = require('node:net')

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])
const log = process.env.LOOPBACK_ONLY_LOG
const connect = net.Socket.prototype.connect

/** `{ host, port, path }` from any of net.Socket#connect's call shapes. */
function destination(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  if (first !== null && typeof first === 'object')
    return { host: first.host ?? 'localhost', port: first.port, path: first.path }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first }
  return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first }
}

net.Socket.prototype.connect = function guardedConnect(...args) {
  const target = destination(args)
  if (typeof target.path === 'string' || LOOPBACK.has(String(target.host).replace(/^\[|\]$/g, '')))
    return connect.apply(this, args)
  const line = `${target.host}:${target.port} (pid ${process.pid}: ${process.argv.slice(1, 3).join(' ')})\n`
  if (log) fs.appendFileSync(log, line)
  const error = Object.assign(
    new Error(`connection to ${target.host}:${target.port} refused: this run may only reach 127.0.0.1`),
    {
      code: 'ECONNREFUSED',
    },
  )
  process.nextTick(() => this.destroy(error))
  return this
}
