import { Alert, Device, Indicator, Query, QueryResult, Rule, RuleState, type TSchema } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const errors = { '400': { description: 'invalid input' }, '401': { description: 'no or unknown token' }, '403': { description: 'needs an admin token' } };

/** OpenAPI 3.1 of the API, from the same TypeBox schemas that validate requests. */
export function openApi(service: ProbeService): object {
  const connectorSchemas: Record<string, TSchema> = {};
  for (const c of service.connectorSchemas()) {
    connectorSchemas[`Source_${c.scheme}`] = c.params;
    if (c.deviceParams) connectorSchemas[`DeviceSettings_${c.scheme}`] = c.deviceParams;
  }
  const crud = (kind: string, schema: string) => ({
    [`/${kind}`]: {
      get: { summary: `list ${kind}`, responses: { '200': { description: 'ok', content: json({ type: 'array', items: ref(schema) }) }, ...errors } },
      post: { summary: `create a ${schema.toLowerCase()}`, requestBody: { content: json(ref(schema)) }, responses: { '201': { description: 'created', content: json(ref(schema)) }, '409': { description: 'exists' }, '422': { description: 'unusable' }, ...errors } },
    },
    [`/${kind}/{id}`]: {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } }],
      get: { summary: `one ${schema.toLowerCase()}`, responses: { '200': { description: 'ok', content: json(ref(schema)) }, '404': { description: 'none' }, ...errors } },
      put: { summary: `create or replace a ${schema.toLowerCase()}`, requestBody: { content: json(ref(schema)) }, responses: { '200': { description: 'replaced' }, '201': { description: 'created' }, '422': { description: 'unusable' }, ...errors } },
      delete: { summary: `remove a ${schema.toLowerCase()}`, responses: { '204': { description: 'removed' }, '404': { description: 'none' }, '409': { description: 'still in use' }, ...errors } },
    },
  });
  const queryParams = ['from', 'to', 'first', 'last', 'rule', 'device', 'indicator', 'instance', 'mode', 'probe'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));
  return {
    openapi: '3.1.0',
    info: { title: `probemesh probe ${service.info().id}`, version: service.info().version },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Indicator, Device, Rule, Query, QueryResult, Alert, RuleState, ...connectorSchemas },
    },
    security: [{ bearer: [] }],
    paths: {
      '/health': { get: { summary: 'liveness', security: [], responses: { '200': { description: 'ok' } } } },
      '/info': { get: { summary: 'who this probe is', responses: { '200': { description: 'ok' } } } },
      '/query': {
        get: { summary: 'data-access query', parameters: queryParams, responses: { '200': { description: 'ok', content: json(ref('QueryResult')) }, '422': { description: 'numeric mode on text' }, ...errors } },
        post: { summary: 'data-access query (JSON)', requestBody: { content: json(ref('Query')) }, responses: { '200': { description: 'ok', content: json(ref('QueryResult')) }, ...errors } },
      },
      '/rules/states': { get: { summary: 'rule actor states', responses: { '200': { description: 'ok', content: json({ type: 'array', items: ref('RuleState') }) } } } },
      '/alerts': { get: { summary: 'recent alert transitions', responses: { '200': { description: 'ok', content: json({ type: 'array', items: ref('Alert') }) } } } },
      '/alerts/stream': { get: { summary: 'alert transitions as Server-Sent Events (token may be given as ?token=)', responses: { '200': { description: 'text/event-stream' } } } },
      '/mesh': { get: { summary: 'probes this probe knows', responses: { '200': { description: 'ok' }, '404': { description: 'not in a mesh' } } } },
      '/mesh/alerts': {
        get: {
          summary: "alerts a coordinator received from the probes below it (newest transition of each, firing first)",
          parameters: [
            { name: 'state', in: 'query', schema: { enum: ['firing', 'resolved'] } },
            { name: 'scope', in: 'query', description: 'subtree (default): probes whose parent chain reaches this one; mesh: every probe', schema: { enum: ['subtree', 'mesh'] } },
          ],
          responses: { '200': { description: 'ok', content: json({ type: 'array', items: ref('Alert') }) }, '404': { description: 'not a coordinator' } },
        },
      },
      '/metrics': { get: { summary: 'Prometheus text exposition', responses: { '200': { description: 'text/plain' } } } },
      '/statics/{id}': { put: { summary: 'set a static value', requestBody: { content: json({ type: 'object', properties: { value: {} }, required: ['value'] }) }, responses: { '200': { description: 'ok' }, ...errors } } },
      ...crud('indicators', 'Indicator'),
      ...crud('devices', 'Device'),
      ...crud('rules', 'Rule'),
    },
  };
}
