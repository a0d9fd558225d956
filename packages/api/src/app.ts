import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { AlertState, Datum, Id, Query, check, type Alert, type QueryResult, type Token, type TokenRole } from '@probemesh/model';
import { Kinds, type Kind, type ProbeService } from '@probemesh/runtime';
import { HttpError, errorResponse } from './errors.js';
import { prometheusText } from './metrics.js';
import { openApi } from './openapi.js';
import { livePage } from './page.js';

export interface ApiOptions {
  tokens: readonly Token[];
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Forwards a query to another probe of the mesh (`?probe=<id>`). */
  forward?: (probe: string, query: Query) => Promise<QueryResult>;
  /** The mesh membership table, when the probe is in a mesh. */
  mesh?: () => unknown;
  /** Alerts a coordinator received from other probes (`GET /mesh/alerts`). */
  meshAlerts?: (filter: { state?: AlertState; scope?: 'subtree' | 'mesh' }) => Alert[];
  /** Milliseconds between SSE keep-alive comments (default 15 s). */
  keepAliveMs?: number;
}

type Env = { Variables: { role: TokenRole } };

const kinds = new Set<string>(Object.values(Kinds));

/** Parses a time given as epoch milliseconds or ISO-8601. */
function time(name: string, v: string): number {
  if (/^[0-9]+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, 'invalid', `${name}: '${v}' is neither milliseconds since the epoch nor an ISO-8601 time`, [{ path: `/${name}`, message: 'not a time' }]);
  return t;
}

/** A Query from a query string; unknown parameters are errors, like unknown fields in a body. */
function queryFromParams(params: Record<string, string>): { query: Query; probe?: string } {
  const q: Record<string, unknown> = {};
  let probe: string | undefined;
  for (const [k, v] of Object.entries(params)) {
    if (k === 'token') continue;
    if (k === 'probe') probe = check(Id, v, 'probe');
    else if (k === 'from' || k === 'to') q[k] = time(k, v);
    else if (k === 'first' || k === 'last') q[k] = /^[0-9]+$/.test(v) ? Number(v) : v;
    else q[k] = v;
  }
  return { query: check(Query, q, 'query'), ...(probe ? { probe } : {}) };
}

async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) throw new HttpError(415, 'unsupported-media-type', `send JSON with content-type: application/json (got '${type || 'none'}')`);
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'malformed-json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function kindOf(c: Context): Kind {
  const k = c.req.param('kind')!;
  if (!kinds.has(k)) throw new HttpError(404, 'not-found', `no such collection '${k}' (use ${[...kinds].join(', ')})`);
  return k as Kind;
}

function idOf(c: Context): string {
  return check(Id, c.req.param('id'), 'id in the path');
}

/** The probe's HTTP API as a hono app: one route table, validated by the model's TypeBox schemas. */
export function createApi(service: ProbeService, opts: ApiOptions): Hono<Env> {
  const app = new Hono<Env>();
  const self = service.info().id; // info() reads store stats: not per request
  const tokens = opts.tokens.map((t) => ({ ...t, bytes: Buffer.from(t.token) }));
  const roleOf = (given: string | undefined): TokenRole | undefined => {
    if (!given) return undefined;
    const g = Buffer.from(given);
    let found: TokenRole | undefined;
    for (const t of tokens) if (t.bytes.length === g.length && timingSafeEqual(t.bytes, g)) found = t.role; // constant time per candidate
    return found;
  };
  const auth = (need: TokenRole, allowQueryToken = false): MiddlewareHandler<Env> =>
    async (c, next) => {
      const header = c.req.header('authorization');
      const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : allowQueryToken ? c.req.query('token') : undefined;
      const role = roleOf(given);
      if (!role) throw new HttpError(401, 'unauthorized', given ? 'unknown token' : 'send Authorization: Bearer <token>');
      if (need === 'admin' && role !== 'admin') throw new HttpError(403, 'forbidden', 'this needs an admin token');
      c.set('role', role);
      await next();
    };
  const read = auth('read');
  const admin = auth('admin');
  const limit = opts.bodyLimit ?? 1024 * 1024;

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

  app.get('/', (c) => c.html(livePage));
  app.get('/health', (c) => c.json({ ok: true, probe: self }));
  app.get('/openapi.json', (c) => c.json(openApi(service)));
  app.get('/info', read, (c) => c.json(service.info()));

  app.get('/query', read, async (c) => {
    const { query, probe } = queryFromParams(c.req.query());
    return c.json(await answer(query, probe));
  });
  app.post('/query', read, async (c) => {
    const probe = c.req.query('probe');
    return c.json(await answer(check(Query, await jsonBody(c), 'query'), probe ? check(Id, probe, 'probe') : undefined));
  });
  const answer = async (query: Query, probe?: string): Promise<QueryResult> => {
    if (!probe || probe === self) return service.query(query);
    if (!opts.forward) throw new HttpError(404, 'not-found', `probe '${probe}' is not reachable: this probe is not in a mesh`);
    try {
      return await opts.forward(probe, query);
    } catch (err) {
      if ((err as Error).name === 'ValidationError' || (err as Error).name === 'NotNumericError') throw err;
      const gone = /timeout|timed out/i.test((err as Error).message);
      throw new HttpError(gone ? 504 : 502, gone ? 'probe-timeout' : 'probe-unreachable', `probe '${probe}': ${(err as Error).message}`);
    }
  };

  app.get('/rules/states', read, (c) => c.json(service.ruleStates()));
  app.get('/alerts', read, (c) => {
    const q = c.req.query();
    const state = q.state;
    if (state !== undefined && state !== 'firing' && state !== 'resolved') throw new HttpError(400, 'invalid', `state must be firing or resolved`);
    return c.json(
      service.alerts({
        ...(state ? { state } : {}),
        ...(q.rule ? { rule: q.rule } : {}),
        ...(q.device ? { device: q.device } : {}),
        ...(q.since ? { since: time('since', q.since) } : {}),
        ...(q.limit ? { limit: Math.max(1, Number(q.limit) | 0) } : {}),
      }),
    );
  });
  app.get('/alerts/stream', auth('read', true), (c) =>
    streamSSE(c, async (stream) => {
      let n = 0;
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      const off = service.onAlert((a) => {
        queue.push(JSON.stringify(a));
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        off();
        wake?.();
      });
      await stream.writeSSE({ event: 'hello', data: JSON.stringify({ probe: self }) });
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n').catch(() => undefined), opts.keepAliveMs ?? 15_000);
      try {
        while (open) {
          while (queue.length) await stream.writeSSE({ event: 'alert', id: String(++n), data: queue.shift()! });
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      } finally {
        clearInterval(keepAlive);
        off();
      }
    }),
  );
  app.get('/mesh', read, (c) => {
    if (!opts.mesh) throw new HttpError(404, 'not-found', 'this probe is not in a mesh');
    return c.json(opts.mesh());
  });
  app.get('/mesh/alerts', read, (c) => {
    if (!opts.meshAlerts) throw new HttpError(404, 'not-found', 'this probe is not a coordinator: it does not follow other probes\' alerts');
    const { state, scope } = c.req.query();
    if (scope !== undefined && scope !== 'subtree' && scope !== 'mesh') throw new HttpError(400, 'invalid', `scope must be subtree or mesh, not '${scope}'`);
    return c.json(opts.meshAlerts({ ...(state ? { state: check(AlertState, state, 'state') } : {}), ...(scope ? { scope } : {}) }));
  });
  app.get('/metrics', read, (c) => c.text(prometheusText(self, service.metrics()), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.put('/statics/:id', admin, async (c) => {
    const id = idOf(c);
    const body = await jsonBody(c);
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).some((k) => k !== 'value'))
      throw new HttpError(400, 'invalid', 'send {"value": <number or text>}', [{ path: '/', message: 'expected an object with only "value"' }]);
    await service.setStatic(id, check(Datum, (body as { value: unknown }).value, 'static value'));
    return c.json(service.get('indicators', id));
  });

  app.get('/:kind', read, (c) => c.json(service.list(kindOf(c))));
  app.get('/:kind/:id', read, (c) => c.json(service.get(kindOf(c), idOf(c))));
  app.post('/:kind', admin, async (c) => {
    const kind = kindOf(c);
    const body = await jsonBody(c);
    const id = (body as { id?: unknown })?.id;
    if (typeof id === 'string' && service.list(kind).some((e) => e.id === id)) throw new HttpError(409, 'conflict', `${kind.slice(0, -1)} '${id}' exists; PUT /${kind}/${id} replaces it`);
    const r = await service.put(kind, body);
    return c.json(r.entity, 201);
  });
  app.put('/:kind/:id', admin, async (c) => {
    const kind = kindOf(c);
    const id = idOf(c);
    const body = await jsonBody(c);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid', `send a ${kind.slice(0, -1)} object`);
    const given = (body as { id?: unknown }).id;
    if (given !== undefined && given !== id) throw new HttpError(400, 'invalid', `the id in the body ('${String(given)}') differs from the path ('${id}')`, [{ path: '/id', message: 'must match the path' }]);
    const r = await service.put(kind, { ...body, id });
    return c.json(r.entity, r.created ? 201 : 200);
  });
  app.delete('/:kind/:id', admin, async (c) => {
    await service.remove(kindOf(c), idOf(c));
    return c.body(null, 204);
  });
  return app;
}
