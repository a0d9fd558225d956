import type { Context } from 'hono';
import { Alert, Device, DryRun, DryRunResult, Id, Indicator, MergedWindow, Query, QueryResult, Rule, RuleState, Type, Value, type TSchema } from '@probemesh/model';
import { Kinds, type Kind, type ProbeService } from '@probemesh/runtime';
import { consoleHandler } from '@probemesh/web';
import type { ApiOptions } from './app.js';
import { HttpError } from './errors.js';
import { prometheusText } from './metrics.js';
import { AnswerCache, exportResponse, recordsResponse, type ExportFormat } from './records.js';
import { AlertsParams, AssetParams, ExportParams, Health, IdParams, MeshMember, ProbeInfo, QueryParams, Session, StaticBody, withOptionalId, type Time } from './schemas.js';
import type { SseHub } from './sse.js';
import { route, type Env, type Route } from './table.js';

/** What the routes' handlers use. */
export interface RouteContext {
  service: ProbeService;
  opts: ApiOptions;
  /** This probe's id. */
  self: string;
  sse: SseHub;
  /** The OpenAPI document (built once, from this table). */
  openApi(): object;
}

/** A time from the query string in milliseconds (ISO-8601 text that the schema let through may still be no date). */
function ms(name: string, v: Time): number {
  if (typeof v === 'number') return v;
  const t = Date.parse(v);
  if (!(t >= 0)) throw new HttpError(400, 'invalid', `${name}: '${v}' is not a time`, [{ path: `/${name}`, message: 'not a time' }]);
  return t;
}

const list = (schema: TSchema) => Type.Array(schema);
const ok = (schema: TSchema, description = 'ok') => ({ description, schema });
const notFound = (what: string) => ({ description: `no such ${what}` });
/** The CRUD routes of one configuration collection. */
function collection<K extends Kind>(kind: K, schema: TSchema, ctx: RouteContext): Route[] {
  const { service } = ctx;
  const one = kind.slice(0, -1);
  const a = /^[aeiou]/.test(one) ? `an ${one}` : `a ${one}`;
  return [
    route({
      method: 'get',
      path: `/${kind}`,
      summary: `list ${kind}`,
      access: 'read',
      answers: { 200: ok(list(schema)) },
      handle: (c) => c.json(service.list(kind)),
    }),
    route({
      method: 'post',
      path: `/${kind}`,
      summary: `create ${a}`,
      access: 'admin',
      body: schema,
      answers: { 201: ok(schema, 'created'), 409: { description: `${a} with this id exists` }, 422: { description: 'well formed but unusable (a formula over an unknown indicator …)' } },
      handle: async (c, { body }) => {
        const id = (body as { id: string }).id;
        if (service.list(kind).some((e) => e.id === id)) throw new HttpError(409, 'conflict', `${one} '${id}' exists; PUT /${kind}/${id} replaces it`);
        return c.json((await service.put(kind, body)).entity, 201);
      },
    }),
    route({
      method: 'get',
      path: `/${kind}/{id}`,
      summary: `one ${one}`,
      access: 'read',
      params: IdParams,
      answers: { 200: ok(schema), 404: notFound(one) },
      handle: (c, { params }) => c.json(service.get(kind, params.id)),
    }),
    route({
      method: 'put',
      path: `/${kind}/{id}`,
      summary: `create or replace ${a}`,
      description: 'The id may be left out of the body; when given it must match the path.',
      access: 'admin',
      params: IdParams,
      body: withOptionalId(schema),
      answers: { 200: ok(schema, 'replaced'), 201: ok(schema, 'created'), 422: { description: 'well formed but unusable' } },
      handle: async (c, { params, body }) => {
        const given = (body as { id?: string }).id;
        if (given !== undefined && given !== params.id)
          throw new HttpError(400, 'invalid', `the id in the body ('${given}') differs from the path ('${params.id}')`, [{ path: '/id', message: 'must match the path' }]);
        const r = await service.put(kind, { ...(body as object), id: params.id });
        return c.json(r.entity, r.created ? 201 : 200);
      },
    }),
    route({
      method: 'delete',
      path: `/${kind}/{id}`,
      summary: `remove ${a}`,
      access: 'admin',
      params: IdParams,
      answers: { 204: { description: 'removed' }, 404: notFound(one), 409: { description: 'still used by another entity' } },
      handle: async (c, { params }) => {
        await service.remove(kind, params.id);
        return c.body(null, 204);
      },
    }),
  ];
}

/** Every route of the API, each declared once: the app and `/openapi.json` are made from this list. */
export function routeTable(ctx: RouteContext): Route[] {
  const { service, opts, self } = ctx;

  /** Answers a query, records streamed when large, large answers kept until their series change. */
  const answers = new AnswerCache(opts.answerCacheBytes);
  const answer = (c: Context<Env>, query: Query): Response =>
    (query.mode ?? 'records') === 'records' ? recordsResponse(c, service, query, answers) : answers.json(c, service, query, () => service.query(query));
  const json = (c: Context<Env>, v: unknown) => c.json(v as object);
  /** A Query from a query string the table checked, its ISO-8601 times read as milliseconds (into a new object: the checked input is kept, frozen). */
  const fromParams = (params: Record<string, unknown>): Query => {
    const q = params as Query & { from?: Time; to?: Time };
    if (typeof q.from !== 'string' && typeof q.to !== 'string') return q;
    return { ...q, ...(typeof q.from === 'string' && { from: ms('from', q.from) }), ...(typeof q.to === 'string' && { to: ms('to', q.to) }) };
  };
  const files = consoleHandler();
  /** The console's files; a missing one is a 404 in the API's error shape like every other. */
  const ui = (c: Context<Env>) => {
    const r = files(c);
    if (r.status === 404) throw new HttpError(404, 'not-found', `no such file ${c.req.path}`);
    return r;
  };
  const notModified = { description: 'not modified since the ETag given in If-None-Match' };

  return [
    route({
      method: 'get',
      path: '/',
      summary: 'the operator console (@probemesh/web): sign in, mesh, overview, explorer, alerts, configuration',
      access: 'open',
      answers: { 200: { description: 'the console page (no-cache)', media: ['text/html'] }, 304: notModified },
      handle: ui,
    }),
    route({
      method: 'get',
      path: '/assets/{file}',
      summary: "the console's hashed scripts and styles (immutable; brotli or gzip by Accept-Encoding)",
      access: 'open',
      params: AssetParams,
      answers: { 200: { description: 'a script or style sheet', media: ['text/javascript', 'text/css'] }, 304: notModified, 404: { description: 'no such file' } },
      handle: ui,
    }),
    route({
      method: 'get',
      path: '/session',
      summary: 'what the token sent may do here: its role, and which probe answers',
      access: 'read',
      answers: { 200: ok(Session) },
      handle: (c) => c.json({ probe: self, role: c.get('role') }),
    }),
    route({
      method: 'get',
      path: '/health',
      summary: 'liveness: answers at once while the probe runs',
      access: 'open',
      answers: { 200: ok(Health) },
      handle: (c) => c.json({ ok: true, probe: self }),
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'this document',
      access: 'open',
      answers: { 200: ok(Type.Object({ openapi: Type.String() })) },
      handle: (c) => c.json(ctx.openApi()),
    }),
    route({
      method: 'get',
      path: '/info',
      summary: 'who this probe is and what it runs',
      access: 'read',
      answers: { 200: ok(ProbeInfo) },
      handle: (c) => c.json(service.info()),
    }),
    route({
      method: 'get',
      path: '/query',
      summary: 'data-access query',
      description: 'Filters combine; `from` is inclusive, `to` exclusive.',
      access: 'read',
      query: QueryParams,
      answers: { 200: ok(QueryResult), 422: { description: 'a numeric mode over text values' } },
      handle: (c, { query }) => answer(c, fromParams(query)),
    }),
    route({
      method: 'post',
      path: '/query',
      summary: 'data-access query (JSON body)',
      access: 'read',
      body: Query,
      answers: { 200: ok(QueryResult), 422: { description: 'a numeric mode over text values' } },
      handle: (c, { body }) => answer(c, body),
    }),
    route({
      method: 'get',
      path: '/export',
      summary: 'every record a selection holds, streamed as NDJSON or CSV',
      description: 'The records filters of /query (first/last/from/to/rule/device/indicator/instance), any number of records, streamed with bounded memory.',
      access: 'read',
      local: true,
      query: ExportParams,
      answers: { 200: { description: 'one Value per line (ndjson) or a CSV table', schema: Value, media: ['application/x-ndjson', 'text/csv'] } },
      handle: (c, { query }) => {
        const { format, ...rest } = query as { format?: ExportFormat };
        return exportResponse(c, service, fromParams(rest), format ?? 'ndjson');
      },
    }),
    route({
      method: 'post',
      path: '/dry-run',
      summary: "try a formula, filter, transform or decision against the current values, saving nothing (the console's \"try it\")",
      description:
        'Compiled as saving would compile it (a text that does not compile is the same 422 with line:column), then evaluated per device of `rule` (or `device`) on the values stored now: the value, an evaluation error, or the alert a decision would fire. A read token suffices: it changes nothing and shows nothing a query would not.',
      access: 'read',
      body: DryRun,
      answers: { 200: ok(DryRunResult), 404: { description: 'no such rule or device' }, 422: { description: 'the text does not compile (line:column), or names an unknown indicator' } },
      handle: (c, { body }) => c.json(service.dryRun(body)),
    }),
    route({
      method: 'get',
      path: '/rules/states',
      summary: 'rule actor states',
      access: 'read',
      answers: { 200: ok(list(RuleState)) },
      handle: (c) => c.json(service.ruleStates()),
    }),
    route({
      method: 'get',
      path: '/alerts',
      summary: 'recent alert transitions in time order (limit keeps the newest)',
      access: 'read',
      query: AlertsParams,
      answers: { 200: ok(list(Alert)) },
      handle: (c, { query }) => {
        const { since, ...rest } = query;
        return c.json(service.alerts({ ...rest, ...(since !== undefined ? { since: ms('since', since) } : {}) }));
      },
    }),
    route({
      method: 'get',
      path: '/alerts/active',
      summary: 'the alerts firing now, each as it fired, oldest first',
      description: 'One per alert id, however long ago it fired (`/alerts` lists transitions, and keeps only the newest).',
      access: 'read',
      answers: { 200: ok(list(Alert)) },
      handle: (c) => c.json(service.active()),
    }),
    route({
      method: 'get',
      path: '/alerts/stream',
      summary: 'alert transitions as Server-Sent Events',
      description:
        'Events `hello` (`{probe}`) then `alert` (an Alert) per transition; a comment every keep-alive period. The token may be given as `?token=` (EventSource cannot send headers). A client that stops reading is dropped (counted in /metrics).',
      access: 'read',
      tokenInQuery: true,
      local: true,
      answers: { 200: { description: 'an event stream', media: ['text/event-stream'] }, 503: { description: 'too many alert streams at once; try again later' } },
      handle: (c) => ctx.sse.respond(c),
    }),
    route({
      method: 'get',
      path: '/mesh',
      summary: 'the probes this one hears in the mesh',
      access: 'read',
      answers: { 200: ok(list(MeshMember)), 404: { description: 'this probe is not in a mesh' } },
      handle: (c) => {
        if (!opts.mesh) throw new HttpError(404, 'not-found', 'this probe is not in a mesh');
        return json(c, opts.mesh());
      },
    }),
    route({
      method: 'get',
      path: '/mesh/alerts',
      summary: 'alerts a coordinator received from the probes below it (newest transition of each, firing first)',
      access: 'read',
      query: Type.Object(
        {
          state: Type.Optional(AlertsParams.properties.state!),
          scope: Type.Optional(Type.Union([Type.Literal('subtree'), Type.Literal('mesh')], { description: "subtree (default): probes whose parent chain reaches this one; mesh: every probe" })),
        },
        { additionalProperties: false },
      ),
      answers: { 200: ok(list(Alert)), 404: { description: 'this probe is not a coordinator' } },
      handle: (c, { query }) => {
        if (!opts.meshAlerts) throw new HttpError(404, 'not-found', "this probe is not a coordinator: it does not follow other probes' alerts");
        return c.json(opts.meshAlerts(query));
      },
    }),
    route({
      method: 'get',
      path: '/mesh/windows',
      summary: "a coordinator's merged windows, newest first: per indicator and window, the sources in, the children missing, waiting, complete or incomplete",
      access: 'read',
      query: Type.Object({ indicator: Type.Optional(Id), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'windows returned (default 1000)' })) }, { additionalProperties: false }),
      answers: { 200: ok(list(MergedWindow)), 404: { description: 'this probe is not a coordinator' } },
      handle: (c, { query }) => {
        if (!opts.meshWindows) throw new HttpError(404, 'not-found', "this probe is not a coordinator: it merges no children's windows");
        return c.json(opts.meshWindows(query));
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus text exposition: ticks, errors, store, memory, API, latest values',
      access: 'read',
      answers: { 200: { description: 'Prometheus text format 0.0.4', media: ['text/plain'] } },
      handle: (c) => c.text(prometheusText(self, service.metrics(), { sse: ctx.sse.stats(), answers }), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
    }),
    route({
      method: 'put',
      path: '/statics/{id}',
      summary: 'set the value of a static indicator (created when absent)',
      access: 'admin',
      params: IdParams,
      body: StaticBody,
      answers: { 200: ok(Indicator), 422: { description: 'the id names an indicator that is not static' } },
      handle: async (c, { params, body }) => {
        await service.setStatic(params.id, body.value);
        return c.json(service.get('indicators', params.id));
      },
    }),
    ...collection(Kinds.indicators, Indicator, ctx),
    ...collection(Kinds.devices, Device, ctx),
    ...collection(Kinds.rules, Rule, ctx),
  ];
}
