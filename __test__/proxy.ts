// A TCP proxy in front of a real PostgreSQL that reads the frontend's wire protocol: it counts the
// messages the adapter sends (Parse 'P', Bind 'B', Execute 'E', Sync 'S', simple Query 'Q'), can
// cut every connection, and can go silent (every socket stays open, no byte passes either way), as
// a NAT or load balancer that lost its state does, so tests can break real connections.
import net from 'node:net'

/** One proxied connection; a silenced one never forwards again, even after `forward()`. */
interface Pair {
  client: net.Socket
  upstream: net.Socket | null
  silenced: boolean
}

export class WireProxy {
  readonly counts = new Map<string, number>()
  /** Bytes the server sent to clients since the last reset. */
  serverBytes = 0
  private server: net.Server
  private sockets = new Set<net.Socket>()
  private pairs = new Set<Pair>()
  private silent = false
  port = 0

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client))
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  /** Messages of one type sent by clients since the last reset. */
  count(type: string): number {
    return this.counts.get(type) ?? 0
  }

  reset(): void {
    this.counts.clear()
    this.serverBytes = 0
  }

  /** Connections accepted and not yet closed (silenced ones included). */
  get openConnections(): number {
    return this.pairs.size
  }

  /**
   * Goes silent: every open connection stays open but forwards nothing in either direction (from
   * now on, for good), and new connections are accepted and then never answered.
   */
  silence(): void {
    this.silent = true
    for (const pair of this.pairs) pair.silenced = true
  }

  /** Forwards new connections again; the connections silenced earlier stay silent. */
  forward(): void {
    this.silent = false
  }

  /** Destroys every proxied connection (both directions), as a network failure would. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    this.pairs.clear()
  }

  async stop(): Promise<void> {
    this.cutAll()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: net.Socket): void {
    const pair: Pair = { client, upstream: null, silenced: this.silent }
    this.pairs.add(pair)
    this.sockets.add(client)
    const close = () => {
      client.destroy()
      pair.upstream?.destroy()
      this.sockets.delete(client)
      if (pair.upstream) this.sockets.delete(pair.upstream)
      this.pairs.delete(pair)
    }
    client.on('error', close)
    client.on('close', close)
    if (pair.silenced) {
      // Accepted while silent: hold the socket open and never answer it.
      client.on('data', () => {})
      return
    }
    const upstream = net.connect(this.targetPort, this.targetHost)
    pair.upstream = upstream
    this.sockets.add(upstream)
    let buffer = Buffer.alloc(0)
    let started = false
    client.on('data', (chunk) => {
      if (pair.silenced) return
      buffer = Buffer.concat([buffer, chunk])
      // The startup packet has no type byte; every later frontend message is type + int32 length.
      for (;;) {
        if (!started) {
          if (buffer.length < 4) break
          const length = buffer.readInt32BE(0)
          if (buffer.length < length) break
          buffer = buffer.subarray(length)
          started = true
          continue
        }
        if (buffer.length < 5) break
        const length = buffer.readInt32BE(1)
        if (buffer.length < length + 1) break
        const type = String.fromCharCode(buffer[0])
        this.counts.set(type, (this.counts.get(type) ?? 0) + 1)
        buffer = buffer.subarray(length + 1)
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (pair.silenced) return
      this.serverBytes += chunk.length
      client.write(chunk)
    })
    upstream.on('error', close)
    upstream.on('close', close)
  }
}
