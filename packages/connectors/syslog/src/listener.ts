import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { udpKernelDrops, type Containment } from '@probemesh/core';
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
  /** Exceptions while handling a message (contained: they never end the process). */
  rejects_exception: number;
  tcp_refused: number;
  /** Quiet connections closed to make room for a new one. */
  tcp_evicted: number;
  /** Connections closed after `idleTimeoutMs` without data. */
  tcp_idle_closed: number;
  listen_errors: number;
}

/** Bounds of a TCP listener, so that neither many peers nor idle ones can hold it. */
export interface TcpLimits {
  /** Open connections per listener; a new one beyond it replaces the connection quiet the longest. */
  maxConnections: number;
  /** Open connections per peer address; a new one beyond it replaces that peer's quietest. */
  maxPerPeer: number;
  /** A connection without data for this long is closed (senders reconnect when they have news). */
  idleTimeoutMs: number;
}

/** The default TCP bounds: 256 connections, 32 per peer, 5 minutes of silence. */
export const TCP_LIMITS: TcpLimits = { maxConnections: 256, maxPerPeer: 32, idleTimeoutMs: 300_000 };

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
  /** Open connections, quietest first (a connection moves to the end when data arrives). */
  private readonly conns = new Map<Socket, string>();
  private readonly perPeer = new Map<string, number>();

  constructor(
    readonly transport: Transport,
    readonly bind: string,
    readonly port: number,
    maxBytes: number,
    private readonly stats: ListenerStats,
    private readonly contain: Containment,
    private readonly limits: TcpLimits,
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

  /** Datagrams the kernel dropped on the UDP socket because they were not read fast enough (0 for TCP). */
  kernelDrops(): number {
    return this.udp ? (udpKernelDrops(this.bind, this.port) ?? 0) : 0;
  }

  /** Parses and counts one message from `peer`; whatever throws is a contained reject. */
  handle(buf: Buffer, peer: string): void {
    try {
      this.count(buf, peer);
    } catch (err) {
      this.stats.rejects++;
      this.stats.rejects_exception++;
      for (const w of this.watches) w.rejects++;
      this.contain.record(err, `${peer} on ${this.name}`);
    }
  }

  private count(buf: Buffer, peer: string): void {
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
      s.on('message', (msg, rinfo) => this.handle(msg, stripMapped(rinfo.address))); // handle() contains what throws
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
    if (!peer) return void sock.destroy(); // already gone
    // Full (in all, or for this peer): the quietest connection makes room, so idle peers never lock out a sender.
    const peerCount = this.perPeer.get(peer) ?? 0;
    if (peerCount >= this.limits.maxPerPeer || this.conns.size >= this.limits.maxConnections) {
      const quiet = peerCount >= this.limits.maxPerPeer ? [...this.conns].find(([, p]) => p === peer)?.[0] : this.conns.keys().next().value;
      if (!quiet) return void (this.stats.tcp_refused++, sock.destroy());
      this.stats.tcp_evicted++;
      this.forget(quiet);
      quiet.destroy();
    }
    const framer = new Framer(
      this,
      (frame) => this.handle(frame, peer),
      (reason) => this.reject(reason),
    );
    this.conns.set(sock, peer);
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1);
    sock.setKeepAlive(true, 60_000);
    sock.setTimeout(this.limits.idleTimeoutMs, () => {
      this.stats.tcp_idle_closed++;
      sock.destroy();
    });
    sock.on('data', (chunk: Buffer) => {
      if (this.conns.delete(sock)) this.conns.set(sock, peer); // the most recently active goes last
      try {
        framer.push(chunk);
      } catch (err) {
        this.contain.record(err, `${peer} on ${this.name}`);
        sock.destroy();
      }
    });
    sock.on('error', () => undefined); // a reset by the sender ends the stream like a close
    sock.on('close', () => {
      this.forget(sock);
      try {
        framer.end();
      } catch (err) {
        this.contain.record(err, `${peer} on ${this.name}`);
      }
    });
  }

  /** Stops counting a connection against the limits (idempotent). */
  private forget(sock: Socket): void {
    const peer = this.conns.get(sock);
    if (peer === undefined) return;
    this.conns.delete(sock);
    const n = (this.perPeer.get(peer) ?? 1) - 1;
    if (n > 0) this.perPeer.set(peer, n);
    else this.perPeer.delete(peer);
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
      for (const c of [...this.conns.keys()]) c.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  }
}
