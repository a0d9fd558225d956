import type { TObject, TSchema } from '@probemesh/model';
import { ErrorBody } from './schemas.js';
import { ProbeParam, commonAnswers, type Route } from './table.js';

/** Replaces every named schema (by identity) below the top with a `$ref` to its component. */
function refs(schema: unknown, names: Map<unknown, string>, top = true): unknown {
  if (!top && names.has(schema)) return { $ref: `#/components/schemas/${names.get(schema)}` };
  if (Array.isArray(schema)) return schema.map((s) => refs(s, names, false));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = refs(v, names, false); // symbol keys (TypeBox's Kind) are left out
  return out;
}

/** OpenAPI 3.1 of the route table; `schemas` are the named components, referred to wherever they occur. */
export function openApi(routes: readonly Route[], info: { title: string; version: string }, schemas: Record<string, TSchema>): object {
  const names = new Map<unknown, string>(Object.entries({ ...schemas, ErrorBody }).map(([n, s]) => [s, n]));
  const conv = (s: TSchema) => refs(s, names, false);
  const paths: Record<string, Record<string, unknown>> = {};
  const props = (o: TObject | undefined): Array<[string, TSchema]> => Object.entries(o?.properties ?? {});
  for (const r of routes) {
    const parameters = [
      ...props(r.params).map(([name, s]) => ({ name, in: 'path', required: true, schema: conv(s) })),
      ...props(r.query).map(([name, s]) => ({
        name,
        in: 'query',
        required: (r.query!.required ?? []).includes(name),
        ...(s.description ? { description: s.description } : {}),
        schema: conv(s),
      })),
      ...(r.tokenInQuery ? [{ name: 'token', in: 'query', required: false, description: 'the token, instead of the Authorization header', schema: { type: 'string' } }] : []),
      ...(r.local ? [] : [{ name: 'probe', in: 'query', required: false, description: ProbeParam.description, schema: conv(ProbeParam) }]),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, a] of Object.entries({ ...commonAnswers(r), ...r.answers })) {
      const error = Number(status) >= 400;
      const schema = a.schema ?? (error ? ErrorBody : undefined);
      const media = a.media ?? (schema ? ['application/json'] : []);
      responses[status] = {
        description: a.description,
        ...(media.length ? { content: Object.fromEntries(media.map((m) => [m, schema ? { schema: conv(schema) } : {}])) } : {}),
      };
    }
    (paths[r.path] ??= {})[r.method] = {
      operationId: `${r.method}${r.path.replace(/\{([^}]+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(r.access === 'open' ? { security: [] } : { 'x-role': r.access }),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: conv(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries([...names].map(([s, n]) => [n, refs(s, names)])),
    },
    security: [{ bearer: [] }],
    paths,
  };
}
