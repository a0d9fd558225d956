import { defineConnector, failure, type ConnectorContext, type ConnectorSession, type Reading, type ReadRequest, type Sample } from '@probemesh/core';
import { Defaults, filterOf, pcapParams, type PcapParams } from './schema.js';
import { codeOf, loadNative, type Handle, type Native } from './native.js';

/** TPACKET_V3 block retire timeout: how stale a reading can be at most on a quiet link. */
const BLOCK_TIMEOUT_MS = 50;
/** The kernel filter of a capture only read for its drop counters: lets nothing into the ring. */
const NOTHING = 'ip and not ip';

/** Options of a pcap connector instance. */
export interface PcapOptions {
  /** Largest ring an indicator may ask for, in MB (default 128). */
  maxBufferMb?: number;
  /**
   * A filter the probe's syncs (the union of every rule's requests) no longer name is closed after
   * this long, or 3× its gap between uses when longer (default 0: only the gap rule).
   */
  idleMs?: number;
}

interface Use {
  last: number;
  gap: number;
}
/** Counter values at the start of an indicator's window. */
interface Mark {
  t: number;
  packets: number;
  bytes: number;
  kernelDrops: number;
  processDrops: number;
}
interface Slot {
  id: number;
  expr: string;
  since: number;
  used: Use;
  windows: Map<string, Mark>;
}
interface Capture {
  iface: string;
  handle: Handle;
  since: number;
  used: Use;
  slots: Map<string, Slot>;
  windows: Map<string, Mark>;
  kernel?: string;
  dirty: boolean;
}
/** What one request needs: a capture (interface × ring settings) and, unless it reads drops, a filter on it. */
interface Plan {
  capKey: string;
  slotKey?: string;
  expr: string;
  hosts: number;
  p: PcapParams;
}
interface Counts {
  seen: number;
  kernelDrops: number;
  ifDrops: number;
  processDrops: number;
  slots: Map<number, [number, number]>;
}

function plan(req: ReadRequest<PcapParams>): Plan {
  const p = req.params;
  const capKey = [p.interface, p.snaplen ?? Defaults.snaplen, p.bufferMb ?? Defaults.bufferMb, p.promiscuous ? 'promisc' : ''].join('\u0000');
  const expr = filterOf(p);
  const drops = p.measure === 'kernel_drops' || p.measure === 'process_drops';
  const hosts = p.kind === 'top_talkers' ? (p.maxHosts ?? Defaults.maxHosts) : 0;
  // A top-talker table is emptied by each reading, so each indicator has its own.
  const slotKey = drops ? undefined : hosts ? `hosts\u0000${req.indicator}\u0000${hosts}\u0000${expr}` : expr;
  return { capKey, ...(slotKey === undefined ? {} : { slotKey }), expr, hosts, p };
}

function touch(u: Use, now: number): void {
  u.gap = Math.max(u.gap, now - u.last);
  u.last = now;
}

function openFailure(iface: string, err: unknown): Reading {
  const msg = (err as Error).message;
  switch (codeOf(err)) {
    case 'ENODEV':
      return failure('not-found', `pcap: no such interface '${iface}'`, true);
    case 'EPERM':
      return failure('refused', `pcap: not allowed to capture on '${iface}' (needs root or CAP_NET_RAW): ${msg}`);
    case 'ENETDOWN':
      return failure('unreachable', `pcap: interface '${iface}' is down`);
    default:
      return failure('unreachable', `pcap: cannot capture on '${iface}': ${msg}`);
  }
}

/** One running pcap connector: captures by interface, counted filters on each, windows per indicator. */
class PcapSession implements ConnectorSession<PcapParams> {
  private readonly captures = new Map<string, Capture>();
  private readonly reported = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly native: Native,
    private readonly idleMs: number,
  ) {}

  async sync(requests: ReadonlyArray<ReadRequest<PcapParams>>): Promise<void> {
    const now = this.ctx.clock.now();
    const opened = new Map<string, Reading>();
    for (const req of requests) this.ensure(plan(req), now, opened);
    this.settle(now);
  }

  async read(requests: ReadonlyArray<ReadRequest<PcapParams>>, signal: AbortSignal): Promise<Reading[]> {
    if (signal.aborted) return requests.map(() => failure('timeout', `pcap: ${String(signal.reason ?? 'aborted')}`));
    const now = this.ctx.clock.now();
    const opened = new Map<string, Reading>();
    const plans = requests.map((req) => {
      const pl = plan(req);
      return { req, pl, at: this.ensure(pl, now, opened) };
    });
    this.settle(now);
    const counts = new Map<Capture, Counts | Reading>();
    return plans.map(({ req, pl, at }) => {
      if ('ok' in at) return at;
      let c = counts.get(at.cap);
      if (!c) counts.set(at.cap, (c = this.counts(at.cap, pl.capKey)));
      if ('ok' in c) return c;
      return this.reading(req, pl, at.cap, at.slot, c, now);
    });
  }

  stats(): Record<string, number> {
    const out = { captures: this.captures.size, filters: 0, packets: 0, kernel_drops: 0, interface_drops: 0, process_drops: 0, capture_cpu_ms: 0 };
    for (const cap of this.captures.values()) {
      out.filters += cap.slots.size;
      try {
        const c = this.native.counters(cap.handle);
        out.packets += c[0]!;
        out.kernel_drops += c[1]!;
        out.interface_drops += c[2]!;
        out.process_drops += c[3]!;
        out.capture_cpu_ms += this.native.cpuMs(cap.handle);
      } catch {
        // an ended capture is reported (and reopened) by the next read
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cap of this.captures.values()) this.native.close(cap.handle);
    this.captures.clear();
  }

  /** Opens what `pl` needs if it is not open yet; a failed Reading says why not. */
  private ensure(pl: Plan, now: number, failed: Map<string, Reading>): { cap: Capture; slot?: Slot } | Reading {
    if (this.stopped) return failure('unreachable', 'pcap: connector stopped');
    const iface = pl.p.interface;
    let cap = this.captures.get(pl.capKey);
    if (!cap) {
      const known = failed.get(pl.capKey);
      if (known) return known;
      try {
        const bufferMb = pl.p.bufferMb ?? Defaults.bufferMb;
        const handle = this.native.open(iface, pl.p.snaplen ?? Defaults.snaplen, bufferMb * 1024 * 1024, BLOCK_TIMEOUT_MS, pl.p.promiscuous ?? false);
        cap = { iface, handle, since: now, used: { last: now, gap: 0 }, slots: new Map(), windows: new Map(), dirty: true };
        this.captures.set(pl.capKey, cap);
        this.ctx.log('info', `pcap: capturing on ${iface}`, { ...this.native.info(handle), bufferMb });
      } catch (err) {
        const r = openFailure(iface, err);
        failed.set(pl.capKey, r);
        this.report(pl.capKey, r);
        return r;
      }
    }
    touch(cap.used, now);
    if (pl.slotKey === undefined) return { cap };
    let slot = cap.slots.get(pl.slotKey);
    if (!slot) {
      try {
        const id = this.native.addFilter(cap.handle, pl.expr, pl.hosts);
        slot = { id, expr: pl.expr, since: now, used: { last: now, gap: 0 }, windows: new Map() };
        cap.slots.set(pl.slotKey, slot);
        cap.dirty = true;
      } catch (err) {
        const r = failure('config', `pcap: bad BPF filter "${pl.expr}" on ${iface}: ${(err as Error).message}`);
        this.report(`${pl.capKey}\u0000${pl.slotKey}`, r);
        return r;
      }
    }
    touch(slot.used, now);
    return { cap, slot };
  }

  /** Closes what has gone unused, and lets into each ring exactly what its filters count. */
  private settle(now: number): void {
    const idle = (u: Use) => now - u.last > Math.max(this.idleMs, 3 * u.gap);
    for (const [key, cap] of this.captures) {
      for (const [sk, slot] of cap.slots) {
        if (!idle(slot.used)) continue;
        this.native.removeFilter(cap.handle, slot.id);
        cap.slots.delete(sk);
        cap.dirty = true;
      }
      if (cap.slots.size === 0 && idle(cap.used)) {
        this.native.close(cap.handle);
        this.captures.delete(key);
        this.ctx.log('info', `pcap: stopped capturing on ${cap.iface} (unused)`);
        continue;
      }
      if (!cap.dirty) continue;
      cap.dirty = false;
      const exprs = [...new Set([...cap.slots.values()].map((s) => s.expr))];
      const kernel = exprs.length === 0 ? NOTHING : exprs.includes('') ? '' : exprs.map((e) => `(${e})`).join(' or ');
      if (kernel === cap.kernel) continue;
      try {
        this.native.setKernelFilter(cap.handle, kernel);
        cap.kernel = kernel;
      } catch (err) {
        // Each part compiled alone; should their union not, the ring takes everything and userland filters.
        this.ctx.log('warn', `pcap: kernel filter on ${cap.iface} refused (${(err as Error).message}); filtering in the probe`);
        this.native.setKernelFilter(cap.handle, '');
        cap.kernel = '';
      }
    }
  }

  private counts(cap: Capture, capKey: string): Counts | Reading {
    let a: Float64Array;
    try {
      a = this.native.counters(cap.handle);
    } catch (err) {
      // The capture thread ended (the interface went away …): close it; the next read reopens.
      this.native.close(cap.handle);
      this.captures.delete(capKey);
      return failure('unreachable', `pcap: capture on '${cap.iface}' stopped: ${(err as Error).message}`, true);
    }
    const slots = new Map<number, [number, number]>();
    for (let i = 4; i + 2 < a.length; i += 3) slots.set(a[i]!, [a[i + 1]!, a[i + 2]!]);
    return { seen: a[0]!, kernelDrops: a[1]!, ifDrops: a[2]!, processDrops: a[3]!, slots };
  }

  /** One indicator's reading over its window: the time since its previous reading (or since its filter opened). */
  private reading(req: ReadRequest<PcapParams>, pl: Plan, cap: Capture, slot: Slot | undefined, c: Counts, now: number): Reading {
    const [packets, bytes] = slot ? (c.slots.get(slot.id) ?? [0, 0]) : [0, 0];
    const cur: Mark = { t: now, packets, bytes, kernelDrops: c.kernelDrops, processDrops: c.processDrops };
    const windows = slot?.windows ?? cap.windows;
    const wk = slot ? req.indicator : `${req.indicator}\u0000${pl.p.measure}`;
    const prev = windows.get(wk) ?? { t: slot?.since ?? cap.since, packets: 0, bytes: 0, kernelDrops: 0, processDrops: 0 };
    windows.set(wk, cur);
    const secs = (now - prev.t) / 1000;
    const per = (x: number) => (secs > 0 ? x / secs : 0);
    const value = (pk: number, by: number): number => {
      switch (pl.p.measure) {
        case 'packets':
          return pk;
        case 'bytes':
          return by;
        case 'pps':
          return per(pk);
        case 'bps':
          return per(by * 8);
        case 'kernel_drops':
          return cur.kernelDrops - prev.kernelDrops;
        case 'process_drops':
          return cur.processDrops - prev.processDrops;
      }
    };
    if (slot && pl.hosts) {
      const byBytes = pl.p.measure === 'bytes' || pl.p.measure === 'bps';
      const rows = this.native.takeHosts(cap.handle, slot.id, pl.p.top ?? Defaults.top, byBytes);
      return { ok: true, samples: rows.map(([addr, pk, by]): Sample => ({ datum: value(pk, by), instance: addr })) };
    }
    return { ok: true, samples: [{ datum: value(packets - prev.packets, bytes - prev.bytes) }] };
  }

  /** Logs a failure once per cause, not once per tick. */
  private report(key: string, r: Reading): void {
    if (r.ok || this.reported.get(key) === r.error) return;
    this.reported.set(key, r.error);
    this.ctx.log('warn', r.error);
  }
}

/** A pcap connector whose indicators may ask for rings up to `maxBufferMb`. */
export function createPcapConnector(opts: PcapOptions = {}) {
  const maxBufferMb = opts.maxBufferMb ?? Defaults.maxBufferMb;
  return defineConnector({
    scheme: 'pcap',
    summary: 'packets, bytes and rates per BPF filter (total, broadcast, multicast, ip, tcp, udp, a port, top talkers) from a continuous capture, with kernel and process drops',
    params: pcapParams(maxBufferMb),
    perDevice: false,
    counters: ['packets', 'kernel_drops', 'interface_drops', 'process_drops', 'capture_cpu_ms'],
    start: (ctx) => new PcapSession(ctx, loadNative(), opts.idleMs ?? 0),
  });
}

/** The `pcap` connector with default options (rings up to 128 MB). */
export const pcapConnector = createPcapConnector();
