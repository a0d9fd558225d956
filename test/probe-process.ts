// A real probe process (`probemesh probe --config …`) for the API's abuse and fuzz tests.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Store } from '@probemesh/store';
import type { Value } from '@probemesh/model';
import { freeTcpPort, spawnLogged, startJsonDevice, tempDir, waitUntil, type Spawned } from '@probemesh/testkit';

/** Registers what to undo when the test or benchmark ends (tap's `t.teardown`, or a list run in `finally`). */
export type Cleanup = (fn: () => unknown) => void;

const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));

export const ADMIN = 'abuse-admin-token-0000000001';
export const READ = 'abuse-read-token-00000000001';

/** A running probe process and what the tests ask of it. */
export interface ProbeProcess {
  url: string;
  dataDir: string;
  proc: Spawned;
  /** Resident memory of the process, in MiB (from /proc). */
  rssMiB(): Promise<number>;
  /** A JSON call with a token (admin by default). */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  /** Milliseconds `/health` took to answer (it must answer 200). */
  healthMs(): Promise<number>;
  /** A value of /metrics (the first sample of `name`). */
  metric(name: string): Promise<number>;
}

/**
 * A GET on a connection of its own (plain HTTP): a pooled keep-alive connection can be closed by
 * the server just as a request is sent on it, which would blame the server for a client's choice.
 */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: AsyncIterable<Buffer> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 120_000 }, (res) => resolve({ status: res.statusCode ?? 0, body: res }));
    req.once('timeout', () => req.destroy(new Error(`${url}: no answer in 120 s`)));
    req.once('error', reject);
    req.end();
  });
}

/**
 * Starts a probe process on a free loopback port with `config` (id, tokens, http and dataDir are
 * filled in), waits for /health, and stops it and removes its data in teardown. `seed` may fill
 * the data directory before the process opens it.
 */
export async function startProbeProcess(cleanup: Cleanup, config: Record<string, unknown> = {}, seed?: (dataDir: string) => Promise<void>): Promise<ProbeProcess> {
  const dir = await tempDir();
  cleanup(() => dir.remove());
  const dataDir = join(dir.path, 'data');
  await seed?.(dataDir);
  const port = await freeTcpPort();
  const http = { host: '127.0.0.1', port, ...(config.http as object | undefined) };
  const full = {
    id: 'abuse',
    dataDir,
    tokens: [
      { name: 'ops', role: 'admin', token: ADMIN },
      { name: 'ro', role: 'read', token: READ },
    ],
    ...config,
    http,
  };
  const file = join(dir.path, 'probe.json');
  await writeFile(file, JSON.stringify(full));
  const proc = spawnLogged(process.execPath, [cli, 'probe', '--config', file]);
  cleanup(() => proc.stop(5000));
  const url = `${(http as { tls?: unknown }).tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const p: ProbeProcess = {
    url,
    dataDir,
    proc,
    async rssMiB() {
      const status = await readFile(`/proc/${proc.child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
    },
    async call(method, path, body, token = ADMIN) {
      const res = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text };
    },
    async healthMs() {
      const start = performance.now();
      const res = await get(url + '/health');
      if (res.status !== 200) throw new Error(`/health answered ${res.status}`);
      for await (const _ of res.body);
      return performance.now() - start;
    },
    async metric(name) {
      const text = (await p.call('GET', '/metrics', undefined, READ)).body as string;
      const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      if (!m) throw new Error(`no metric ${name} in /metrics`);
      return Number(m[2]);
    },
  };
  if (!(http as { tls?: unknown }).tls) await waitUntil('the probe answers /health', async () => (await fetch(url + '/health')).ok, 30_000, proc);
  return p;
}

/** Percentile `q` (0..1) of `xs`. */
export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

/**
 * A probe whose rule `flap` raises and resolves 20 alerts (one per device, ~1.3 KB each) every
 * 250 ms, read from a real HTTP device, beside a rule `steady` ticking every second.
 */
export async function startAlertingProbe(cleanup: Cleanup, extra: Record<string, unknown> = {}): Promise<ProbeProcess> {
  let n = 0;
  const dev = await startJsonDevice(() => ({ temp: Math.floor(n++ / 20) % 2 ? 90 : 10 })); // 20 reads per tick: flips every tick
  cleanup(() => dev.stop());
  const devices = Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } }));
  return startProbeProcess(cleanup, {
    devices,
    indicators: [
      { id: 'temp', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.temp' } },
      { id: 'racks', kind: 'static', value: 12 },
    ],
    rules: [
      { id: 'flap', indicators: ['temp'], targets: { devices: devices.map((d) => d.id) }, period: '250ms', concurrency: 1, decisions: [{ id: 'hot', when: 'temp > 50', indicator: 'temp', message: `{device} runs hot: ${'x'.repeat(1000)}` }] },
      { id: 'steady', indicators: ['racks'], period: '1s' },
    ],
    ...extra,
  });
}

/** An SSE client that never reads: its socket is paused right after the request is sent. */
export function idleSseClient(url: string, token: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.write(`GET /alerts/stream?token=${token} HTTP/1.1\r\nhost: ${hostname}\r\naccept: text/event-stream\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Samples `fn` every `everyMs` until `ms` have passed; resolves with every sample. */
export async function sampleFor<T>(ms: number, everyMs: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    out.push(await fn());
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return out;
}

/** What the slow-SSE scenario measured. */
export interface SlowSseResult {
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  heapBeforeMiB: number;
  /** V8 heap in use once they left (waited for, up to 30 s, to come within 16 MiB of the start). */
  heapAfterMiB: number;
  /** /health round trips just before the clients came, on the same machine load. */
  healthBeforeMs: number[];
  healthMs: number[];
  dropped: number;
  /** Alerts a client that does read received while the others stalled. */
  readerAlerts: number;
  ticksSteady: [before: number, after: number];
}

/**
 * `clients` SSE clients that never read, for `seconds`, while alerts flow; then they leave.
 * RSS, /health latency and the drop counter are sampled; a reading client counts its alerts.
 */
export async function slowSseScenario(p: ProbeProcess, clients: number, seconds: number): Promise<SlowSseResult> {
  const ticks = async () => ((await p.call('GET', '/rules/states', undefined, READ)).body as Array<{ rule: string; ticks: number }>).find((r) => r.rule === 'steady')!.ticks;
  await waitUntil('alerts flow', async () => (await p.metric('probemesh_alerts_fired_total')) > 20, 30_000, p.proc);
  const heap = async () => (await p.metric('probemesh_heap_used_bytes')) / 2 ** 20;
  const rssBeforeMiB = await p.rssMiB();
  const heapBeforeMiB = await heap();
  const before = await ticks();
  const healthBeforeMs = await sampleFor(3000, 200, () => p.healthMs());
  const reader = new AbortController();
  let readerAlerts = 0;
  const reading = fetch(`${p.url}/alerts/stream?token=${READ}`, { signal: reader.signal }).then(async (res) => {
    const dec = new TextDecoder();
    for await (const chunk of res.body!) readerAlerts += (dec.decode(chunk as Uint8Array).match(/^event: alert$/gm) ?? []).length;
  }).catch(() => undefined);
  const sockets: Socket[] = [];
  for (let i = 0; i < clients; i++) sockets.push(await idleSseClient(p.url, READ));
  const samples = await sampleFor(seconds * 1000, 200, async () => ({ rss: await p.rssMiB(), health: await p.healthMs() }));
  const dropped = await p.metric('probemesh_sse_dropped_total');
  for (const s of sockets) s.destroy();
  reader.abort();
  await reading;
  const after = await ticks();
  await waitUntil('the streams are gone', async () => (await p.metric('probemesh_sse_subscribers')) === 0, 30_000, p.proc);
  await waitUntil('the heap is back', async () => (await heap()) < heapBeforeMiB + 16, 30_000, p.proc).catch(() => undefined); // the caller judges heapAfterMiB
  return {
    healthBeforeMs,
    heapBeforeMiB,
    heapAfterMiB: await heap(),
    rssBeforeMiB,
    rssPeakMiB: Math.max(...samples.map((s) => s.rss)),
    rssAfterMiB: await p.rssMiB(),
    healthMs: samples.map((s) => s.health),
    dropped,
    readerAlerts,
    ticksSteady: [before, after],
  };
}

/** Fills a data directory with `n` values of one series (`power` on `pdu`, one a second), before a probe opens it. */
export async function seedValues(dataDir: string, n: number): Promise<void> {
  const store = Store.open({ path: dataDir });
  try {
    for (let i = 0; i < n; ) {
      const batch: Value[] = [];
      for (const end = Math.min(n, i + 10_000); i < end; i++) batch.push({ indicator: 'power', device: 'pdu', rule: 'energy', ts: 1_700_000_000_000 + i * 1000, datum: 1000 + (i % 97) * 3.25 });
      await store.append(batch);
    }
  } finally {
    await store.close();
  }
}

/** What the big-query scenario measured. */
export interface BigQueryResult {
  rssBeforeMiB: number;
  rssPeakMiB: number;
  /** /health round trips just before the queries, on the same machine load. */
  healthBeforeMs: number[];
  healthMs: number[];
  /** Records each kind of request returned (all must be whole answers). */
  records: { last: number[]; page: number[]; exported: number[] };
  ticksSteady: [before: number, after: number];
}

/**
 * Four parallel `last=1000000` queries, then four pages of 100,000, then two exports of every
 * record, all with a read token, while /health, RSS and another rule's ticks are watched.
 */
export async function bigQueryScenario(p: ProbeProcess): Promise<BigQueryResult> {
  const ticks = async () => ((await p.call('GET', '/rules/states', undefined, READ)).body as Array<{ rule: string; ticks: number }>).find((r) => r.rule === 'steady')!.ticks;
  const rssBeforeMiB = await p.rssMiB();
  const before = await ticks();
  const healthBeforeMs = await sampleFor(3000, 200, () => p.healthMs());
  const auth = { authorization: `Bearer ${READ}` };
  const text = async (path: string) => {
    const res = await get(p.url + path, auth);
    let out = '';
    for await (const b of res.body) out += b.toString();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${out}`);
    return out;
  };
  const x4 = <T>(f: () => Promise<T>) => Promise.all([f(), f(), f(), f()]);
  let done = false;
  const watching = (async () => {
    const out: Array<{ rss: number; health: number }> = [];
    while (!done) {
      out.push({ rss: await p.rssMiB(), health: await p.healthMs() });
      await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  })();
  try {
    const last = await x4(async () => (JSON.parse(await text('/query?indicator=power&last=1000000')) as { records: unknown[] }).records.length);
    const page = await x4(async () => (JSON.parse(await text('/query?indicator=power&first=1000000&limit=100000')) as { records: unknown[] }).records.length);
    const exported = await Promise.all(
      [1, 2].map(async () => {
        const res = await get(`${p.url}/export?indicator=power`, auth);
        let lines = 0;
        for await (const chunk of res.body) for (const b of chunk) if (b === 10) lines++;
        return lines;
      }),
    );
    done = true;
    const samples = await watching;
    return {
      rssBeforeMiB,
      healthBeforeMs,
      rssPeakMiB: Math.max(...samples.map((s) => s.rss)),
      healthMs: samples.map((s) => s.health),
      records: { last, page, exported },
      ticksSteady: [before, await ticks()],
    };
  } finally {
    done = true;
    await watching;
  }
}
