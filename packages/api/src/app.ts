import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { systemClock, type Clock } from '@probemesh/core';
import { Alert, Device, Indicator, Query, QueryResult, Rule, RuleState, Value, type AlertState, type MergedWindow, type TSchema, type Token, type TokenRole } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import { HttpError, errorResponse } from './errors.js';
import { openApi } from './openapi.js';
import { routeTable } from './routes.js';
import { SseHub, type SseLimits } from './sse.js';
import { mount, type Env } from './table.js';

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
  /** A coordinator's merged windows, newest first (`GET /mesh/windows`). */
  meshWindows?: (filter: { indicator?: string; limit?: number }) => MergedWindow[];
  /** Limits of `/alerts/stream` (defaults: keep-alive 15 s, 128 KiB queued per client, 500 clients). */
  sse?: Partial<SseLimits>;
  /** The clock of keep-alives (default: the system clock). */
  clock?: Clock;
}

/** The probe's HTTP API as a hono app, made from the route table. */
export interface Api extends Hono<Env> {
  /** Ends the alert streams. Idempotent. */
  close(): void;
}

/** The probe's HTTP API as a hono app: every route from the route table, checked by the model's TypeBox schemas. */
export function createApi(service: ProbeService, opts: ApiOptions): Api {
  const app = new Hono<Env>() as Api;
  const self = service.info().id; // info() reads store stats: not per request
  const tokens = opts.tokens.map((t) => ({ ...t, bytes: Buffer.from(t.token) }));
  const roleOf = (c: Context, tokenInQuery: boolean): TokenRole | undefined => {
    const header = c.req.header('authorization');
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
    const schemas: Record<string, TSchema> = { Indicator, Device, Rule, Query, QueryResult, Value, Alert, RuleState };
    for (const c of service.connectorSchemas()) {
      schemas[`Source_${c.scheme}`] = c.params;
      if (c.deviceParams) schemas[`DeviceSettings_${c.scheme}`] = c.deviceParams;
    }
    const info = service.info();
    return openApi(routes, { title: `probemesh probe ${info.id}`, version: info.version }, schemas);
  };
  mount(app, routes, roleOf);
  return app;
}
