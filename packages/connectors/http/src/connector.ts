import type { Connector, ConnectorContext, ConnectorSession, FailureKind, ReadRequest, Reading, Sample } from '@probemesh/core';
import { defineConnector, failure, messageOf } from '@probemesh/core';
import type { Datum } from '@probemesh/model';
import { evaluate, parsePath, PathMiss, type Step } from './jsonpath.js';
import { HttpDevice, HttpParams } from './schema.js';

type Req = ReadRequest<HttpParams, HttpDevice>;

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const MAX_ROWS = 10_000;
/** Requests of one read that run at once. */
const PARALLEL = 8;

/** What one HTTP exchange gave: enough for every measure. */
interface Exchange {
  status: number;
  statusText: string;
  contentType: string;
  body: Buffer;
  latencyMs: number;
  /** "GET http://host/path", without credentials, for messages. */
  where: string;
}

/** A failure of a whole exchange, already classified. */
class HttpFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly retryable?: boolean,
  ) {
    super(message);
  }
}

/** A URL for messages: without credentials. */
function shown(url: URL): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/** The request a read request makes, or a config failure. */
function plan(r: Req): { url: URL; init: { method: string; headers: Record<string, string>; body?: string }; timeoutMs: number; maxBytes: number } | Reading {
  const p = r.params;
  const d = r.deviceParams ?? {};
  let url: URL;
  try {
    if ('url' in p) url = new URL(p.url);
    else {
      const base = d.baseUrl ?? (r.device ? `http://${r.device.address.includes(':') ? `[${r.device.address}]` : r.device.address}` : undefined);
      if (!base) return failure('config', `indicator ${r.indicator}: a path needs a device with a baseUrl (or use url)`);
      url = new URL(base.replace(/\/+$/, '') + p.path);
    }
  } catch (err) {
    return failure('config', `indicator ${r.indicator}: bad URL: ${messageOf(err)}`);
  }
  const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5', ...lower(d.headers), ...lower(p.headers) };
  // fetch refuses URLs with credentials in them; send those as basic auth instead.
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  if (d.auth?.type === 'basic') headers.authorization = `Basic ${Buffer.from(`${d.auth.username}:${d.auth.password}`).toString('base64')}`;
  if (d.auth?.type === 'bearer') headers.authorization = `Bearer ${d.auth.token}`;
  const init: { method: string; headers: Record<string, string>; body?: string } = { method: p.method ?? (p.body !== undefined ? 'POST' : 'GET'), headers };
  if (p.body !== undefined) {
    init.body = typeof p.body === 'string' ? p.body : JSON.stringify(p.body);
    if (typeof p.body !== 'string' && !headers['content-type']) headers['content-type'] = 'application/json';
  }
  return { url, init, timeoutMs: p.timeoutMs ?? d.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBytes: d.maxBytes ?? DEFAULT_MAX_BYTES };
}

function lower(h: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The body, read up to `max` bytes (more is a bad response: the value cannot be trusted half read). */
async function readBody(res: Response, max: number, where: string): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.byteLength;
    if (n > max) {
      await res.body.cancel().catch(() => undefined);
      throw new HttpFailure('bad-response', `${where}: body larger than ${max} bytes (raise maxBytes in the device settings)`);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, n);
}

/** Maps what fetch threw to a failure kind with a message an operator can act on. */
function classify(err: unknown, where: string, timeoutMs: number, tick: AbortSignal): HttpFailure {
  if (err instanceof HttpFailure) return err;
  if (tick.aborted) {
    const why = tick.reason instanceof Error ? tick.reason.message : String(tick.reason ?? 'aborted');
    return new HttpFailure('timeout', `${where}: no answer before the read was cancelled (${why})`);
  }
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new HttpFailure('timeout', `${where}: no answer within ${timeoutMs} ms`);
  const code = e.cause?.code ?? (e as NodeJS.ErrnoException).code;
  const detail = e.cause?.message ?? e.message;
  switch (code) {
    case 'ECONNREFUSED':
      return new HttpFailure('unreachable', `${where}: connection refused (is the service running on that port?)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new HttpFailure('unreachable', `${where}: cannot resolve the host name (${detail})`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new HttpFailure('unreachable', `${where}: ${detail}`);
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return new HttpFailure('timeout', `${where}: ${detail}`);
  }
  if (code && /CERT|SSL|TLS|SELF_SIGNED/i.test(code)) return new HttpFailure('refused', `${where}: TLS: ${detail}`, false);
  return new HttpFailure('unreachable', `${where}: ${detail}`);
}

/** A JSON value as a datum: numbers, text (a text holding a plain decimal number becomes that number), booleans as 1/0; else why not. */
function toDatum(v: unknown): { datum: Datum } | { error: string } {
  if (typeof v === 'number') return Number.isFinite(v) ? { datum: v } : { error: 'is not a finite number' };
  if (typeof v === 'boolean') return { datum: v ? 1 : 0 };
  if (typeof v === 'string') return { datum: /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(v.trim()) ? Number(v) : v.slice(0, 65536) };
  if (v === null || v === undefined) return { error: 'is null' };
  return { error: Array.isArray(v) ? 'is an array (point the path at its elements, e.g. [*])' : 'is an object (point the path at one of its fields)' };
}

/** Turns one exchange into the reading a request asked for. */
function extract(x: Exchange, p: HttpParams, paths: Map<string, Step[]>): Reading {
  const measure = p.measure ?? 'value';
  const where = x.where;
  if (measure === 'status') return { ok: true, samples: [{ datum: x.status }] };
  if (x.status < 200 || x.status > 299) {
    const kind = x.status === 401 || x.status === 403 ? 'refused' : 'bad-response';
    const hint = kind === 'refused' ? ' (check the auth in the device settings)' : '';
    return failure(kind, `${where}: HTTP ${x.status} ${x.statusText}${hint}`, x.status >= 500 || x.status === 429 || x.status === 408);
  }
  if (measure === 'latency_ms') return { ok: true, samples: [{ datum: Math.round(x.latencyMs * 1000) / 1000 }] };
  if (measure === 'body_bytes') return { ok: true, samples: [{ datum: x.body.length }] };
  let doc: unknown;
  try {
    doc = JSON.parse(x.body.toString('utf8'));
  } catch (err) {
    const head = x.body.toString('utf8', 0, 60).replace(/\s+/g, ' ');
    return failure('bad-response', `${where}: body is not JSON (${x.contentType || 'no content-type'}, ${x.body.length} bytes: ${JSON.stringify(head)}): ${messageOf(err)}`);
  }
  const path = p.json ?? '$';
  const steps = paths.get(path)!;
  let matches;
  try {
    matches = evaluate(doc, steps, MAX_ROWS);
  } catch (err) {
    if (err instanceof PathMiss) return failure('not-found', `${where}: ${err.message}`);
    return failure('config', `${where}: ${messageOf(err)}`);
  }
  const wild = steps.some((s) => s.type === 'all');
  if (!wild) {
    const d = toDatum(matches[0]?.value);
    if ('error' in d) return failure(matches[0]?.value == null ? 'not-found' : 'bad-response', `${where}: ${path} ${d.error}`);
    return { ok: true, samples: [{ datum: d.datum }] };
  }
  const keySteps = p.instanceKey ? paths.get(`$.${p.instanceKey}`)! : undefined;
  const samples: Sample[] = [];
  for (const m of matches) {
    const d = toDatum(m.value);
    if ('error' in d) continue; // not a value: skipped, like an odd cell in a table
    let instance = m.keys.join('.');
    if (keySteps) {
      try {
        const named = evaluate(m.row, keySteps, 1)[0]?.value;
        if (typeof named === 'string' || typeof named === 'number') instance = String(named);
      } catch {
        // a row without the key keeps its index
      }
    }
    samples.push({ datum: d.datum, instance: instance.slice(0, 128) });
  }
  return { ok: true, samples };
}

/** A running http connector: one fetch per distinct request per read, shared by every indicator that reads it. */
class HttpSession implements ConnectorSession<HttpParams, HttpDevice> {
  private readonly paths = new Map<string, Step[]>();
  private readonly counts = { requests: 0, failures: 0, bytes: 0 };
  private stopped = false;
  /** Aborted by stop(), so no request outlives the session. */
  private readonly closing = new AbortController();

  constructor(
    private readonly scheme: string,
    private readonly ctx: ConnectorContext,
  ) {}

  async read(requests: ReadonlyArray<Req>, signal: AbortSignal): Promise<Reading[]> {
    const out: Reading[] = new Array(requests.length);
    const exchanges = new Map<string, { run: () => Promise<Exchange>; result?: Promise<Exchange>; users: number[] }>();
    requests.forEach((r, i) => {
      if (this.stopped) return void (out[i] = failure('config', `the ${this.scheme} connector is stopped`));
      for (const path of [r.params.json ?? '$', ...(r.params.instanceKey ? [`$.${r.params.instanceKey}`] : [])]) {
        if (this.paths.has(path)) continue;
        try {
          this.paths.set(path, parsePath(path));
        } catch (err) {
          return void (out[i] = failure('config', `indicator ${r.indicator}: ${messageOf(err)}`));
        }
      }
      const pl = plan(r);
      if ('ok' in pl) return void (out[i] = pl);
      const key = JSON.stringify([pl.init.method, pl.url.href, pl.init.body, pl.init.headers, pl.timeoutMs]);
      let x = exchanges.get(key);
      if (!x) exchanges.set(key, (x = { run: () => this.exchange(pl.url, pl.init, pl.timeoutMs, pl.maxBytes, signal), users: [] }));
      x.users.push(i);
    });
    const queue = [...exchanges.values()];
    const worker = async () => {
      for (let x = queue.shift(); x; x = queue.shift()) {
        try {
          const ex = await x.run();
          for (const i of x.users) out[i] = extract(ex, requests[i]!.params, this.paths);
        } catch (err) {
          const f = err instanceof HttpFailure ? err : new HttpFailure('unreachable', messageOf(err));
          this.counts.failures++;
          for (const i of x.users) out[i] = failure(f.kind, f.message, f.retryable);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
    return out;
  }

  private async exchange(url: URL, init: { method: string; headers: Record<string, string>; body?: string }, timeoutMs: number, maxBytes: number, tick: AbortSignal): Promise<Exchange> {
    const where = `${init.method} ${shown(url)}`;
    if (tick.aborted) throw classify(tick.reason, where, timeoutMs, tick);
    this.counts.requests++;
    const signal = AbortSignal.any([tick, this.closing.signal, AbortSignal.timeout(timeoutMs)]);
    // Latency is a measurement, not scheduling: a monotonic sub-millisecond timer, not the injected clock.
    const started = performance.now();
    try {
      const res = await fetch(url, { ...init, signal, redirect: 'follow' });
      const body = await readBody(res, maxBytes, where);
      this.counts.bytes += body.length;
      return { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type') ?? '', body, latencyMs: performance.now() - started, where };
    } catch (err) {
      const f = classify(err, where, timeoutMs, tick);
      this.ctx.log('debug', `${this.scheme}: ${f.message}`);
      throw f;
    }
  }

  stats(): Record<string, number> {
    return { ...this.counts };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing.abort(new Error(`the ${this.scheme} connector stopped`));
  }
}

/** Makes an HTTP connector registered under `scheme` ("http", or "rest" for the alias). */
export function createHttpConnector(scheme = 'http'): Connector<typeof HttpParams, typeof HttpDevice> {
  return defineConnector({
    scheme,
    summary:
      scheme === 'http'
        ? 'HTTP(S) endpoints: a value by JSON path (rows with [*]), or the status, latency or body size of a GET/POST'
        : `alias of http (same parameters); device settings under protocols.${scheme}`,
    params: HttpParams,
    deviceParams: HttpDevice,
    perDevice: true,
    counters: ['requests', 'failures', 'bytes'],
    start: (ctx) => new HttpSession(scheme, ctx),
  });
}

/** The http connector. */
export const httpConnector = createHttpConnector('http');
/** The same connector under the scheme "rest" (device settings in protocols.rest). */
export const restConnector = createHttpConnector('rest');
