/**
 * A small, safe JSONPath subset: `$`, `.name`, `['name']`, `[0]`, `[-1]`, `.*` and `[*]`.
 * No filters, no recursive descent, no script: nothing in a path can run code or loop.
 */

/** One step of a path. */
export type Step = { type: 'key'; key: string } | { type: 'index'; index: number } | { type: 'all' };

/** A value found by a path; `keys` are the array indexes / object keys the wildcards took, `row` the element the last wildcard took. */
export interface Match {
  value: unknown;
  keys: string[];
  row?: unknown;
}

/** The pattern of the paths `parsePath` takes (for schemas). */
export const PATH_PATTERN = `^\\$(\\.(\\*|[^.\\[\\]'"\\s*]+)|\\[(\\*|-?[0-9]+|'[^']*'|"[^"]*")\\])*$`;

const stepRe = /\.(\*|[^.[\]'"\s*]+)|\[(\*|-?[0-9]+|'[^']*'|"[^"]*")\]/y;

/** Parses `$.a.b[0].c`, `$.items[*].value` …; throws saying where the path goes wrong. */
export function parsePath(path: string): Step[] {
  if (!path.startsWith('$')) throw new Error(`JSON path '${path}' must start with '$'`);
  const steps: Step[] = [];
  let at = 1;
  while (at < path.length) {
    stepRe.lastIndex = at;
    const m = stepRe.exec(path);
    if (!m) throw new Error(`JSON path '${path}': cannot read '${path.slice(at)}' (use .name, ['name'], [0], [*] or .*)`);
    const tok = m[1] ?? m[2]!;
    if (tok === '*') steps.push({ type: 'all' });
    else if (m[2] !== undefined && /^-?[0-9]+$/.test(tok)) steps.push({ type: 'index', index: Number(tok) });
    else if (m[2] !== undefined) steps.push({ type: 'key', key: tok.slice(1, -1) });
    else steps.push({ type: 'key', key: tok });
    at = stepRe.lastIndex;
  }
  return steps;
}

/** Text of a path prefix, for messages. */
export function pathText(steps: readonly Step[]): string {
  return '$' + steps.map((s) => (s.type === 'all' ? '[*]' : s.type === 'index' ? `[${s.index}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s.key) ? `.${s.key}` : `['${s.key}']`)).join('');
}

/** Why a path without wildcards found nothing, naming the step that failed. */
export class PathMiss extends Error {
  override name = 'PathMiss';
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? `an array of ${v.length}` : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Everything `steps` finds in `doc`, at most `limit` matches. A path without wildcards that
 * finds nothing throws a PathMiss naming the missing step; wildcards over nothing give [].
 */
export function evaluate(doc: unknown, steps: readonly Step[], limit = 10_000): Match[] {
  let cur: Match[] = [{ value: doc, keys: [] }];
  steps.forEach((step, i) => {
    const next: Match[] = [];
    for (const m of cur) {
      const v = m.value;
      switch (step.type) {
        case 'key':
          if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.key)) next.push({ ...m, value: (v as Record<string, unknown>)[step.key] });
          else if (steps.slice(0, i).every((s) => s.type !== 'all'))
            throw new PathMiss(`${pathText(steps.slice(0, i + 1))}: ${pathText(steps.slice(0, i))} is ${describe(v)}${v !== null && typeof v === 'object' && !Array.isArray(v) ? ` without '${step.key}'` : ''}`);
          break;
        case 'index': {
          const k = Array.isArray(v) && step.index < 0 ? v.length + step.index : step.index;
          if (Array.isArray(v) && k >= 0 && k < v.length) next.push({ ...m, value: v[k] });
          else if (steps.slice(0, i).every((s) => s.type !== 'all'))
            throw new PathMiss(`${pathText(steps.slice(0, i + 1))}: ${pathText(steps.slice(0, i))} is ${describe(v)}`);
          break;
        }
        case 'all':
          if (Array.isArray(v)) v.forEach((e, k) => next.push({ value: e, keys: [...m.keys, String(k)], row: e }));
          else if (v !== null && typeof v === 'object') for (const [k, e] of Object.entries(v)) next.push({ value: e, keys: [...m.keys, k], row: e });
          break;
      }
      if (next.length > limit) throw new RangeError(`${pathText(steps)} finds more than ${limit} values`);
    }
    cur = next;
  });
  return cur;
}
