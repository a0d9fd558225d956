import type { Datum } from '@probemesh/model';
import { durationMs } from '@probemesh/model';
import { ExprCheckError, ExprEvalError } from './errors.js';
import { parse, type Node } from './parse.js';
import { compilePattern, type Pattern } from './pattern.js';

/** What an expression may yield: a number, a string, a boolean, or null when an input is missing. */
export type Result = Datum | boolean | null;

/** Window functions over the store. */
export type WindowFn = 'mean' | 'max' | 'min' | 'sum' | 'count' | 'last' | 'rate';

/** What an expression reads while it evaluates. */
export interface Env {
  /** The reading being filtered or transformed. */
  value?: Datum | null;
  /** The previous raw reading of the same series, null on the first. */
  prev?: Datum | null;
  /** Seconds since `prev`. */
  dt?: number | null;
  ts?: number;
  device?: string;
  indicator?: string;
  instance?: string;
  /** The current value of an indicator, on `device` or the current one. */
  get(indicator: string, device?: string): Datum | null | undefined;
  /** This round's values of an indicator across the rule's targets. */
  round(indicator: string): ReadonlyArray<Datum>;
  /** An aggregate of an indicator's history over the last `ms`, on `device` ('*' = every device). */
  window(fn: WindowFn, indicator: string, ms: number, device?: string): number | null;
}

/** One indicator an expression refers to, and how. */
export interface Ref {
  name: string;
  device?: string;
  /** bare: this device's value; qualified: name@device; round-aggregate: across this round's targets; window: history. */
  form: 'bare' | 'qualified' | 'round-aggregate' | 'window';
  fn?: string;
  windowMs?: number;
}

/** Where an expression is used; `value`, `prev` and `dt` exist only for filters and transforms. */
export type Context = 'filter' | 'transform' | 'calculated' | 'decision';

export interface CompileOptions {
  context?: Context;
  /** Whether an indicator id exists; unknown references are errors when given. */
  known?: (id: string) => boolean;
}

/** A checked, compiled expression. */
export interface Expression {
  readonly source: string;
  readonly refs: readonly Ref[];
  /** 'device' when it reads some indicator by a bare name (evaluated per device), else 'rule'. */
  readonly scope: 'device' | 'rule';
  evaluate(env: Env): Result;
}

type Fn = (env: Env) => Result;

const READING_VARS = new Set(['value', 'prev', 'dt']);
const CONTEXT_VARS = new Set(['ts', 'device', 'indicator', 'instance']);
const AGGREGATES = new Set(['mean', 'sum', 'count', 'min', 'max', 'last', 'rate']);

const num = (v: Result, what: string): number | null => {
  if (v === null) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new ExprEvalError(`${what} needs a number, got the text ${JSON.stringify(v).slice(0, 40)}`);
};
const truthy = (v: Result) => v !== null && v !== false && v !== 0 && v !== '';

/** Per-second rate of a counter from the previous reading, with 32- or 64-bit wrap. */
function counterRate(value: number, prev: number, dt: number): number | null {
  if (!(dt > 0)) return null;
  let delta = value - prev;
  if (delta < 0) delta += prev <= 0xffffffff ? 2 ** 32 : 2 ** 64; // wrapped
  return delta / dt;
}

/** The offset in `src` of character `k` of the string literal whose opening quote is at `quote` (escapes take two characters). */
function sourceOffset(src: string, quote: number, k: number): number {
  let i = quote + 1;
  for (let n = 0; n < k && i < src.length; n++) i += src[i] === '\\' ? 2 : 1;
  return i;
}

type MathFn = { arity: [number, number]; fn: (...a: number[]) => number };
const MATH: Record<string, MathFn> = {
  abs: { arity: [1, 1], fn: Math.abs },
  floor: { arity: [1, 1], fn: Math.floor },
  ceil: { arity: [1, 1], fn: Math.ceil },
  sqrt: { arity: [1, 1], fn: Math.sqrt },
  log: { arity: [1, 1], fn: Math.log },
  log10: { arity: [1, 1], fn: Math.log10 },
  exp: { arity: [1, 1], fn: Math.exp },
  pow: { arity: [2, 2], fn: Math.pow },
  clamp: { arity: [3, 3], fn: (x, lo, hi) => Math.min(hi, Math.max(lo, x)) },
  round: {
    arity: [1, 2],
    fn: (x, d = 0) => {
      const f = 10 ** d;
      return Math.round(x * f) / f;
    },
  },
};
const STRING_FNS: Record<string, [number, number]> = { contains: [2, 2], matches: [2, 2], lower: [1, 1], upper: [1, 1], len: [1, 1], number: [1, 1], string: [1, 1], if: [3, 3] };

/** Parses, checks and compiles `src`; throws ExprSyntaxError / ExprCheckError saying where and what. */
export function compile(src: string, opts: CompileOptions = {}): Expression {
  const context = opts.context ?? 'calculated';
  const reading = context === 'filter' || context === 'transform';
  const refs: Ref[] = [];
  const fail = (msg: string, at: number): never => {
    throw new ExprCheckError(msg, src, at);
  };
  const checkRef = (name: string, at: number) => {
    if (opts.known && !opts.known(name)) fail(`unknown indicator '${name}'`, at);
  };

  const build = (n: Node): Fn => {
    switch (n.type) {
      case 'num':
      case 'str':
      case 'bool': {
        const v = n.value;
        return () => v;
      }
      case 'null':
        return () => null;
      case 'list':
        return fail('a list can only follow `in`', n.at);
      case 'ref': {
        const { name, device } = n;
        if (device === undefined && reading && READING_VARS.has(name)) return (env) => (env[name as 'value'] ?? null) as Result;
        if (device === undefined && CONTEXT_VARS.has(name)) return (env) => (env[name as 'device'] ?? null) as Result;
        if (device === undefined && READING_VARS.has(name) && !opts.known?.(name)) fail(`'${name}' exists only in filters and transforms`, n.at);
        if (device === '*') fail(`'${name}@*' needs an aggregate, e.g. sum(${name}@*) or mean(${name}, "15m")`, n.at);
        checkRef(name, n.at);
        refs.push(device === undefined ? { name, form: 'bare' } : { name, device, form: 'qualified' });
        return (env) => env.get(name, device) ?? null;
      }
      case 'unary': {
        const a = build(n.arg);
        if (n.op === '!') return (env) => {
          const v = a(env);
          return v === null ? null : !truthy(v);
        };
        return (env) => {
          const v = num(a(env), 'unary -');
          return v === null ? null : -v;
        };
      }
      case 'cond': {
        const [c, t, e] = [build(n.test), build(n.then), build(n.else)];
        return (env) => {
          const v = c(env);
          return v === null ? null : truthy(v) ? t(env) : e(env);
        };
      }
      case 'binary':
        return binary(n);
      case 'call':
        return call(n);
    }
  };

  const binary = (n: Extract<Node, { type: 'binary' }>): Fn => {
    if (n.op === 'in') {
      if (n.right.type !== 'list') return fail('`in` needs a list: x in ["a", "b"]', n.right.at);
      const l = build(n.left);
      const items = n.right.items.map(build);
      return (env) => {
        const v = l(env);
        return v === null ? null : items.some((i) => i(env) === v);
      };
    }
    const l = build(n.left);
    const r = build(n.right);
    switch (n.op) {
      case '&&':
        return (env) => {
          const a = l(env);
          if (a !== null && !truthy(a)) return false;
          const b = r(env);
          if (b !== null && !truthy(b)) return false;
          return a === null || b === null ? null : true;
        };
      case '||':
        return (env) => {
          const a = l(env);
          if (a !== null && truthy(a)) return true;
          const b = r(env);
          if (b !== null && truthy(b)) return true;
          return a === null || b === null ? null : false;
        };
      case '==':
      case '!=': {
        const eq = n.op === '==';
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (a === null || b === null) return null;
          return (a === b) === eq;
        };
      }
      case '+':
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (a === null || b === null) return null;
          if (typeof a === 'string' || typeof b === 'string') return String(a) + String(b);
          return (num(a, '+') as number) + (num(b, '+') as number);
        };
      default: {
        const op = n.op;
        const f: (a: number, b: number) => Result =
          op === '-' ? (a, b) => a - b
          : op === '*' ? (a, b) => a * b
          : op === '/' ? (a, b) => {
              if (b === 0) throw new ExprEvalError('division by zero');
              return a / b;
            }
          : op === '%' ? (a, b) => {
              if (b === 0) throw new ExprEvalError('modulo by zero');
              return a % b;
            }
          : op === '**' ? (a, b) => a ** b
          : op === '<' ? (a, b) => a < b
          : op === '<=' ? (a, b) => a <= b
          : op === '>' ? (a, b) => a > b
          : (a, b) => a >= b;
        const cmp = op === '<' || op === '<=' || op === '>' || op === '>=';
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (a === null || b === null) return null;
          if (cmp && typeof a === 'string' && typeof b === 'string') return f(a as never, b as never);
          return f(num(a, op) as number, num(b, op) as number);
        };
      }
    }
  };

  const call = (n: Extract<Node, { type: 'call' }>): Fn => {
    const { fn, args, at } = n;
    const arity = (lo: number, hi: number) => {
      if (args.length < lo || args.length > hi) fail(`${fn}() takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, got ${args.length}`, at);
    };
    // Aggregates over a reference: a window of history, or this round's targets.
    if (AGGREGATES.has(fn) && args[0]?.type === 'ref' && !(reading && READING_VARS.has(args[0].name) && args[0].device === undefined)) {
      const ref = args[0];
      const windowed = args.length === 2 && args[1]!.type === 'str';
      if ((fn === 'min' || fn === 'max') && args.length >= 2 && !windowed) return mathCall(n);
      if (args.length > 2 || (args.length === 2 && !windowed)) fail(`${fn}(indicator, "window") takes a window string such as "15m" as its second argument`, args[1]?.at ?? at);
      checkRef(ref.name, ref.at);
      if (windowed) {
        const w = args[1] as Extract<Node, { type: 'str' }>;
        let ms = 0;
        try {
          ms = durationMs(w.value);
        } catch {
          fail(`"${w.value}" is not a window (use e.g. "30s", "15m", "1h")`, w.at);
        }
        if (ms <= 0) fail('a window must be longer than zero', w.at);
        refs.push({ name: ref.name, ...(ref.device ? { device: ref.device } : {}), form: 'window', fn, windowMs: ms });
        const wfn = fn as WindowFn;
        return (env) => env.window(wfn, ref.name, ms, ref.device);
      }
      if (ref.device && ref.device !== '*') fail(`${fn}(${ref.name}@${ref.device}) needs a window, e.g. ${fn}(${ref.name}@${ref.device}, "15m")`, at);
      if (fn === 'rate') fail('rate(indicator) needs a window, e.g. rate(x, "5m"); in a transform use rate(value)', at);
      refs.push({ name: ref.name, form: 'round-aggregate', fn });
      return (env) => {
        const vs = env.round(ref.name).filter((v): v is number => typeof v === 'number');
        if (fn === 'count') return vs.length;
        if (vs.length === 0) return null;
        switch (fn) {
          case 'sum':
            return vs.reduce((a, b) => a + b, 0);
          case 'mean':
            return vs.reduce((a, b) => a + b, 0) / vs.length;
          case 'min':
            return Math.min(...vs);
          case 'max':
            return Math.max(...vs);
          default:
            return vs[vs.length - 1]!;
        }
      };
    }
    if (fn === 'rate' || fn === 'counter_rate') {
      if (!reading) fail(`${fn}() of a reading exists only in transforms; use rate(indicator, "5m") here`, at);
      arity(0, 1);
      const v = args[0] ? build(args[0]) : (env: Env) => env.value ?? null;
      return (env) => {
        const value = num(v(env), fn);
        const prev = num(env.prev ?? null, fn);
        const dt = env.dt ?? null;
        if (value === null || prev === null || dt === null) return null;
        return counterRate(value, prev, dt);
      };
    }
    if (fn in MATH || fn === 'min' || fn === 'max') return mathCall(n);
    const sig = STRING_FNS[fn];
    if (!sig) return fail(`unknown function ${fn}()`, at);
    arity(sig[0], sig[1]);
    const a = args.map(build);
    switch (fn) {
      case 'if':
        return (env) => {
          const c = a[0]!(env);
          return c === null ? null : truthy(c) ? a[1]!(env) : a[2]!(env);
        };
      case 'matches': {
        const pat = args[1]!;
        if (pat.type !== 'str') return fail('matches() takes a literal pattern string', pat.at);
        let re: Pattern;
        try {
          re = compilePattern(pat.value);
        } catch (err) {
          if (!(err instanceof ExprCheckError)) throw err;
          return fail(err.reason, sourceOffset(src, pat.at, err.pos.offset));
        }
        return (env) => {
          const s = a[0]!(env);
          return s === null ? null : re.test(String(s));
        };
      }
      case 'contains':
        return (env) => {
          const s = a[0]!(env);
          const sub = a[1]!(env);
          return s === null || sub === null ? null : String(s).includes(String(sub));
        };
      case 'lower':
      case 'upper':
        return (env) => {
          const s = a[0]!(env);
          return s === null ? null : fn === 'lower' ? String(s).toLowerCase() : String(s).toUpperCase();
        };
      case 'len':
        return (env) => {
          const s = a[0]!(env);
          return s === null ? null : String(s).length;
        };
      case 'string':
        return (env) => {
          const s = a[0]!(env);
          return s === null ? null : String(s);
        };
      default:
        return (env) => {
          const s = a[0]!(env);
          if (s === null) return null;
          const x = Number(s);
          return Number.isFinite(x) ? x : null;
        };
    }
  };

  const mathCall = (n: Extract<Node, { type: 'call' }>): Fn => {
    const { fn, args, at } = n;
    const a = args.map(build);
    if (fn === 'min' || fn === 'max') {
      if (args.length < 2) fail(`${fn}() takes an indicator, an indicator and a window, or two or more numbers`, at);
      const f = fn === 'min' ? Math.min : Math.max;
      return (env) => {
        const vs = a.map((x) => num(x(env), fn));
        return vs.some((v) => v === null) ? null : f(...(vs as number[]));
      };
    }
    const m = MATH[fn]!;
    if (args.length < m.arity[0] || args.length > m.arity[1]) fail(`${fn}() takes ${m.arity[0] === m.arity[1] ? m.arity[0] : `${m.arity[0]} to ${m.arity[1]}`} argument(s), got ${args.length}`, at);
    return (env) => {
      const vs = a.map((x) => num(x(env), fn));
      return vs.some((v) => v === null) ? null : m.fn(...(vs as number[]));
    };
  };

  const root = build(parse(src));
  const scope = refs.some((r) => r.form === 'bare') ? 'device' : 'rule';
  return {
    source: src,
    refs,
    scope,
    evaluate: (env) => {
      const r = root(env);
      return typeof r === 'number' && Number.isNaN(r) ? null : r;
    },
  };
}
