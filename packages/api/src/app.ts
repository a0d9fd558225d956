import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errors, messageOf, systemClock, type Clock } from '@probemesh/core';
import { Alert, Device, DryRun, DryRunResult, ForwardedAnswer, ForwardedRequest, Indicator, MAX_FORWARDED_BYTES, Query, QueryResult, Rule, RuleState, Value, fits, type AlertState, type MergedWindow, type TSchema, type Token, type TokenRole } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import { HttpError, errorResponse } from './errors.js';
import { openApi } from './openapi.js';
import { routeTable } from './routes.js';
import { SseHub, type SseLimits } from './sse.js';
import { mount, type Env, type Forwarder } from './table.js';

export interface ApiOptions {
  tokens: readonly Token[];
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Sends a request to another probe of the mesh (`?probe=<id>` on any route) and gives back its answer. */
  forward?: (probe: string, req: ForwardedRequest) => Promise<ForwardedAnswer>;
  /** The mesh membership table, when the probe is in a mesh. */
  mesh?: () => unknown;
  /** Alerts a coordinator received from other probes (`GET /mesh/alerts`). */
  meshAlerts?: (filter: { state?: AlertState; scope?: 'subtree' | 'mesh' }) => Alert[];
  /** A coordinator's merged windows, newest first (`GET /mesh/windows`). */
  meshWindows?: (filter: { indicator?: string; limit?: number }) => MergedWindow[];
  /** Limits of `/alerts/stream` (defaults: keep-alive 15 s, 128 KiB queued per client, 500 clients). */
  sse?: Partial<SseLimits>;
  /** The clock of keep-alives (default: the system clock). */
  clock?: Clock;
  /** Bytes of large query answers kept until their series change (default 16 MiB; 0 keeps none). */
  answerCacheBytes?: number;
}

/** The probe's HTTP API as a hono app, made from the route table. */
export interface Api extends Hono<Env> {
  /** Runs a request another probe forwarded here through the route table, with the role it granted; never throws. */
  answer(req: ForwardedRequest): Promise<ForwardedAnswer>;
  /** Ends the alert streams. Idempotent. */
  close(): void;
}

/** An error answer in the API's shape, for a forwarded request. */
const errorAnswer = (status: number, code: string, message: string): ForwardedAnswer => ({ status, contentType: 'application/json', body: JSON.stringify({ error: { status, code, message } }) });

/** The probe's HTTP API as a hono app: every route from the route table, checked by the model's TypeBox schemas. */
export function createApi(service: ProbeService, opts: ApiOptions): Api {
  const app = new Hono<Env>() as Api;
  const self = service.info().id; // info() reads store stats: not per request
  const tokens = opts.tokens.map((t) => ({ ...t, bytes: Buffer.from(t.token) }));
  const roleOf = (c: Context, tokenInQuery: boolean): TokenRole | undefined => {
    // Node's own parsed headers when @hono/node-server serves the request: c.req.header() would build
    // a fetch Request and its Headers first, which costs more than the rest of a small query.
    const incoming = (c.env as { incoming?: { headers: Record<string, string | string[] | undefined> } } | undefined)?.incoming;
    const raw = incoming ? incoming.headers.authorization : c.req.header('authorization');
    const header = typeof raw === 'string' ? raw : undefined;
    const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : tokenInQuery ? c.req.query('token') : undefined;
    if (!given) return undefined;
    const g = Buffer.from(given);
    let found: TokenRole | undefined;
    for (const t of tokens) if (t.bytes.length === g.length && timingSafeEqual(t.bytes, g)) found = t.role; // constant time per candidate
    return found;
  };
  const limit = opts.bodyLimit ?? 1024 * 1024;
  const sse = new SseHub(
    service,
    self,
    { keepAliveMs: opts.sse?.keepAliveMs ?? 15_000, maxQueuedBytes: opts.sse?.maxQueuedBytes ?? 128 * 1024, maxSubscribers: opts.sse?.maxSubscribers ?? 500 },
    opts.clock ?? systemClock,
  );
  app.close = () => sse.stop();

  const forward: Forwarder = async (c, probe, role) => {
    if (!opts.forward) throw new HttpError(404, 'not-found', `probe '${probe}' is not known here: this probe is not in a mesh`);
    const url = new URL(c.req.url);
    url.searchParams.delete('probe');
    const body = c.req.method === 'POST' || c.req.method === 'PUT' ? await c.req.text() : undefined;
    if (body !== undefined && Buffer.byteLength(body) > MAX_FORWARDED_BYTES) throw new HttpError(413, 'too-large', `a body sent to another probe may be at most ${MAX_FORWARDED_BYTES} bytes`);
    const type = c.req.header('content-type');
    const req: ForwardedRequest = { method: c.req.method as ForwardedRequest['method'], path: url.pathname, search: url.searchParams.toString(), role, ...(type ? { contentType: type } : {}), ...(body !== undefined ? { body } : {}) };
    let a: ForwardedAnswer;
    try {
      a = await opts.forward(probe, req);
    } catch (err) {
      if (err instanceof errors.TimeoutError) throw new HttpError(504, 'probe-timeout', `probe '${probe}': ${err.message}`, undefined, { cause: err });
      throw new HttpError(502, 'probe-unreachable', `probe '${probe}': ${messageOf(err)}`, undefined, { cause: err });
    }
    if (!fits(ForwardedAnswer, a)) throw new HttpError(502, 'probe-unreachable', `probe '${probe}' answered with something that is not an API answer`);
    return new Response(a.body, { status: a.status, headers: a.contentType ? { 'content-type': a.contentType } : {} });
  };
  app.answer = async (req) => {
    if (!fits(ForwardedRequest, req)) return errorAnswer(400, 'invalid', 'not a forwarded API request');
    const res = await app.fetch(
      new Request(`http://${self}${req.path}${req.search ? `?${req.search}` : ''}`, { method: req.method, headers: req.contentType ? { 'content-type': req.contentType } : {}, ...(req.body !== undefined ? { body: req.body } : {}) }),
      { forwardedRole: req.role },
    );
    const body = await res.text();
    if (Buffer.byteLength(body) > MAX_FORWARDED_BYTES) return errorAnswer(502, 'answer-too-large', `the answer of probe '${self}' (${Buffer.byteLength(body)} bytes) is larger than a forwarded answer may be (${MAX_FORWARDED_BYTES}); ask for less (limit)`);
    const type = res.headers.get('content-type');
    return { status: res.status, ...(type ? { contentType: type } : {}), body };
  };

  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new HttpError(404, 'not-found', `no route ${c.req.method} ${c.req.path}`)));
  // Only where a body is expected: touching the body of a GET would build a full Request per call.
  app.on(
    ['POST', 'PUT', 'PATCH'],
    '*',
    bodyLimit({
      maxSize: limit,
      onError: (c) => errorResponse(c, new HttpError(413, 'too-large', `the body is larger than ${limit} bytes`)),
    }),
  );

  let doc: object | undefined;
  const routes = routeTable({ service, opts, self, sse, openApi: () => (doc ??= document()) });
  const document = () => {
    const schemas: Record<string, TSchema> = { Indicator, Device, Rule, Query, QueryResult, Value, Alert, RuleState, DryRun, DryRunResult };
    for (const c of service.connectorSchemas()) {
      schemas[`Source_${c.scheme}`] = c.params;
      if (c.deviceParams) schemas[`DeviceSettings_${c.scheme}`] = c.deviceParams;
    }
    const info = service.info();
    return openApi(routes, { title: `probemesh probe ${info.id}`, version: info.version }, schemas);
  };
  mount(app, routes, self, roleOf, forward);
  return app;
}
