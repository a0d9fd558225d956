import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
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

/** The problems of `value` against `schema` (at most `max`), or [] when it fits. */
export function issues(schema: TSchema, value: unknown, max = 20): Issue[] {
  const c = checker(schema);
  if (c.Check(value)) return [];
  const branch = discriminated(schema, value);
  if (branch) return issues(branch, value, max);
  const out: Issue[] = [];
  for (const e of c.Errors(value)) {
    out.push({ path: e.path, message: e.message });
    if (out.length >= max) break;
  }
  return out;
}

/**
 * For a union of objects told apart by a literal field (`kind: "atomic"` …), the one branch the
 * value claims to be, so errors name its fields instead of "expected union value".
 */
function discriminated(schema: TSchema, value: unknown): TSchema | undefined {
  const branches = (schema as { anyOf?: TSchema[] }).anyOf;
  if (!branches || typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const matching = branches.filter((b) => {
    const props = (b as { properties?: Record<string, { const?: unknown }> }).properties;
    if (!props) return false;
    const literals = Object.entries(props).filter(([, p]) => p.const !== undefined);
    return literals.length > 0 && literals.every(([k, p]) => v[k] === p.const);
  });
  return matching.length === 1 ? matching[0] : undefined;
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
