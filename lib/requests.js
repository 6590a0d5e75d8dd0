'use strict'
// Native calls in flight (see src/lib.rs and src/calls.rs): every call gets a request number and
// a pending entry; when calls finish, the adapter's wake callback runs once for the lot, and
// `native.drain()` hands them over as `[request, failed, value, ...]`. While an adapter has calls
// in flight it holds Node's event loop open; when it has none it lets go, so an adapter never
// keeps a process alive.

let lastRequest = 0

/** One native adapter, its calls in flight, and how its failures become typed errors. */
class Channel {
  /** @param typed - Turns a native failure (its coded reason) into the error to reject with. */
  constructor(typed) {
    this.native = null
    this.inFlight = 0
    this.pending = new Map()
    this.typed = typed
    this.lastStage = 0
    // Called by the native side (a threadsafe function), so it must never throw.
    this.wake = () => this.drain()
  }

  /** A number for a saveSessions batch handed over in chunks (see `stageSessions` in lib.rs). */
  nextStage() {
    this.lastStage = this.lastStage === 0xffffffff ? 1 : this.lastStage + 1
    return this.lastStage
  }

  drain() {
    const finished = this.native.drain()
    const pending = this.pending
    for (let index = 0; index < finished.length; index += 3) {
      const entry = pending.get(finished[index])
      if (entry === undefined) continue
      pending.delete(finished[index])
      const value = finished[index + 2]
      if (finished[index + 1]) {
        entry.reject(this.typed(value))
      } else if (entry.parse === undefined) {
        entry.resolve(value)
      } else {
        try {
          entry.resolve(entry.parse(value, this, finished[index]))
        } catch (error) {
          entry.reject(error)
        }
      }
    }
    if (finished.length > 0) {
      this.inFlight -= finished.length / 3
      if (this.inFlight === 0) this.native.hold(false)
    }
  }
}

/** Text taken from a held batch result per call of `native.take()` (see HOLD_ABOVE_BYTES in lib.rs). */
const TAKE_BYTES = 1 << 20

/**
 * The strings of a batch result, read in order with `at(index)`: an array, or (for a large
 * result, which Rust holds and reports as its count) taken from Rust a chunk at a time, so that
 * making them JS strings is spread over the slices that parse them.
 */
function stringsOf(value, channel, request) {
  if (typeof value !== 'number') return value
  const native = channel.native
  let chunk = []
  let offset = 0
  return {
    length: value,
    at(index) {
      while (index - offset >= chunk.length) {
        offset += chunk.length
        chunk = native.take(request, TAKE_BYTES)
        if (chunk.length === 0)
          throw new Error(`the result of request ${request} ended early (a bug, please report it)`)
      }
      return chunk[index - offset]
    },
    release() {
      native.release(request)
    },
  }
}

/**
 * Calls `start(request)` (which validates input and makes one native call) and returns its
 * promise, resolved with `parse(value, channel, request)` (or `value`). A throw from `start`
 * rejects it, typed.
 */
function request(channel, start, parse) {
  return new Promise((resolve, reject) => {
    lastRequest = lastRequest === 0xffffffff ? 1 : lastRequest + 1
    const id = lastRequest
    try {
      start(id)
    } catch (error) {
      reject(channel.typed(error))
      return
    }
    channel.pending.set(id, { resolve, reject, parse })
    if (channel.inFlight++ === 0) channel.native.hold(true)
  })
}

module.exports = { Channel, request, stringsOf }
