// npm run bench -- expr [--quick]
// User patterns on a linear-time engine. Throughput of realistic patterns over realistic syslog
// texts: re2js (what @probemesh/expr runs) and, when it is installed, the native `re2` binding
// (`npm i --no-save re2`, or PROBEMESH_RE2=<path to re2.js>), against V8's backtracking RegExp as
// the baseline of the same run. Then the ReDoS case `^(a+)+$` on "a"×n + "!": RegExp's time doubles
// with each character (measured at n = 20 or 22 only), the linear engines answer at once at n = 41
// and at n = 65,535 (the input cap).
import { createRequire } from 'node:module';
import { compilePattern, PATTERN_LIMITS } from '@probemesh/expr';

const quick = process.argv.includes('--quick');
const slice = quick ? 300 : 1000; // ms per measurement
const repeats = quick ? 3 : 5; // the median of these is reported
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'expr', ...o }));
const progress = (s: string) => process.stderr.write(`expr bench: ${s}\n`);

type Engine = { name: string; compile(p: string, ignoreCase: boolean): (s: string) => boolean };
const engines: Engine[] = [
  { name: 'regexp', compile: (p, i) => { const re = new RegExp(p, i ? 'i' : ''); return (s) => re.test(s); } },
  { name: 're2js', compile: (p, i) => { const re = compilePattern(p, { ignoreCase: i }); return (s) => re.test(s); } },
];
try {
  const RE2 = createRequire(import.meta.url)(process.env.PROBEMESH_RE2 ?? 're2') as new (p: string, f: string) => RegExp;
  engines.push({ name: 're2', compile: (p, i) => { const re = new RE2(p, i ? 'i' : ''); return (s) => re.test(s); } });
} catch {
  progress('the native re2 binding is not installed: measuring re2js against RegExp only');
}

// Patterns operators write: plain words, alternations, anchored, classes, a case-insensitive one.
const patterns: Array<[string, boolean]> = [
  ['Failed password', false],
  ['(?:link|line protocol).*down', true],
  ['" 5\\d\\d ', false],
  ['\\b(error|fail(ed|ure)?|critical)\\b', true],
  ['^<\\d+>1 \\S+ sw-rack\\d+', false],
];
const texts = Array.from({ length: 64 }, (_, i) => {
  const n = i * 7919;
  return [
    `<134>1 2024-06-15T10:00:${String(i % 60).padStart(2, '0')}Z sw-rack${i % 16}-a ifmgr ${n % 9000} LINK - Interface ge-0/0/${i % 48} link ${i % 3 ? 'up' : 'down'}`,
    `<190>Jun 15 10:00:00 web-${i % 8} nginx[${n % 30000}]: 10.0.${i % 255}.${n % 255} "GET /api/v1/items/${n} HTTP/1.1" ${i % 5 ? 200 : 503} ${n % 5000}`,
    `<38>Jun 15 10:00:00 bastion sshd[${n % 30000}]: ${i % 3 ? 'Accepted publickey' : 'Failed password'} for user${i % 10} from 192.0.2.${i} port ${40000 + i} ssh2`,
    `<3>1 2024-06-15T10:00:00.000+02:00 node-${i} kernel - - - [${n % 100000}.${n % 1000000}] eth${i % 4}: NIC Link is ${i % 2 ? 'Up 10 Gbps' : 'Down'}; disk ${i % 7 ? 'ok' : 'failure'}`,
  ][i % 4]!;
});

/** Searches per second of `tests` over the texts, the median of `repeats` slices. */
function rate(tests: Array<(s: string) => boolean>): number {
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    let hits = 0;
    const end = performance.now() + slice;
    while (performance.now() < end) {
      for (const test of tests) for (const s of texts) if (test(s)) hits++;
      n += tests.length * texts.length;
    }
    if (hits < 0) throw new Error('unreachable'); // keeps the work observable
    rates.push(n / (slice / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
}

progress(`${patterns.length} patterns × ${texts.length} texts, ${repeats} × ${slice} ms per engine`);
const baseline = rate(patterns.map(([p, i]) => engines[0]!.compile(p, i)));
emit({ metric: 'searches_per_s_regexp', value: Math.round(baseline), unit: 'searches/s' });
for (const e of engines.slice(1)) {
  const v = rate(patterns.map(([p, i]) => e.compile(p, i)));
  emit({ metric: `searches_per_s_${e.name}`, value: Math.round(v), unit: 'searches/s', baseline: Math.round(baseline), ratio: Number((v / baseline).toFixed(3)) });
}

/** Milliseconds for one search of `^(a+)+$` in "a"×n + "!". */
function redos(e: Engine, n: number): number {
  const test = e.compile('^(a+)+$', false);
  const text = 'a'.repeat(n) + '!';
  const t0 = performance.now();
  if (test(text)) throw new Error('matched');
  return performance.now() - t0;
}
const nRegexp = quick ? 20 : 22;
const regexpMs = redos(engines[0]!, nRegexp);
emit({ metric: `redos_ms_regexp_n${nRegexp}`, value: Number(regexpMs.toFixed(1)), unit: 'ms', note: `doubles with each further character: n = 41 would take about 2^${41 - nRegexp} times as long` });
for (const e of engines.slice(1)) {
  for (const n of [41, PATTERN_LIMITS.maxInput - 1]) {
    const ms = Math.min(...Array.from({ length: repeats }, () => redos(e, n)));
    emit({ metric: `redos_ms_${e.name}_n${n}`, value: Number(ms.toFixed(3)), unit: 'ms', ...(n === 41 ? {} : { baseline: Number(regexpMs.toFixed(1)), ratio: Number((ms / regexpMs).toFixed(4)) }) });
  }
}
