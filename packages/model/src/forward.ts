import { Type, type Static } from '@sinclair/typebox';
import { TokenRole } from './config.js';

/** The largest forwarded body, either way: what fits in one NATS message (1 MiB by default) with room for the envelope. */
export const MAX_FORWARDED_BYTES = 900 * 1024;

/**
 * An API request one probe forwards to another of the mesh (`?probe=<id>` on any route): the
 * target runs it through its own route table with `role`, the role the forwarding probe granted
 * the caller's token. The target trusts that role: whoever may publish on the target's request
 * subject may act with the role it claims (NATS permissions per probe limit who that is).
 */
export const ForwardedRequest = Type.Object(
  {
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('DELETE')]),
    path: Type.String({ pattern: '^/[^?#]*$', maxLength: 2048, description: 'the route path, without the query string' }),
    search: Type.String({ maxLength: 8192, description: 'the query string without `?` and without `probe`' }),
    role: TokenRole,
    contentType: Type.Optional(Type.String({ maxLength: 256 })),
    body: Type.Optional(Type.String({ maxLength: MAX_FORWARDED_BYTES })),
  },
  { additionalProperties: false },
);
export type ForwardedRequest = Static<typeof ForwardedRequest>;

/** The target's answer to a ForwardedRequest: its status, media type and body, as its API gave them. */
export const ForwardedAnswer = Type.Object(
  {
    status: Type.Integer({ minimum: 100, maximum: 599 }),
    contentType: Type.Optional(Type.String({ maxLength: 256 })),
    body: Type.String({ maxLength: MAX_FORWARDED_BYTES }),
  },
  { additionalProperties: false },
);
export type ForwardedAnswer = Static<typeof ForwardedAnswer>;
