import type { Socket } from 'node:dgram';
import { containedDgram, type SnmpUser } from '@probemesh/connector-snmp';
import { udpKernelDrops, type Containment } from '@probemesh/core';
import type { Datum } from '@probemesh/model';
import type { Notification, Receiver, User, Varbind } from 'net-snmp';
import snmp from 'net-snmp';
import { datumOf, toTrap, under, type Trap } from './notification.js';
import type { TrapMeasure } from './schema.js';

/** One indicator's view of a listener: which traps it selects and what it has seen since its last read. */
export interface Watch {
  readonly indicator: string;
  /** The indicator's parameters as JSON: any change makes a new watch. */
  readonly key: string;
  readonly measure: TrapMeasure;
  readonly address: string;
  readonly port: number;
  readonly trapOid?: string;
  readonly varbind?: string;
  readonly agent?: string;
  readonly communities: ReadonlySet<string>;
  readonly users: ReadonlyMap<string, SnmpUser>;
  /** Lowercase hex without 0x. */
  readonly engineID?: string;
  /** count / rejects since the previous read. */
  pending: number;
  /** kernel_drops: the socket's drop counter at the previous read. */
  drops: number;
  /** last_value / last_trap_oid of the newest matching trap. */
  last?: Datum;
  /** When a sync or read last named it (clock ms). */
  named: number;
  /** A configuration problem that keeps it from watching (reported by read). */
  problem?: string;
  listener?: TrapListener;
}

/** Counters shared by all listeners of a session (its `stats()`). */
export interface TrapCounts {
  datagrams: number;
  traps: number;
  informs: number;
  matched: number;
  unmatched: number;
  rejects: number;
  rejects_auth: number;
  rejects_garbage: number;
  /** Exceptions thrown while handling a datagram (contained: they never end the process). */
  rejects_exception: number;
  /** Informs acknowledged with NULL in place of values net-snmp cannot re-encode. */
  acks_repaired: number;
  /** Informs sent again because our acknowledgement was lost: acknowledged again, counted once. */
  duplicates: number;
  bind_errors: number;
}

/** What a listener tells its session. */
export interface ListenerHooks {
  counts: TrapCounts;
  /** Where exceptions thrown while handling a datagram go instead of ending the process. */
  contain: Containment;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  /** The listener stopped for good (closed, or failed to bind / lost its socket): forget it. */
  closed(listener: TrapListener): void;
}

const authProtocols = { MD5: 'md5', SHA: 'sha', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;
const privProtocols = { DES: 'des', AES: 'aes', 'AES-256-B': 'aes256b', 'AES-256-R': 'aes256r' } as const;

/** A schema-checked user as net-snmp's authorizer wants it. */
function usmUser(u: SnmpUser): User {
  return {
    name: u.name,
    level: snmp.SecurityLevel[u.level],
    ...(u.level !== 'noAuthNoPriv' && u.authProtocol ? { authProtocol: snmp.AuthProtocols[authProtocols[u.authProtocol]], authKey: u.authKey! } : {}),
    ...(u.level === 'authPriv' && u.privProtocol ? { privProtocol: snmp.PrivProtocols[privProtocols[u.privProtocol]], privKey: u.privKey! } : {}),
  };
}

/** usmStats report OIDs a receiver answers a refused v3 inform with; .4 (unknownEngineID) is ordinary discovery. */
const USM_STATS = '1.3.6.1.6.3.15.1.1.';
const USM_REFUSALS: Record<string, string> = { '1': 'unsupported security level', '2': 'not in time window', '3': 'unknown user name', '5': 'wrong digest', '6': 'decryption error' };

/** The part of a net-snmp message that the reply guard reads and rewrites. */
interface Reply {
  pdu?: { type?: number; varbinds?: Varbind[] };
  buffer: Buffer | null;
  toBuffer(): Buffer;
}

/** Whether net-snmp can encode `vb` in `message` (tried alone; the message is left as it was). */
function encodes(message: Reply, vb: Varbind): boolean {
  const { pdu } = message;
  const all = pdu!.varbinds;
  try {
    pdu!.varbinds = [vb];
    message.buffer = null;
    message.toBuffer();
    return true;
  } catch {
    return false;
  } finally {
    pdu!.varbinds = all;
    message.buffer = null;
  }
}

/** How many recent informs are remembered to recognise a retransmission. */
const RECENT_INFORMS = 1024;

/** `address:port` as people write it. */
export const where = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;

/**
 * One net-snmp receiver on one address and port, shared by every watch naming them. Its
 * authorizer holds the union of their communities and users; each accepted trap is offered to
 * every watch, and each refused datagram counts as a reject.
 */
export class TrapListener {
  readonly watches = new Set<Watch>();
  state: 'opening' | 'open' | 'failed' | 'closed' = 'opening';
  /** Why it failed, with what to do. */
  error?: string;
  errorCode?: string;
  /** Resolves once bound, or once binding failed (never rejects). */
  readonly ready: Promise<void>;
  private readonly receiver: Receiver;
  private socket?: Socket;
  private settle!: () => void;
  private readonly installed = { communities: new Set<string>(), users: new Map<string, string>() };
  /** Sender and request-id of recent informs (insertion-ordered, oldest first). */
  private readonly recentInforms = new Set<string>();

  constructor(
    readonly address: string,
    readonly port: number,
    /** The receiver's engine ID (hex), or undefined for a random one. */
    readonly engineID: string | undefined,
    private readonly hooks: ListenerHooks,
  ) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
    const transport = address.includes(':') ? 'udp6' : 'udp4';
    // Sockets come through a guarded dgram factory: we count every datagram and see `listening`,
    // and whatever net-snmp (or our callback) throws while handling a datagram is contained.
    const dgramModule = containedDgram(
      (err, rinfo) => this.contained(err, rinfo.address),
      (s) => {
        this.socket = s;
        s.on('message', () => hooks.counts.datagrams++);
        s.once('listening', () => {
          if (this.state !== 'opening') return;
          this.state = 'open';
          hooks.log('info', `trap: listening on ${where(address, port)}`);
          this.settle();
        });
      },
    );
    this.receiver = snmp.createReceiver(
      { port, address, transport, includeAuthentication: true, dgramModule, ...(engineID ? { engineID } : {}) },
      (err, n) => (err ? this.onError(err) : n && this.onNotification(n)),
    );
    this.guardReplies();
  }

  get where(): string {
    return where(this.address, this.port);
  }

  /** Adds a watch; returns why it cannot share this listener (engine ID or user conflict), leaving nothing changed. */
  add(w: Watch): string | undefined {
    if (w.engineID && w.engineID !== this.engineID) {
      return `${this.where} already listens with ${this.engineID ? `engine ID ${this.engineID}` : 'a random engine ID'}; every trap indicator on one port must name the same engineID`;
    }
    for (const [name, u] of w.users) {
      for (const other of this.watches) {
        const o = other.users.get(name);
        if (o && JSON.stringify(o) !== JSON.stringify(u)) return `user '${name}' is configured differently by indicator ${other.indicator} on ${this.where}; give both the same keys`;
      }
    }
    this.watches.add(w);
    w.listener = this;
    w.drops = this.kernelDrops();
    this.syncAuthorizer();
    return undefined;
  }

  /** Datagrams the kernel dropped on this listener's socket because the probe did not read them fast enough. */
  kernelDrops(): number {
    return this.state === 'open' ? (udpKernelDrops(this.address, this.port) ?? 0) : 0;
  }

  /** Removes a watch; the session closes the listener once none is left. */
  remove(w: Watch): void {
    if (!this.watches.delete(w)) return;
    w.listener = undefined;
    this.syncAuthorizer();
  }

  /** Makes the authorizer hold exactly the communities and users the watches name. */
  private syncAuthorizer(): void {
    const auth = this.receiver.getAuthorizer();
    const communities = new Set<string>();
    const users = new Map<string, SnmpUser>();
    for (const w of this.watches) {
      for (const c of w.communities) communities.add(c);
      for (const [n, u] of w.users) users.set(n, u);
    }
    for (const c of this.installed.communities) if (!communities.has(c)) auth.deleteCommunity(c);
    for (const c of communities) if (!this.installed.communities.has(c)) auth.addCommunity(c);
    for (const n of this.installed.users.keys()) if (!users.has(n)) auth.deleteUser(n);
    for (const [n, u] of users) {
      const text = JSON.stringify(u);
      if (this.installed.users.get(n) !== text) auth.addUser(usmUser(u)); // addUser replaces a same-named one
    }
    this.installed.communities = communities;
    this.installed.users = new Map([...users].map(([n, u]) => [n, JSON.stringify(u)]));
  }

  private onNotification(n: Notification): void {
    const trap = toTrap(n);
    if (!trap) return this.reject('garbage', n.rinfo.address, 'a v2 notification without snmpTrapOID.0');
    const c = this.hooks.counts;
    if (trap.inform) {
      // A sender whose acknowledgement was lost sends the same inform again (same request-id).
      const key = `${n.rinfo.address}|${n.rinfo.port}|${n.pdu.id}`;
      if (this.recentInforms.has(key)) return void c.duplicates++;
      this.recentInforms.add(key);
      if (this.recentInforms.size > RECENT_INFORMS) this.recentInforms.delete(this.recentInforms.values().next().value!);
      c.informs++;
    } else c.traps++;
    let matched = false;
    for (const w of this.watches) {
      if (w.problem || w.measure === 'rejects' || w.measure === 'kernel_drops') continue;
      const vb = select(w, trap);
      if (vb === undefined) continue;
      matched = true;
      switch (w.measure) {
        case 'count':
          w.pending++;
          break;
        case 'last_trap_oid':
          w.last = trap.oid;
          break;
        case 'last_value': {
          const d = vb === true ? undefined : datumOf(vb);
          if (d !== undefined) w.last = d;
          break;
        }
      }
    }
    if (matched) c.matched++;
    else c.unmatched++;
  }

  /** A datagram the receiver refused (it names its sender), or a socket error (it does not). */
  private onError(err: Error & { rinfo?: { address: string; port: number }; code?: string }): void {
    if (err.rinfo) {
      const garbage = err.name === 'ProcessingError' || err.name === 'RequestInvalidError';
      return this.reject(garbage ? 'garbage' : 'auth', err.rinfo.address, err.message);
    }
    this.fail(err);
  }

  /** An exception thrown while handling a datagram from `from`: a reject, logged by the containment. */
  private contained(err: unknown, from: string): void {
    this.reject('exception', from, String(err));
    this.hooks.contain.record(err, `${from} on ${this.where}`);
  }

  private reject(kind: 'auth' | 'garbage' | 'exception', from: string, why: string): void {
    const c = this.hooks.counts;
    c.rejects++;
    c[`rejects_${kind}`]++;
    for (const w of this.watches) if (w.measure === 'rejects' && !w.problem) w.pending++;
    this.hooks.log('debug', `trap: refused a datagram from ${from} on ${this.where}: ${why}`);
  }

  /**
   * Guards what the receiver sends back. A refused v3 inform is answered with a usmStats report and
   * never reaches the callback: count those reports as rejects. An inform's acknowledgement is the
   * inform re-encoded as a response, and net-snmp's encoder throws on values its decoder accepts
   * (a BIT STRING, an INTEGER beyond 32 bits): acknowledge such an inform with those values as
   * NULL, which senders accept (they match the request-id), rather than let the throw end the
   * process. (Reaches into net-snmp's listener, so guarded: without it the socket guard still
   * contains the throw, and the inform goes unacknowledged.)
   */
  private guardReplies(): void {
    const listener = (this.receiver as unknown as { listener?: { send?: (m: Reply, rinfo: { address: string }, s: unknown) => void } }).listener;
    const send = listener?.send;
    if (!listener || typeof send !== 'function') return;
    listener.send = (message, rinfo, socket) => {
      const oid = message.pdu?.varbinds?.[0]?.oid;
      const code = oid?.startsWith(USM_STATS) ? oid.slice(USM_STATS.length).split('.')[0]! : undefined;
      if (code && USM_REFUSALS[code]) this.reject('auth', rinfo.address, `SNMPv3 ${USM_REFUSALS[code]}`);
      try {
        send.call(listener, message, rinfo, socket);
      } catch (err) {
        const pdu = message.pdu;
        const varbinds = pdu?.varbinds;
        if (!pdu || !varbinds || pdu.type !== snmp.PduType.GetResponse) throw err;
        this.hooks.counts.acks_repaired++;
        this.hooks.log('warn', `trap: the inform from ${rinfo.address} carries a value net-snmp cannot echo (${String(err)}); acknowledged with it as NULL`);
        try {
          pdu.varbinds = varbinds.map((vb) => (encodes(message, vb) ? vb : { oid: vb.oid, type: snmp.ObjectType.Null!, value: null }));
          message.buffer = null;
          send.call(listener, message, rinfo, socket);
        } finally {
          pdu.varbinds = varbinds; // the callback reads the inform as it came
          message.buffer = null;
        }
      }
    };
  }

  /** Binding failed or the socket broke: say why, close, and let the session forget us (the next sync binds again). */
  private fail(err: Error & { code?: string }): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    const opening = this.state === 'opening';
    this.state = 'failed';
    this.errorCode = err.code;
    const hint =
      err.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
      : err.code === 'EADDRINUSE' ? ' (another process, snmptrapd perhaps, or another listener holds it)'
      : err.code === 'EADDRNOTAVAIL' ? ' (no interface of this host has that address)'
      : '';
    this.error = `cannot ${opening ? 'listen on' : 'keep listening on'} ${this.where}: ${err.message}${hint}`;
    this.hooks.counts.bind_errors++;
    this.hooks.log(opening ? 'warn' : 'error', `trap: ${this.error}`);
    this.closeReceiver();
    this.settle();
    this.hooks.closed(this);
  }

  private closeReceiver(): void {
    try {
      this.receiver.close();
    } catch {
      // a socket that never bound cannot be closed again
    }
  }

  /** Stops listening; resolves once the port is free. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.settle();
    for (const w of this.watches) w.listener = undefined;
    this.watches.clear();
    this.hooks.closed(this);
    if (wasOpen && this.socket) {
      await new Promise<void>((resolve) => {
        this.socket!.once('close', () => resolve());
        this.closeReceiver();
      });
      this.hooks.log('info', `trap: stopped listening on ${this.where}`);
    } else this.closeReceiver();
  }
}

/**
 * Whether a watch selects a trap: accepted with one of its communities or users, with its trap
 * OID, from its agent, carrying its varbind. Returns that varbind (or `true` without one), or
 * undefined when it does not select the trap.
 */
function select(w: Watch, t: Trap): Varbind | true | undefined {
  if (t.community !== undefined ? !w.communities.has(t.community) : !w.users.has(t.user ?? '')) return undefined;
  if (w.trapOid !== undefined && t.oid !== w.trapOid) return undefined;
  if (w.agent !== undefined && t.agent !== w.agent) return undefined;
  if (w.varbind === undefined) return true;
  return t.varbinds.find((vb) => under(w.varbind!, vb.oid));
}
