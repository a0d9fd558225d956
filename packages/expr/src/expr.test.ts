import t from 'tap';
import { compile, compilePattern, examples, ExprCheckError, ExprSyntaxError, PATTERN_LIMITS, type Env } from './index.js';

/** A plain Env over fixed values: the interface, filled by the test. */
function env(values: Record<string, number | string> = {}, extra: Partial<Env> = {}): Env {
  return {
    get: (name, device) => values[device ? `${name}@${device}` : name] ?? null,
    round: (name) => Object.entries(values).filter(([k]) => k.startsWith(`${name}@`)).map(([, v]) => v),
    window: (fn, name, ms, device) => (fn === 'mean' && name === 'load' && ms === 900_000 && device === undefined ? 42.5 : null),
    ...extra,
  };
}
const ev = (src: string, values?: Record<string, number | string>, extra?: Partial<Env>, context: 'filter' | 'transform' | 'calculated' | 'decision' = 'calculated') =>
  compile(src, { context }).evaluate(env(values, extra));

t.test('expr — precedence and operators', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['2 ** 3 ** 2', 512],
    ['-2 ** 2', -4],
    ['10 % 4', 2],
    ['1 < 2 && 2 < 3', true],
    ['1 > 2 || 3 >= 3', true],
    ['not (1 == 1)', false],
    ['1 != 2 and true', true],
    ['2 > 1 ? "hot" : "ok"', 'hot'],
    ['"a" + 1', 'a1'],
    ['0x1F + 1e3', 1031],
    ['"b" in ["a", "b"]', true],
    ['3 in [1, 2]', false],
    ['"it\\"s"', 'it"s'],
  ];
  for (const [src, want] of cases) t.equal(ev(src), want, src);
});

t.test('expr — functions', async (t) => {
  t.equal(ev('round(2.345, 2)'), 2.35);
  t.equal(ev('abs(-3) + floor(2.7) + ceil(2.1) + sqrt(16)'), 12);
  t.equal(ev('clamp(120, 0, 100)'), 100);
  t.equal(ev('max(1, 5, 3)'), 5);
  t.equal(ev('min(4, 2)'), 2);
  t.equal(ev('pow(2, 10)'), 1024);
  t.equal(ev('if(1 > 2, "a", "b")'), 'b');
  t.equal(ev('contains(msg, "fail")', { msg: 'disk failure' }), true);
  t.equal(ev('matches(msg, "^disk [a-z]+$")', { msg: 'disk failure' }), true);
  t.equal(ev('upper(lower("AbC")) + len("xyz")'), 'ABC3');
  t.equal(ev('number("12.5") * 2'), 25);
});

t.test('expr — references, round aggregates and windows', async (t) => {
  const v = { 'power@a': 100, 'power@b': 300, 'it@ups': 10000, 'facility@meter': 15000, power: 7 };
  t.equal(ev('power * 2', v), 14, 'bare: the current device');
  t.equal(ev('facility@meter / it@ups', v), 1.5, 'qualified: a named device');
  t.equal(ev('sum(power)', v), 400, 'across this round');
  t.equal(ev('mean(power)', v), 200);
  t.equal(ev('count(power)', v), 2);
  t.equal(ev('max(power)', v), 300);
  t.equal(ev('mean(load, "15m")', v), 42.5, 'a window over the store');
  const e = compile('facility@meter / it@ups + mean(load, "15m") + sum(power)');
  t.same(e.refs, [
    { name: 'facility', device: 'meter', form: 'qualified' },
    { name: 'it', device: 'ups', form: 'qualified' },
    { name: 'load', form: 'window', fn: 'mean', windowMs: 900_000 },
    { name: 'power', form: 'round-aggregate', fn: 'sum' },
  ]);
  t.equal(e.scope, 'rule');
  t.equal(compile('power * 2').scope, 'device');
});

t.test('expr — null propagates; comparisons with a missing value are no verdict', async (t) => {
  t.equal(ev('missing + 1'), null);
  t.equal(ev('missing > 1'), null);
  t.equal(ev('missing > 1 && 1 > 2'), false, 'false wins over missing in &&');
  t.equal(ev('missing > 1 || 2 > 1'), true, 'true wins over missing in ||');
  t.equal(ev('sum(nothing)'), null);
  t.equal(ev('count(nothing)'), 0);
});

t.test('expr — filters and transforms see the reading; counters become rates across wraps', async (t) => {
  t.equal(ev('value * 1000', {}, { value: 22.5 }, 'transform'), 22500);
  t.equal(ev('value >= 0', {}, { value: -1 }, 'filter'), false);
  t.equal(ev('rate(value)', {}, { value: 1500, prev: 1000, dt: 10 }, 'transform'), 50);
  t.equal(ev('rate(value)', {}, { value: 100, prev: 4294967196, dt: 10 }, 'transform'), 20, '32-bit wrap');
  t.equal(ev('rate(value) * 8', {}, { value: 100, prev: null, dt: null }, 'transform'), null, 'no rate on the first reading');
  t.throws(() => compile('value * 2', { context: 'calculated' }), ExprCheckError, 'value is only for filters and transforms');
});

t.test('expr — errors say what and where', async (t) => {
  const bad: Array<[string, RegExp, number]> = [
    ['1 +', /unexpected end of input at 1:4/, 3],
    ['(1 + 2', /expected '\)' but found end of input at 1:7/, 6],
    ['1 + * 2', /unexpected '\*' at 1:5/, 4],
    ['"open', /unterminated string at 1:1/, 0],
    ['a $ b', /unexpected character '\$' at 1:3/, 2],
    ['12abc', /malformed number/, 0],
    ['foo(1)', /unknown function foo\(\) at 1:1/, 0],
    ['abs(1, 2)', /abs\(\) takes 1 argument/, 0],
    ['mean(x, "soon")', /"soon" is not a window/, 8],
    ['1 2', /unexpected '2' after the expression at 1:3/, 2],
    ['x @', /expected a device id after '@'/, 3],
    ['matches(s, "(")', /invalid pattern: missing closing \) '\(' at 1:13/, 12],
    ['matches(s, "(a)\\\\1")', /backreferences are not supported/, 15],
    ['matches(s, "x(?=y)")', /lookahead and lookbehind are not supported.* at 1:14/, 13],
    ['power@*', /needs an aggregate/, 0],
  ];
  for (const [src, msg, offset] of bad) {
    const err = t.throws(() => compile(src)) as ExprSyntaxError | ExprCheckError;
    t.match(err.message, msg, src);
    t.equal(err.pos.offset, offset, `${src}: offset`);
  }
  t.throws(() => compile('pue > 1.5 && ghost < 2', { known: (id) => id === 'pue' }), { name: 'ExprCheckError', message: /unknown indicator 'ghost' at 1:14/ });
  t.throws(() => ev('1 / (2 - 2)'), { name: 'ExprEvalError', message: /division by zero/ });
  t.throws(() => ev('"a" * 2'), { name: 'ExprEvalError', message: /needs a number/ });
});

t.test('expr — patterns run in linear time: nested repetition on a hostile text answers at once', async (t) => {
  // A backtracking engine takes about 2^41 steps here; the linear-time one reads the text once.
  const evil = compile('matches(label, "^(a+)+$")', { context: 'decision' });
  t.equal(evil.evaluate(env({ label: 'a'.repeat(40) + '!' })), false);
  t.equal(evil.evaluate(env({ label: 'a'.repeat(41) })), true);
  const words = compile('matches(msg, "(\\\\w+\\\\s?)*error")');
  t.equal(words.evaluate(env({ msg: 'the quick brown fox jumps over the lazy dog!' })), false);
  t.equal(words.evaluate(env({ msg: 'disk error' })), true);
  t.equal(compile('matches(msg, "end$")').evaluate(env({ msg: 'x'.repeat(PATTERN_LIMITS.maxInput) + 'end' })), false, 'text beyond the input cap is not searched');
  t.equal(compilePattern('FAILED', { ignoreCase: true }).test('login failed'), true);
  t.throws(() => compilePattern('a'.repeat(PATTERN_LIMITS.maxLength + 1)), { name: 'ExprCheckError', message: /pattern longer than 1024 characters/ });
  t.throws(() => compilePattern('(?<!x)y'), { name: 'ExprCheckError', message: /lookahead and lookbehind are not supported.* at 1:1$/ });
});

t.test('expr — guards: deep nesting and long input are refused cleanly', async (t) => {
  t.throws(() => compile('('.repeat(100) + '1' + ')'.repeat(100)), { name: 'ExprSyntaxError', message: /nested deeper/ });
  t.throws(() => compile('1+'.repeat(3000) + '1'), { name: 'ExprSyntaxError', message: /longer than 4096/ });
});

t.test('expr — random garbage only ever raises syntax or check errors', async (t) => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const alphabet = 'ab1 .+-*/%()<>=!&|?:,"\'`@[]x_9e';
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    const src = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    try {
      compile(src);
      parsed++;
    } catch (err) {
      if (!(err instanceof ExprSyntaxError || err instanceof ExprCheckError)) return void t.fail(`${JSON.stringify(src)} threw ${String(err)}`);
    }
  }
  t.ok(parsed > 0, `${parsed} of 5000 random strings parsed; the rest were refused cleanly`);
});

t.test('expr — the paper’s indicators compute known numbers', async (t) => {
  const by = Object.fromEntries(examples.map((e) => [e.id, compile(e.formula)]));
  const site = env({ facility_power: 150_000, it_power: 100_000, facility_energy_efficiency: 0.5, facility_utilization: 0.8, it_energy_efficiency: 0.5, it_utilization: 0.2 });
  t.equal(by.pue!.evaluate(site), 1.5);
  t.equal(by.dcie!.evaluate(site), (100_000 / 150_000) * 100);
  t.equal(Number(by.cade!.evaluate(site)).toFixed(6), '4.000000', 'CADE = FE × ITAE = (0.5 × 0.8) × (0.5 × 0.2) = 4 %');
  t.equal(by.network_load_15m!.evaluate(env({}, { window: (fn, name, ms) => (fn === 'mean' && name === 'network_load' && ms === 900_000 ? 1e6 : null) })), 1e6);
});
