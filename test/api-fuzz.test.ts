// Fuzzing the HTTP API from its own OpenAPI document, the way schemathesis does: a real probe
// process, its /openapi.json read at run time, and for every operation requests generated from the
// schemas — valid ones and broken ones (wrong types, unknown fields, bad paths, malformed JSON),
// with admin, read, unknown and no tokens. No answer may be a 5xx, every status must be one the
// operation documents, and every JSON body must match the schema documented for that status.
//
// Why not schemathesis itself: it is a Python tool and the package index it installs from is not
// reachable from this project's machines; fast-check (property-based generation with a seed that
// reproduces a run) and ajv (JSON Schema 2020-12, what OpenAPI 3.1 uses) do the same job here.
// Reproduce a run with FUZZ_SEED=<seed printed below>; FUZZ_RUNS sets the examples per operation.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startJsonDevice } from '@probemesh/testkit';
import { ADMIN, READ, startProbeProcess, type ProbeProcess } from './probe-process.js';

type Schema = Record<string, any>;
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
type Operation = { parameters?: Array<{ name: string; in: 'path' | 'query'; required: boolean; schema: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, { schema?: Schema }> }> };

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const runs = Number(process.env.FUZZ_RUNS ?? 25);

/** Values that fit `s` (bounded in size and depth). */
function valid(s: Schema, doc: Doc, depth = 0): fc.Arbitrary<unknown> {
  if (s.$ref) return valid(doc.components.schemas[String(s.$ref).split('/').pop()!]!, doc, depth);
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  if (s.anyOf) return fc.oneof(...(s.anyOf as Schema[]).map((b) => valid(b, doc, depth)));
  switch (s.type) {
    case 'string': {
      const min = s.minLength ?? 0;
      const max = Math.min(s.maxLength ?? 24, 24);
      const base = s.pattern ? fc.stringMatching(new RegExp(s.pattern)) : fc.string({ minLength: min, maxLength: Math.max(min, max) });
      return base.filter((x) => x.length >= min && x.length <= (s.maxLength ?? Infinity));
    }
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: Math.min(s.maximum ?? 2_000_000_000_000, Number.MAX_SAFE_INTEGER) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: s.minimum ?? -1e9, max: s.maximum ?? 1e9 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(valid(s.items ?? {}, doc, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)) });
    case 'object': {
      if (s.patternProperties) {
        const [key, value] = Object.entries(s.patternProperties as Record<string, Schema>)[0]!;
        return fc.dictionary(fc.stringMatching(new RegExp(key)), valid(value, doc, depth + 1), { maxKeys: 3 });
      }
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required: string[] = s.required ?? [];
      const keys = Object.keys(props).filter((k) => depth < 4 || required.includes(k));
      return fc.record(Object.fromEntries(keys.map((k) => [k, valid(props[k]!, doc, depth + 1)])), { requiredKeys: required.filter((k) => keys.includes(k)) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Anything at all, or a value of the schema with one field broken. */
function broken(s: Schema | undefined, doc: Doc): fc.Arbitrary<unknown> {
  const noise = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string(), fc.constant(null), fc.integer(), fc.constant({ unknown: true }));
  if (!s) return noise;
  return fc.oneof(
    noise,
    fc.tuple(valid(s, doc), fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })).map(([v, k, x]) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...v, [k]: x } : x)),
  );
}

/** A query-string or path value as text. */
const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

interface Request {
  path: string;
  query: Record<string, string>;
  body?: string;
  token: string | null;
}

/** Requests for one operation: parameters and body valid or broken, with any token. */
function requests(path: string, op: Operation, doc: Doc): fc.Arbitrary<Request> {
  const params = op.parameters ?? [];
  const token = fc.constantFrom<string | null>(ADMIN, ADMIN, READ, READ, null, 'unknown-token-000000000000');
  const param = (p: (typeof params)[number]) => fc.oneof({ weight: 4, arbitrary: valid(p.schema, doc) }, { weight: 1, arbitrary: broken(p.schema, doc) }).map(text);
  const pathArb = fc.record(Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, param(p).filter((v) => v.length > 0)])));
  const queryArb = fc.record(
    {
      ...Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, param(p)])),
      colour: fc.string({ minLength: 1, maxLength: 6 }), // an unknown parameter, now and then
    },
    { requiredKeys: params.filter((p) => p.in === 'query' && p.required).map((p) => p.name) as never[] },
  );
  const schema = op.requestBody?.content['application/json']?.schema;
  const body = schema
    ? fc.oneof({ weight: 4, arbitrary: valid(schema, doc).map((v) => JSON.stringify(v)) }, { weight: 2, arbitrary: broken(schema, doc).map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: fc.string() })
    : fc.constant(undefined);
  return fc.record({ pathValues: pathArb, query: queryArb, body, token }).map(({ pathValues, query, body, token }) => ({
    path: path.replace(/\{([^}]+)\}/g, (_, n: string) => encodeURIComponent(pathValues[n]!)),
    query: query as Record<string, string>,
    ...(body !== undefined ? { body } : {}),
    token,
  }));
}

/** A probe with data and configuration to read: two devices, atomic, static and calculated indicators, a ticking rule. */
async function probeWithData(t: Test): Promise<ProbeProcess> {
  const dev = await startJsonDevice(() => ({ temp: 21.5 }));
  t.teardown(() => dev.stop());
  return startProbeProcess(t.teardown.bind(t), {
    devices: [
      { id: 'room', address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } },
      { id: 'hall', address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } },
    ],
    indicators: [
      { id: 'temp', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.temp' } },
      { id: 'racks', kind: 'static', value: 12 },
      { id: 'per_rack', kind: 'calculated', formula: 'temp / racks' },
    ],
    rules: [{ id: 'climate', indicators: ['temp', 'per_rack'], targets: { devices: ['room', 'hall'] }, period: '1s', decisions: [{ id: 'warm', when: 'temp > 20', indicator: 'temp' }] }],
  });
}

t.test('api fuzz — every operation of /openapi.json, valid and broken requests, any token: no 5xx, documented statuses, bodies that match their schemas', async (t) => {
  t.comment(`seed ${seed} (FUZZ_SEED=${seed} reproduces this run), ${runs} examples per operation`);
  const p = await probeWithData(t);
  const doc = (await (await fetch(`${p.url}/openapi.json`)).json()) as Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  ajv.addSchema(doc, 'doc');
  const pointer = (...parts: string[]) => 'doc#/' + parts.map((x) => x.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  let sent = 0;
  const statuses = new Map<string, number>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const name = `${method.toUpperCase()} ${path}`;
      await fc.assert(
        fc.asyncProperty(requests(path, op, doc), async (r) => {
          const qs = new URLSearchParams(r.query).toString();
          const headers: Record<string, string> = { ...(r.token ? { authorization: `Bearer ${r.token}` } : {}), ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) };
          const res = await fetch(`${p.url}${r.path}${qs ? `?${qs}` : ''}`, { method: method.toUpperCase(), headers, ...(r.body !== undefined ? { body: r.body } : {}), signal: AbortSignal.timeout(30_000) });
          sent++;
          const what = `${name} → ${res.status} for ${JSON.stringify(r).slice(0, 400)}`;
          statuses.set(`${name} ${res.status}`, (statuses.get(`${name} ${res.status}`) ?? 0) + 1);
          const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
          if (type === 'text/event-stream') await res.body?.cancel(); // a stream never ends by itself
          const body = type === 'text/event-stream' ? '' : await res.text();
          if (res.status >= 500) throw new Error(`a server error: ${what}: ${body.slice(0, 300)}`);
          const documented = op.responses[String(res.status)];
          if (!documented) throw new Error(`an undocumented status: ${what}: ${body.slice(0, 300)}`);
          const content = documented.content?.[type];
          if (documented.content && !content) throw new Error(`an undocumented media type '${type}': ${what}`);
          if (!content?.schema) return;
          const check = ajv.getSchema(pointer('paths', path, method, 'responses', String(res.status), 'content', type, 'schema'))!;
          const items = type === 'application/x-ndjson' ? body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) : type === 'application/json' ? [JSON.parse(body) as unknown] : [];
          for (const item of items) if (!check(item)) throw new Error(`a body that does not match its schema: ${what}: ${ajv.errorsText(check.errors)} in ${body.slice(0, 300)}`);
        }),
        { seed, numRuns: runs, endOnFailure: true, includeErrorInReport: true },
      );
    }
  }
  t.comment(`${sent} requests; statuses: ${[...new Set([...statuses.keys()].map((k) => k.split(' ').pop()))].sort().join(', ')}`);
  t.ok(sent >= runs * Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0), `${sent} requests over every operation`);
  t.ok([...statuses.keys()].some((k) => / 2\d\d$/.test(k)) && [...statuses.keys()].some((k) => / 4\d\d$/.test(k)), 'both accepted and refused requests were made');
  t.equal((await p.call('GET', '/health', undefined, null)).status, 200, 'the probe still answers');
});
