import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { arpRequest, dhcpDiscover, NOBODY_MAC, pcapHeader, pcapRecord, rawFrame, udpFrame } from './frames.js';

/** Web requests and frames per second at the busiest hour of the day. */
export interface TrafficRates {
  /** HTTP GETs to the network's web server, one connection each. */
  web: number;
  /** Broadcast frames: ARP requests and DHCP-like discovers, alternately. */
  broadcast: number;
  /** Other IPv4 frames (UDP, 64 to 1400 bytes) to an address nobody holds. */
  ip: number;
  /** Frames that are not IP (EtherType 0x88b5). */
  nonIp: number;
}

/** How busy a site is at `hour` (0–24) as a fraction of its peak: 0.2 at night, rising from 7:00 to 1 at 14:00, back to 0.2 at 21:00. */
export function dayProfile(hour: number): number {
  const h = ((hour % 24) + 24) % 24;
  return h < 7 || h > 21 ? 0.2 : 0.2 + 0.8 * Math.sin((Math.PI * (h - 7)) / 14);
}

/** A traffic source on one interface of a network. */
export interface TrafficOptions {
  iface: string;
  mac: string;
  address: string;
  /** Where web requests go. */
  web: { host: string; port?: number; path?: string };
  /** An address of the network nobody holds: ARP requests ask for it, other IP frames go to it (MAC `NOBODY_MAC`). */
  nobody: string;
  peak: TrafficRates;
  /** Real milliseconds per simulated day (default 86,400,000: real time). */
  dayMs?: number;
  /** Hour of the simulated day at start (default: the wall clock's, UTC). */
  startHour?: number;
  /** Start without background traffic (bursts still go out) until `resume()`. */
  paused?: boolean;
}

/** Frames of one kind put on the wire. */
export interface Sent {
  packets: number;
  /** Frame bytes without the FCS. */
  bytes: number;
}

/** Everything a traffic source sent since it started. */
export interface TrafficLedger {
  web: { requests: number; failed: number; bytes: number };
  broadcast: Sent;
  ip: Sent;
  nonIp: Sent;
}

/** Extra traffic sent at once (a test's known amounts, a broadcast storm). */
export type Burst = Partial<Record<keyof TrafficRates, number>>;

export interface TrafficSource {
  /** The simulated hour of the day (0–24). */
  hour(): number;
  ledger(): TrafficLedger;
  /** Sends a burst; resolves once every frame is on the wire and every request answered, with the ledger then. */
  send(burst: Burst): Promise<TrafficLedger>;
  /** Stops the background traffic; resolves once what was under way is on the wire. */
  pause(): Promise<TrafficLedger>;
  resume(): void;
  stop(): Promise<void>;
}

const TICK_MS = 250;
const MAX_WEB_IN_FLIGHT = 32;
const IP_SIZES = [64, 128, 256, 512, 1024, 1400];
const NON_IP_SIZES = [64, 128, 512];

/** Feeds frames to one long-running `tcpreplay --topspeed -i <iface> -`; `flush` ends it and checks its count. */
class Replayer {
  private child?: ChildProcess;
  private exited?: Promise<string>;
  private written = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly iface: string) {}

  write(frames: Buffer[]): void {
    if (frames.length === 0) return;
    if (!this.child) {
      const child = spawn('tcpreplay', ['-q', '--topspeed', '-i', this.iface, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b));
      child.stderr!.on('data', (b: Buffer) => (out += b));
      child.stdin!.on('error', () => undefined); // an early exit shows in flush()
      child.once('error', (e) => (out += `\n${e.message}`)); // not installed: flush() says so
      this.exited = new Promise((resolve) => child.once('close', () => resolve(out)));
      child.stdin!.write(pcapHeader());
      this.child = child;
      this.written = 0;
    }
    const now = Date.now();
    this.child.stdin!.write(Buffer.concat(frames.map((f) => pcapRecord(f, now))));
    this.written += frames.length;
  }

  /** Waits until every frame written so far is sent; throws when tcpreplay sent fewer. */
  flush(): Promise<void> {
    const run = this.chain.then(async () => {
      const child = this.child;
      if (!child) return;
      const [written, exited] = [this.written, this.exited!];
      this.child = undefined;
      child.stdin!.end();
      const out = await exited;
      const sent = Number(/Successful packets:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      if (sent !== written) throw new Error(`tcpreplay on ${this.iface} sent ${sent} of ${written} frames: ${out.trim()}`);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
  }
}

/**
 * Starts a traffic source: web requests to the network's web server, broadcast (ARP, DHCP-like),
 * other IPv4 and non-IP frames at the peak rates scaled by `dayProfile` of the simulated hour.
 * Frames go out through tcpreplay on `iface` (needs root or CAP_NET_RAW); the ledger counts every
 * frame and request so tests can check what probes counted against what was sent.
 */
export async function startTraffic(o: TrafficOptions): Promise<TrafficSource> {
  const dayMs = o.dayMs ?? 86_400_000;
  const started = Date.now();
  const startHour = o.startHour ?? ((started % 86_400_000) / 3_600_000);
  const ledger: TrafficLedger = { web: { requests: 0, failed: 0, bytes: 0 }, broadcast: { packets: 0, bytes: 0 }, ip: { packets: 0, bytes: 0 }, nonIp: { packets: 0, bytes: 0 } };
  const replay = new Replayer(o.iface);
  const due: Record<keyof TrafficRates, number> = { web: 0, broadcast: 0, ip: 0, nonIp: 0 };
  let seq = 0;
  let paused = o.paused ?? false;
  let webQueued = 0;
  let webInFlight = 0;
  const webIdle: Array<() => void> = [];

  const frames = (kind: 'broadcast' | 'ip' | 'nonIp', n: number): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++, seq++) {
      const f =
        kind === 'broadcast'
          ? seq % 2 === 0
            ? arpRequest(o.mac, o.address, o.nobody)
            : dhcpDiscover(o.mac, seq)
          : kind === 'ip'
            ? udpFrame({ srcMac: o.mac, dstMac: NOBODY_MAC, src: o.address, dst: o.nobody, sport: 40_000 + (seq % 1000), dport: 9, size: IP_SIZES[seq % IP_SIZES.length]! })
            : rawFrame(NOBODY_MAC, o.mac, NON_IP_SIZES[seq % NON_IP_SIZES.length]!);
      ledger[kind].packets++;
      ledger[kind].bytes += f.length;
      out.push(f);
    }
    return out;
  };

  const pumpWeb = () => {
    while (webQueued > 0 && webInFlight < MAX_WEB_IN_FLIGHT) {
      webQueued--;
      webInFlight++;
      const done = (ok: boolean, bytes = 0) => {
        if (ok) {
          ledger.web.requests++;
          ledger.web.bytes += bytes;
        } else ledger.web.failed++;
        webInFlight--;
        pumpWeb();
        if (webQueued === 0 && webInFlight === 0) for (const r of webIdle.splice(0)) r();
      };
      const req = request({ host: o.web.host, port: o.web.port ?? 80, path: o.web.path ?? '/', agent: false, timeout: 10_000 }, (res) => {
        let bytes = 0;
        res.on('data', (b: Buffer) => (bytes += b.length));
        res.on('end', () => done(res.statusCode === 200, bytes));
        res.on('error', () => done(false));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => done(false));
      req.end();
    }
  };
  const webDrained = () => new Promise<void>((r) => (webQueued === 0 && webInFlight === 0 ? r() : webIdle.push(r)));

  const put = (b: Burst) => {
    replay.write([...frames('broadcast', b.broadcast ?? 0), ...frames('ip', b.ip ?? 0), ...frames('nonIp', b.nonIp ?? 0)]);
    webQueued += b.web ?? 0;
    pumpWeb();
  };

  const hour = () => (startHour + ((Date.now() - started) * 24) / dayMs) % 24;
  const timer = setInterval(() => {
    if (paused) return;
    const m = dayProfile(hour()) * (TICK_MS / 1000);
    const burst: Burst = {};
    for (const k of Object.keys(due) as Array<keyof TrafficRates>) {
      due[k] += o.peak[k] * m;
      burst[k] = Math.floor(due[k]);
      due[k] -= burst[k];
    }
    put(burst);
  }, TICK_MS);
  timer.unref();

  const settle = async () => {
    await Promise.all([replay.flush(), webDrained()]);
    return structuredClone(ledger);
  };
  return {
    hour,
    ledger: () => structuredClone(ledger),
    async send(b) {
      put(b);
      return settle();
    },
    async pause() {
      paused = true;
      return settle();
    },
    resume() {
      paused = false;
    },
    async stop() {
      clearInterval(timer);
      paused = true;
      webQueued = 0;
      await webDrained();
      replay.stop();
    },
  };
}
