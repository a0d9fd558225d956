import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ValidationError } from './errors.js';

/** An id of a probe, rule, device or indicator: safe inside a NATS subject token and an LMDB key. */
export const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', title: 'id', description: 'letters, digits, _ and -; 1 to 64 characters' });
export type Id = Static<typeof Id>;

/** An id field that says what it names (the description keeps the form an id must have). */
export const idOf = (what: string) => described(Id, `${what} (letters, digits, _ and -; 1 to 64 characters)`);

/** `schema` with a description of its own (TypeBox's CloneType keeps the original's). */
export function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** A duration such as "500ms", "10s", "15m", "2h", "7d", or a number of milliseconds. */
export const Duration = Type.Union([
  Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w)$', description: 'a number followed by ms, s, m, h, d or w, e.g. 10s or 15m' }),
  Type.Integer({ minimum: 0, description: 'a whole number of milliseconds' }),
], { title: 'duration' });
export type Duration = Static<typeof Duration>;

/** A timestamp: milliseconds since the Unix epoch. */
export const Timestamp = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
export type Timestamp = Static<typeof Timestamp>;

/** What a reading carries: a number, or text (status strings, syslog lines, sysDescr). */
export const Datum = Type.Union([Type.Number(), Type.String({ maxLength: 65536 })]);
export type Datum = Static<typeof Datum>;

/** An expression in the probemesh expression language (parsed and checked when saved). */
export const Expr = Type.String({ minLength: 1, maxLength: 4096, title: 'expression', description: 'an expression in the probemesh expression language' });
export type Expr = Static<typeof Expr>;

/** Free-form labels: network, rack, role … */
export const Tags = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 256 }), {
  description: 'labels: name → text, e.g. {role: server, network: n1}; names of letters, digits, _, . and -',
});
export type Tags = Static<typeof Tags>;

export const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { description: 'how bad an alert is (default warning)' });
export type Severity = Static<typeof Severity>;

const unitMs: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/** Turns a Duration into milliseconds; throws on text that is not a duration. */
export function durationMs(d: Duration): number {
  if (typeof d === 'number') return d;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)$/.exec(d);
  if (!m) throw new ValidationError('duration', [{ path: '', message: `not a duration: ${JSON.stringify(d)} (use e.g. "500ms", "10s", "15m", "2h")` }]);
  return Math.round(Number(m[1]) * unitMs[m[2]!]!);
}
