import type { Context, Hono } from 'hono';
import { Id, Type, check, fits, type Static, type TObject, type TSchema, type TokenRole } from '@probemesh/model';
import { HttpError } from './errors.js';

/** Who may call a route: anyone, a read token, or an admin token. */
export type Access = 'open' | TokenRole;

/** What hono keeps per request: the role the token (or a forwarding probe) was granted. */
export type Env = { Variables: { role: TokenRole }; Bindings: { forwardedRole?: TokenRole } };

/** One documented answer: its description and, when it has a body, the schema and media types. */
export interface Answer {
  description: string;
  schema?: TSchema;
  /** Media types of the body (default `application/json` when a schema is given). */
  media?: readonly string[];
}

/** What a handler receives: the path parameters, query string and body, each checked against its schema. */
export interface Input<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

/**
 * One route, declared once: from it come the hono handler with its checks and the OpenAPI
 * operation. `path` is an OpenAPI template (`/indicators/{id}`).
 */
export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  description?: string;
  access: Access;
  /** Also take the token from `?token=` (EventSource cannot send headers). */
  tokenInQuery?: boolean;
  /** A stream: answered here only (`?probe=` cannot carry it). */
  local?: boolean;
  params?: TObject;
  query?: TObject;
  body?: TSchema;
  /** Answers by status; the table adds the ones every route of its kind can give (400, 401, 403, 413, 415). */
  answers: Record<number, Answer>;
  handle(c: Context<Env>, input: Input<P, Q, B>): Response | Promise<Response>;
}

/** Declares a route, its handler's input typed by its schemas. */
export function route<P extends TObject = TObject<{}>, Q extends TObject = TObject<{}>, B extends TSchema = TSchema>(
  r: Omit<Route<Static<P>, Static<Q>, Static<B>>, 'params' | 'query' | 'body'> & { params?: P; query?: Q; body?: B },
): Route {
  return r as Route;
}

/** The error answers every route of this shape can give, besides its own. */
export function commonAnswers(r: Route): Record<number, Answer> {
  const out: Record<number, Answer> = { 400: { description: 'a parameter, the query string or the body is invalid (issues say where)' } };
  if (!r.local) {
    out[404] = { description: 'no probe of that id is known here (`probe`): this probe is not in a mesh' };
    out[502] = { description: 'the probe named by `probe` could not be asked (gone, unknown) or its answer cannot be forwarded' };
    out[504] = { description: 'the probe named by `probe` answered too late' };
  }
  if (r.access !== 'open') out[401] = { description: 'no token, or an unknown one' };
  if (r.access === 'admin') out[403] = { description: 'needs an admin token' };
  if (r.body) {
    out[413] = { description: 'the body is larger than the limit' };
    out[415] = { description: 'the body is not JSON' };
  }
  return out;
}

/** The types a schema accepts, looking into unions. */
function typesOf(s: TSchema | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (x: TSchema | undefined) => {
    if (!x) return;
    if (typeof x.type === 'string') out.add(x.type);
    for (const b of (x.anyOf as TSchema[] | undefined) ?? []) walk(b);
  };
  walk(s);
  return out;
}

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Reads query-string and path values (text) as the schema takes them: numbers where it takes a
 * number, booleans where it takes a boolean. The schema is looked at once, here.
 */
function coercer(schema: TObject): (raw: Record<string, string>) => Record<string, unknown> {
  const numeric = new Set<string>();
  const boolean = new Set<string>();
  for (const [k, s] of Object.entries(schema.properties)) {
    const types = typesOf(s);
    if (types.has('integer') || types.has('number')) numeric.add(k);
    if (types.has('boolean')) boolean.add(k);
  }
  return (raw) => {
    const out: Record<string, unknown> = { ...raw };
    for (const [k, v] of Object.entries(raw)) {
      if (numeric.has(k) && NUMBER.test(v) && Number.isSafeInteger(Math.trunc(Number(v)))) out[k] = Number(v);
      else if (boolean.has(k) && (v === 'true' || v === 'false')) out[k] = v === 'true';
    }
    return out;
  };
}

const JSON_TYPE = /^application\/([a-z.+-]*\+)?json\b/i;

/** The request body as JSON: 415 for another media type, 400 for malformed JSON. */
async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!JSON_TYPE.test(type)) throw new HttpError(415, 'unsupported-media-type', `send JSON with content-type: application/json (got '${type || 'none'}')`);
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'malformed-json', `the body is not valid JSON: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** The schema of a query string no route declares: nothing is accepted. */
const NO_QUERY = Type.Object({}, { additionalProperties: false });

/** An OpenAPI path template as a hono path (`/a/{id}` → `/a/:id`). */
export const honoPath = (path: string) => path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');

/** Inputs kept per route, by request target: a dashboard asks the same few queries again and again. */
const INPUTS_KEPT = 256;
const TARGET_KEPT_MAX = 2048;

/** The request target (`/path?query`) as it arrived, when @hono/node-server serves the request (no URL object is built). */
const targetOf = (c: Context): string | undefined => (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;

/** `probe=<id>` on any route: the request is run by that probe of the mesh instead. */
export const ProbeParam = Type.Optional(Type.Union([Id], { description: 'run the request on this probe of the mesh (with the role this probe granted the token)' }));

/** Sends a request to another probe (`?probe=`), with the role granted here; answers with what that probe answered. */
export type Forwarder = (c: Context<Env>, probe: string, role: TokenRole) => Promise<Response>;

/**
 * Mounts every route on `app`: the role check (a token, or the role a forwarding probe granted),
 * `?probe=` sent on to that probe, then path parameters, query string and body checked against
 * their schemas (validators compiled here, once), then the handler.
 */
export function mount(app: Hono<Env>, routes: readonly Route[], self: string, roleOf: (c: Context, tokenInQuery: boolean) => TokenRole | undefined, forward: Forwarder): void {
  for (const r of routes) {
    const query = r.query ?? NO_QUERY;
    for (const s of [r.params, query, r.body]) if (s) fits(s, undefined); // compiles the validator now, not on the first request
    const params = r.params && coercer(r.params);
    const queryOf = coercer(query);
    // Checked inputs of bodyless requests, frozen (a handler cannot change what the next request gets).
    const kept = new Map<string, Input<unknown, unknown, unknown>>();
    // Not async: a GET answered at once goes out without a promise's round trip (the node server's fast path).
    app.on(r.method.toUpperCase(), honoPath(r.path), (c): Response | Promise<Response> => {
      const granted = c.env?.forwardedRole;
      const role = granted ?? roleOf(c, r.tokenInQuery ?? false);
      if (r.access !== 'open') {
        if (!role) throw new HttpError(401, 'unauthorized', c.req.header('authorization') ? 'unknown token' : 'send Authorization: Bearer <token>');
        if (r.access === 'admin' && role !== 'admin') throw new HttpError(403, 'forbidden', 'this needs an admin token');
        c.set('role', role);
      }
      const target = r.body || r.tokenInQuery ? undefined : targetOf(c);
      const had = target !== undefined ? kept.get(target) : undefined;
      if (had) return r.handle(c, had as never);
      const q = c.req.query();
      if (r.tokenInQuery) delete q.token;
      if (q.probe !== undefined) {
        const probe = check(Id, q.probe, 'probe');
        delete q.probe;
        if (probe !== self && r.local) throw new HttpError(400, 'not-forwardable', `${r.method.toUpperCase()} ${r.path} streams: ask probe '${probe}' directly`);
        if (probe !== self) return forward(c, probe, role ?? 'read'); // an open route is forwarded with the least role
      }
      const input = {
        params: Object.freeze(r.params && params ? check(r.params, params(c.req.param() as Record<string, string>), 'path') : {}),
        query: Object.freeze(check(query, queryOf(q), 'query string')),
        body: undefined as unknown,
      };
      const body = r.body;
      if (!body) {
        if (target !== undefined && target.length <= TARGET_KEPT_MAX) {
          if (kept.size >= INPUTS_KEPT) kept.clear();
          kept.set(target, Object.freeze(input));
        }
        return r.handle(c, input as never);
      }
      return jsonBody(c).then((b) => r.handle(c, { ...input, body: check(body, b, 'body') } as never));
    });
  }
}
