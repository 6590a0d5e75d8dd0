'use strict'
// Large batches are serialized and parsed a slice at a time: after SLICE_MS of work the loop
// yields to the event loop (setImmediate) and resumes, so a 1,000-session batch never blocks the
// JS thread for long. A small batch runs in one go, with no added latency.

/** Longest run of batch work between two turns of the event loop, in ms. */
const SLICE_MS = 4

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs `step(index)` for index 0, 1, ... `count - 1`, then returns `finish()`: synchronously when
 * it all fits in one slice, else a promise of it. `cleanup()`, when given, runs at the end either
 * way (after a throw too).
 */
function inSlices(count, step, finish, cleanup) {
  let index = 0
  const run = () => {
    const started = performance.now()
    try {
      while (index < count) {
        step(index++)
        if (index < count && performance.now() - started > SLICE_MS) return nextTurn().then(run)
      }
    } catch (error) {
      cleanup?.()
      throw error
    }
    cleanup?.()
    return finish()
  }
  return run()
}

module.exports = { inSlices }
