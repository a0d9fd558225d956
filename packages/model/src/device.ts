import { Type, type Static } from '@sinclair/typebox';
import { Tags, idOf } from './common.js';

/**
 * A monitored thing (N). `protocols` holds per-scheme settings (SNMP community or v3 user,
 * HTTP base URL and auth …), each checked against its connector's device schema when saved.
 */
export const Device = Type.Object(
  {
    id: idOf('the device, as rules, values and alerts name it'),
    name: Type.Optional(Type.String({ maxLength: 256, description: 'a name for people' })),
    address: Type.String({ minLength: 1, maxLength: 253, description: 'host name or IP address' }),
    tags: Type.Optional(Tags),
    protocols: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), Type.Object({}, { additionalProperties: true }), {
        description: 'settings per connector scheme, e.g. {"snmp": {"version": "2c", "community": "public"}}',
      }),
    ),
  },
  { additionalProperties: false },
);
export type Device = Static<typeof Device>;
