// The progress line on stderr: rewritten in place on a terminal, one line per step otherwise.

export class Progress {
  #tty
  #width = 0
  #stream

  constructor(stream = process.stderr) {
    this.#stream = stream
    this.#tty = Boolean(stream.isTTY)
  }

  /** Shows `text` as the current step. */
  update(text) {
    if (!this.#tty) {
      this.#stream.write(`[bench] ${text}\n`)
      return
    }
    const columns = this.#stream.columns || 120
    const line = `[bench] ${text}`.slice(0, columns - 1)
    this.#stream.write(`\r${line}${' '.repeat(Math.max(0, this.#width - line.length))}`)
    this.#width = line.length
  }

  /** A line that stays (a notice), without disturbing the progress line. */
  note(text) {
    this.clear()
    this.#stream.write(`[bench] ${text}\n`)
  }

  /** Removes the progress line (before the final output). */
  clear() {
    if (this.#tty && this.#width > 0) this.#stream.write(`\r${' '.repeat(this.#width)}\r`)
    this.#width = 0
  }
}
