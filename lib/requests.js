'use strict'
// Native calls complete through one callback per adapter (see src/lib.rs): every call gets a
// request number, and the promise made for it is settled by `complete([request, failed, value])`.
// While an adapter has calls in flight its callback holds Node's event loop open; when it has
// none, it lets go, so an adapter never keeps a process alive.

const pending = new Map()
let lastRequest = 0

/** One native adapter and the number of its calls in flight. */
class Channel {
  constructor() {
    this.native = null
    this.inFlight = 0
  }
}

function settled(channel) {
  if (--channel.inFlight === 0) channel.native.hold(false)
}

/**
 * Handed to every NativeAdapter: settles the promise of `request`, given `[request, failed,
 * value]`. It runs from a threadsafe function, so it must never throw.
 */
function complete(reply) {
  const request = reply[0]
  const failed = reply[1]
  const value = reply[2]
  const entry = pending.get(request)
  if (entry === undefined) return
  pending.delete(request)
  try {
    settled(entry.channel)
  } finally {
    if (failed) entry.reject(value)
    else entry.resolve(value)
  }
}

/** Calls `start(request)` (which validates input and makes one native call) and returns its promise. */
function request(channel, start) {
  return new Promise((resolve, reject) => {
    lastRequest = lastRequest === 0xffffffff ? 1 : lastRequest + 1
    const id = lastRequest
    pending.set(id, { resolve, reject, channel })
    if (channel.inFlight++ === 0) channel.native.hold(true)
    try {
      start(id)
    } catch (error) {
      pending.delete(id)
      settled(channel)
      reject(error)
    }
  })
}

module.exports = { Channel, complete, request }
