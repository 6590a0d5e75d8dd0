// A TCP proxy in front of a real PostgreSQL that reads the frontend's wire protocol: it counts the
// messages the adapter sends (Parse 'P', Bind 'B', Execute 'E', Sync 'S', simple Query 'Q') and can
// cut every connection, so tests can assert round trips and break real connections.
import net from 'node:net'

export class WireProxy {
  readonly counts = new Map<string, number>()
  private server: net.Server
  private sockets = new Set<net.Socket>()
  port = 0

  constructor(private readonly targetHost: string, private readonly targetPort: number) {
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
  }

  /** Destroys every proxied connection (both directions), as a network failure would. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
  }

  async stop(): Promise<void> {
    this.cutAll()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost)
    this.sockets.add(client)
    this.sockets.add(upstream)
    let buffer = Buffer.alloc(0)
    let started = false
    client.on('data', (chunk) => {
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
    upstream.on('data', (chunk) => client.write(chunk))
    const close = () => {
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    client.on('error', close)
    upstream.on('error', close)
    client.on('close', close)
    upstream.on('close', close)
  }
}
