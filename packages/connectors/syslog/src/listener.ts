import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { Framer } from './framing.js';
import { parseSyslog, type RejectReason, type SyslogMessage } from './parse.js';

/** Transports a listener speaks. */
export type Transport = 'udp' | 'tcp';

/** What an indicator watches on a listener: its filter and its counts since its previous read. */
export interface Watch {
  match(m: SyslogMessage): boolean;
  count: number;
  rejects: number;
  last?: string;
}

/** Self-metrics shared by every listener of a session. */
export interface ListenerStats {
  messages: number;
  rejects: number;
  rejects_pri: number;
  rejects_header: number;
  rejects_oversize: number;
  rejects_framing: number;
  tcp_refused: number;
  listen_errors: number;
}

/** Open TCP connections per listener; more are refused (and counted), so memory stays bounded. */
export const MAX_TCP_CONNECTIONS = 256;

const stripMapped = (a: string | undefined) => (a?.startsWith('::ffff:') ? a.slice(7) : (a ?? ''));

/**
 * One socket (UDP) or server (TCP) on bind:port. Every message is parsed once and counted for each
 * watch it matches; a malformed one is a reject for every watch and changes no other count.
 */
export class Listener {
  readonly watches = new Set<Watch>();
  /** Largest message accepted, in bytes (the largest any watch asks for). */
  maxBytes: number;
  /** Why the listener is not listening (bind failed, socket error), until it opens again. */
  error?: string;
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Set<Socket>();

  constructor(
    readonly transport: Transport,
    readonly bind: string,
    readonly port: number,
    maxBytes: number,
    private readonly stats: ListenerStats,
    private readonly now: () => number,
  ) {
    this.maxBytes = maxBytes;
  }

  /** "udp 127.0.0.1:5140", for messages. */
  get name(): string {
    return `${this.transport} ${isIPv6(this.bind) ? `[${this.bind}]` : this.bind}:${this.port}`;
  }

  get open(): boolean {
    return this.udp !== undefined || this.tcp !== undefined;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Parses and counts one message from `peer`. */
  handle(buf: Buffer, peer: string): void {
    if (buf.length > this.maxBytes) return this.reject('oversize');
    const m = parseSyslog(buf.toString('utf8'), peer, this.now());
    if (typeof m === 'string') return this.reject(m);
    this.stats.messages++;
    for (const w of this.watches) {
      if (!w.match(m)) continue;
      w.count++;
      w.last = m.msg;
    }
  }

  /** Counts a malformed message. */
  reject(reason: RejectReason): void {
    this.stats.rejects++;
    this.stats[`rejects_${reason}`]++;
    for (const w of this.watches) w.rejects++;
  }

  /** Binds; on failure `error` says why and the listener stays closed (the next sync retries). */
  async start(): Promise<void> {
    if (this.open) return;
    try {
      if (this.transport === 'udp') this.udp = await this.bindUdp();
      else this.tcp = await this.listenTcp();
      this.error = undefined;
    } catch (err) {
      this.stats.listen_errors++;
      this.error = `cannot listen on ${this.name}: ${(err as Error).message}`;
    }
  }

  private bindUdp(): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: isIPv6(this.bind) ? 'udp6' : 'udp4', recvBufferSize: 1 << 20 });
      s.once('error', (err) => {
        s.close();
        reject(err);
      });
      s.on('message', (msg, rinfo) => this.handle(msg, stripMapped(rinfo.address)));
      s.bind(this.port, this.bind, () => {
        s.removeAllListeners('error');
        s.on('error', (err) => this.fail(err));
        resolve(s);
      });
    });
  }

  private listenTcp(): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.accept(sock));
      server.maxConnections = MAX_TCP_CONNECTIONS;
      server.on('drop', () => this.stats.tcp_refused++);
      server.once('error', reject);
      server.listen(this.port, this.bind, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.fail(err));
        resolve(server);
      });
    });
  }

  private accept(sock: Socket): void {
    const peer = stripMapped(sock.remoteAddress);
    const framer = new Framer(
      this,
      (frame) => this.handle(frame, peer),
      (reason) => this.reject(reason),
    );
    this.conns.add(sock);
    sock.setKeepAlive(true, 60_000);
    sock.on('data', (chunk: Buffer) => framer.push(chunk));
    sock.on('error', () => undefined); // a reset by the sender ends the stream like a close
    sock.on('close', () => {
      this.conns.delete(sock);
      framer.end();
    });
  }

  /** A socket error after binding: close, and let the next sync open again. */
  private fail(err: Error): void {
    this.error = `${this.name}: ${err.message}`;
    void this.stop();
  }

  /** Closes the socket and every connection. Idempotent. */
  async stop(): Promise<void> {
    const { udp, tcp } = this;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp) {
      for (const c of this.conns) c.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  }
}
