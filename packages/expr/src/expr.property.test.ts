import t from 'tap';
import fc from 'fast-check';
import { compile, compilePattern, ExprCheckError, ExprEvalError, ExprSyntaxError, LIMITS, type Context, type Env } from './index.js';

// Bounded runs: the whole file stays within a few seconds on a shared CI machine.
const RUNS = { numRuns: 400, seed: 42 };
const isExprError = (e: unknown) => e instanceof ExprSyntaxError || e instanceof ExprCheckError || e instanceof ExprEvalError;

/** An Env whose every answer is drawn from `values`, counting how often the expression reads it. */
function countingEnv(values: ReadonlyArray<number | string | null>): Env & { reads: number } {
  let i = 0;
  const next = () => values.length ? values[i++ % values.length]! : null;
  const env = {
    reads: 0,
    value: 3,
    prev: 1,
    dt: 10,
    get: () => (env.reads++, next()),
    round: () => (env.reads++, values.filter((v): v is number | string => v !== null)),
    window: () => (env.reads++, typeof values[0] === 'number' ? values[0] : null),
  };
  return env;
}

const NAMES = ['x', 'power', 'label', 'value', 'prev', 'dt', 'ts', 'device', 'pue@ups', '`rack-3`'];
const FNS = ['abs', 'round', 'min', 'max', 'sum', 'mean', 'count', 'last', 'rate', 'matches', 'contains', 'lower', 'upper', 'len', 'number', 'string', 'if', 'clamp', 'pow', 'log'];
const OPS = ['+', '-', '*', '/', '%', '**', '==', '!=', '<', '<=', '>', '>=', '&&', '||', 'and', 'or'];

/** Source text of random expression trees: every production of the grammar, often wrong in arity or type. */
const exprText: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }).map((n) => String(Math.abs(n))), fc.integer({ min: 0, max: 1 << 30 }).map(String)),
    fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
    fc.constantFrom(...NAMES, 'true', 'false', 'null'),
    fc.tuple(fc.constantFrom('-', '!', 'not '), tie('e')).map(([op, a]) => `${op}(${a})`),
    fc.tuple(tie('e'), fc.constantFrom(...OPS), tie('e')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc.tuple(tie('e'), fc.array(tie('e'), { maxLength: 3 })).map(([a, items]) => `(${a} in [${items.join(', ')}])`),
    fc.tuple(fc.constantFrom(...FNS), fc.array(tie('e'), { maxLength: 3 })).map(([f, args]) => `${f}(${args.join(', ')})`),
    fc.tuple(fc.constantFrom('mean', 'max', 'rate', 'count'), fc.constantFrom('x', 'pue@ups', 'x@*'), fc.constantFrom('"15m"', '"0s"', '"soon"', '"1h"')).map(([f, x, w]) => `${f}(${x}, ${w})`),
    fc.tuple(fc.constantFrom('label', 'x'), fc.string({ maxLength: 16 })).map(([x, p]) => `matches(${x}, ${JSON.stringify(p)})`),
  ),
})).e;

const contexts: Context[] = ['filter', 'transform', 'calculated', 'decision'];
const anyValue = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 64 }), fc.constant(null));

t.test('expr property — any text compiles or raises only ExprSyntaxError / ExprCheckError', async (t) => {
  let refused = 0;
  const alphabet = fc.constantFrom(...'ab1 .+-*/%()<>=!&|?:,"\'`@[]x_9e\\\n'.split(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: alphabet, maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 })), fc.constantFrom(...contexts), (src, context) => {
      try {
        compile(src, { context });
      } catch (e) {
        if (!(e instanceof ExprSyntaxError || e instanceof ExprCheckError)) throw e;
        refused++;
        if (!(e.pos.offset >= 0 && e.pos.offset <= Math.max(src.length, LIMITS.maxLength))) throw new Error(`${e.message}: offset ${e.pos.offset} outside the text`);
      }
    }),
    RUNS,
  );
  t.ok(refused > 0, `${refused} of ${RUNS.numRuns} texts refused cleanly, the rest compiled`);
});

t.test('expr property — random trees evaluate to a result or an Expr* error, reading the environment a bounded number of times', async (t) => {
  let evaluated = 0;
  fc.assert(
    fc.property(exprText, fc.constantFrom(...contexts), fc.array(anyValue, { maxLength: 6 }), (src, context, values) => {
      let e;
      try {
        e = compile(src, { context });
      } catch (err) {
        if (!isExprError(err)) throw err;
        return;
      }
      const env = countingEnv(values);
      try {
        const r = e.evaluate(env);
        if (!(r === null || ['number', 'string', 'boolean'].includes(typeof r))) throw new Error(`${src} gave ${String(r)}`);
        evaluated++;
      } catch (err) {
        if (!(err instanceof ExprEvalError)) throw err;
      }
      // Each reference node is read at most once per evaluation: work is bounded by the text.
      if (env.reads > src.length) throw new Error(`${src} read the environment ${env.reads} times`);
    }),
    RUNS,
  );
  t.ok(evaluated > 20, `${evaluated} random expressions compiled and evaluated`);
});

t.test('expr property — any pattern compiles or is refused with ExprCheckError; searches never throw', async (t) => {
  let searched = 0;
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[()|*+?{}\\^$.[\]a-c0-9,=!<:]{0,30}$/)),
      fc.string({ maxLength: 300 }),
      fc.boolean(),
      (pattern, text, ignoreCase) => {
        let p;
        try {
          p = compilePattern(pattern, { ignoreCase });
        } catch (e) {
          if (!(e instanceof ExprCheckError)) throw e;
          return;
        }
        if (typeof p.test(text) !== 'boolean') throw new Error(`${pattern} gave no boolean`);
        searched++;
      },
    ),
    RUNS,
  );
  t.ok(searched > 0, `${searched} random patterns compiled and searched`);
});
