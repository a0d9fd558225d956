import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ValidationError, type Issue } from './errors.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/**
 * The problems of `value` against `schema` (at most `max`), or [] when it fits. Each says what
 * would be valid: the fields allowed (and the one meant, for a misspelt field), the choices of a
 * union, the description of a pattern. A union of objects told apart by a literal field
 * (`kind: "atomic"` …) reports the fields of the branch the value claims to be.
 */
export function issues(schema: TSchema, value: unknown, max = 20): Issue[] {
  const c = checker(schema);
  if (c.Check(value)) return [];
  const out: Issue[] = [];
  collect(c.Errors(value), out, max);
  return out;
}

function collect(errors: Iterable<ValueError>, out: Issue[], max: number): void {
  for (const e of errors) {
    if (out.length >= max) return;
    // A missing field is said once (TypeBox goes on to check its absent value).
    if (e.value === undefined && e.type !== ValueErrorType.ObjectRequiredProperty && out.some((i) => i.path === e.path)) continue;
    const branch = e.type === ValueErrorType.Union ? claimed(e.schema, e.value) : -1;
    if (branch >= 0) collect(e.errors[branch]!, out, max);
    else out.push(unclaimed(e) ?? { path: e.path, message: explain(e) });
  }
}

/** For a union of objects told apart by a literal field that the value gets wrong, that field's choices. */
function unclaimed(e: ValueError): Issue | undefined {
  if (e.type !== ValueErrorType.Union || typeof e.value !== 'object' || e.value === null || Array.isArray(e.value)) return undefined;
  const branches = e.schema.anyOf as TSchema[];
  const key = Object.keys(propertiesOf(branches[0]!)).find((k) => branches.every((b) => propertiesOf(b)[k]?.const !== undefined));
  if (key === undefined) return undefined;
  return { path: `${e.path}/${key}`, message: explain({ ...e, path: `${e.path}/${key}`, value: (e.value as Record<string, unknown>)[key], schema: { anyOf: branches.map((b) => propertiesOf(b)[key]!) } as unknown as TSchema }) };
}

/** The branch of a union of objects whose literal fields (`kind: "atomic"` …) all match `value`, or -1. */
function claimed(schema: TSchema, value: unknown): number {
  if (typeof value !== 'object' || value === null) return -1;
  const v = value as Record<string, unknown>;
  const matching = ((schema as { anyOf?: TSchema[] }).anyOf ?? []).flatMap((b, i) => {
    const literals = Object.entries(propertiesOf(b)).filter(([, p]) => p.const !== undefined);
    return literals.length > 0 && literals.every(([k, p]) => v[k] === p.const) ? [i] : [];
  });
  return matching.length === 1 ? matching[0]! : -1;
}

const propertiesOf = (s: TSchema): Record<string, TSchema> => (s as { properties?: Record<string, TSchema> }).properties ?? {};

/** One error in words a user can act on: what is wrong, and what would be valid. */
function explain(e: ValueError): string {
  const key = e.path.slice(e.path.lastIndexOf('/') + 1).replace(/~1/g, '/').replace(/~0/g, '~');
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const allowed = Object.keys(propertiesOf(e.schema));
      if (!allowed.length) return `'${key}' is not allowed as a key here${e.schema.description ? ` (${e.schema.description})` : ''}`;
      const meant = closest(key, allowed);
      return `unknown field '${key}': ${meant ? `did you mean '${meant}'?` : `the fields here are ${allowed.join(', ')}`}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required field '${key}'${e.schema.description ? ` (${e.schema.description})` : ''}`;
    case ValueErrorType.Union: {
      const choices = (e.schema.anyOf as TSchema[]).map(inWords);
      const literals = (e.schema.anyOf as TSchema[]).flatMap((b) => (typeof b.const === 'string' ? [b.const] : []));
      const meant = typeof e.value === 'string' ? closest(e.value, literals) : undefined;
      const list = literals.length > 2 ? `one of ${choices.join(', ')}` : choices.join(choices.some((c) => c.includes(',')) ? '; or ' : ' or ');
      return `expected ${list}, not ${shown(e.value)}${meant ? ` (did you mean '${meant}'?)` : ''}`;
    }
    case ValueErrorType.StringPattern:
      return `expected ${e.schema.description ?? `text matching ${e.schema.pattern}`}, not ${shown(e.value)}`;
    default:
      return `${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}${typeof e.value === 'object' && e.value !== null ? '' : `, not ${shown(e.value)}`}`;
  }
}

/** A schema in a few words: its description, its literal value, or its type. */
function inWords(s: TSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const).replace(/^"(.*)"$/, "'$1'");
  return s.description ?? (s.type === 'object' ? 'an object' : s.type === 'array' ? 'a list' : `a ${s.type ?? 'value'}`);
}

/** A value as a user wrote it, shortened. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = typeof v === 'string' ? `'${v}'` : String(v);
  return text.length > 48 ? `${text.slice(0, 45)}…` : text;
}

/** The word of `words` a typo of `word` most likely meant (case aside, at most a third of it different), if any. */
function closest(word: string, words: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const w of words) {
    const d = distance(word.toLowerCase(), w.toLowerCase());
    if (d < bestD) [best, bestD] = [w, d];
  }
  return best;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** Returns `value` typed by `schema`, or throws a ValidationError naming `what` was wrong. */
export function check<T extends TSchema>(schema: T, value: unknown, what = 'input'): Static<T> {
  if (checker(schema).Check(value)) return value as Static<T>;
  throw new ValidationError(what, issues(schema, value));
}

/** True when `value` fits `schema` (compiled once per schema). */
export function fits<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return checker(schema).Check(value);
}
