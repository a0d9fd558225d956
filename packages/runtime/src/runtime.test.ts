import t from 'tap';
import { ManualClock, defineConnector, failure, reading, type Connector } from '@probemesh/core';
import { Type } from '@probemesh/model';
import { tempDir, waitUntil } from '@probemesh/testkit';
import type { Test } from 'tap';
import { Probe, checkEntities } from './index.js';

/**
 * A connector defined by the test, because the faults under test (a connector that hands the
 * core a NaN, a device whose value the test sets between ticks) cannot be made to happen on
 * demand with a real device. Real devices are exercised in test/ (snmpd, HTTP).
 */
function tableConnector(values: Map<string, number | string>, reads = { inFlight: 0, most: 0 }): Connector {
  return defineConnector({
    scheme: 'table',
    summary: 'values the test sets, by device and key',
    params: Type.Object({ key: Type.String() }, { additionalProperties: false }),
    perDevice: true,
    start: () => ({
      async read(reqs) {
        reads.most = Math.max(reads.most, ++reads.inFlight);
        await new Promise((r) => setImmediate(r)); // a turn of the event loop in which another tick could start
        reads.inFlight--;
        return reqs.map((r) => {
          const v = values.get(`${r.device?.id}/${(r.params as { key: string }).key}`);
          return v === undefined ? failure('timeout', `no answer from ${r.device?.id}`) : reading(v);
        });
      },
      async stop() {},
    }),
  });
}

async function setup(t: Test, values: Map<string, number | string>, more: { clock?: ManualClock; reads?: { inFlight: number; most: number } } = {}) {
  const dir = await tempDir();
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [tableConnector(values, more.reads)], restart: { initialMs: 20, maxMs: 20, maxRestarts: 2 }, ...(more.clock ? { clock: more.clock } : {}) });
  t.teardown(async () => {
    await probe.stop();
    await dir.remove();
  });
  await probe.put('devices', { id: 'a', address: '127.0.0.1', tags: { net: 'n1' } });
  await probe.put('devices', { id: 'b', address: '127.0.0.1', tags: { net: 'n1' } });
  await probe.put('indicators', { id: 'power', kind: 'atomic', source: { scheme: 'table', key: 'power' } });
  await probe.put('indicators', { id: 'total', kind: 'calculated', formula: 'sum(power)' });
  await probe.put('indicators', { id: 'double', kind: 'calculated', formula: 'power * 2' });
  return probe;
}

t.test('runtime — a tick stores readings, per-device and rule-level formulas', async (t) => {
  const values = new Map<string, number | string>([
    ['a/power', 100],
    ['b/power', 250],
  ]);
  const probe = await setup(t, values);
  await probe.put('rules', { id: 'r', indicators: ['power', 'double', 'total'], targets: { tags: { net: 'n1' } }, period: '1h' });
  await probe.tickNow('r');
  const q = (indicator: string, device?: string) => probe.query({ indicator, ...(device ? { device } : {}), mode: 'records' });
  t.same(
    (q('power') as { records: { device?: string; datum: unknown }[] }).records.map((r) => [r.device, r.datum]).sort(),
    [
      ['a', 100],
      ['b', 250],
    ],
  );
  t.same((q('double', 'b') as { records: { datum: unknown }[] }).records.map((r) => r.datum), [500]);
  t.same((q('total') as { records: { device?: string; datum: unknown }[] }).records.map((r) => [r.device, r.datum]), [[undefined, 350]]);
  const st = probe.ruleStates().find((s) => s.rule === 'r')!;
  t.equal(st.ticks, 1);
  t.equal(st.errors, 0);
});

t.test('runtime — a device that does not answer is reported in its rule only', async (t) => {
  const values = new Map<string, number | string>([['a/power', 100]]);
  const probe = await setup(t, values);
  await probe.put('rules', { id: 'both', indicators: ['power'], targets: { devices: ['a', 'b'] }, period: '1h' });
  await probe.put('rules', { id: 'only-a', indicators: ['power'], targets: { devices: ['a'] }, period: '1h' });
  await probe.tickNow('both');
  await probe.tickNow('only-a');
  const states = Object.fromEntries(probe.ruleStates().map((s) => [s.rule, s]));
  t.equal(states.both!.errors, 1);
  t.match(states.both!.lastError, /power@b: no answer from b/);
  t.equal(states['only-a']!.errors, 0);
  t.equal(states.both!.status, 'running');
  const count = probe.query({ indicator: 'power', device: 'a', mode: 'count' });
  t.same(count, { mode: 'count', count: 2 }, "a's value is stored by both rules");
});

t.test('runtime — a crashing rule is restarted with back-off, then failed; others keep ticking', async (t) => {
  const values = new Map<string, number | string>([
    ['a/power', Number.NaN], // a connector bug: the store refuses NaN, so the tick throws
    ['b/power', 7],
  ]);
  const probe = await setup(t, values);
  await probe.put('rules', { id: 'bad', indicators: ['power'], targets: { devices: ['a'] }, period: '50ms' });
  await probe.put('rules', { id: 'good', indicators: ['power'], targets: { devices: ['b'] }, period: '50ms' });
  const state = (id: string) => probe.ruleStates().find((s) => s.rule === id)!;
  await waitUntil('bad rule failed', () => state('bad').status === 'failed', 10_000);
  t.equal(state('bad').restarts, 2, 'restarted as often as the intensity limit allows');
  t.match(state('bad').lastError, /NaN|finite|number/i, 'the crash is visible');
  await waitUntil('good rule ticks', () => state('good').ticks >= 3, 10_000);
  t.equal(state('good').status, 'running');
  t.same(probe.query({ indicator: 'power', device: 'a', mode: 'count' }), { mode: 'count', count: 0 }, 'nothing of the bad batches is stored');
  values.set('a/power', 1);
  await probe.put('rules', { id: 'bad', indicators: ['power'], targets: { devices: ['a'] }, period: '50ms' });
  await waitUntil('fixed rule ticks', () => state('bad').status === 'running' && probe.query({ indicator: 'power', device: 'a', mode: 'count' }).mode === 'count' && (probe.query({ indicator: 'power', device: 'a', mode: 'count' }) as { count: number }).count > 0, 10_000);
  t.pass('replacing a failed rule runs it again');
});

t.test('runtime — bad configuration is refused with what is wrong, and changes nothing', async (t) => {
  const probe = await setup(t, new Map());
  await t.rejects(probe.put('indicators', { id: 'x', kind: 'calculated', formula: 'power * (' }), { name: 'UnprocessableError', message: /indicator 'x' formula/ });
  await t.rejects(probe.put('indicators', { id: 'y', kind: 'calculated', formula: 'nosuch + 1' }), { name: 'UnprocessableError', message: /nosuch/ });
  await t.rejects(probe.put('indicators', { id: 'z', kind: 'atomic', source: { scheme: 'table' } }), { name: 'UnprocessableError', message: /table parameters/ });
  await t.rejects(probe.put('indicators', { id: 'w', kind: 'atomic', source: { scheme: 'carrier-pigeon' } }), { name: 'UnprocessableError', message: /no connector for scheme 'carrier-pigeon'/ });
  await t.rejects(probe.put('rules', { id: 'r', indicators: ['ghost'], period: '10s' }), { name: 'UnprocessableError', message: /unknown indicator\(s\) ghost/ });
  await t.rejects(probe.put('rules', { id: 'r', indicators: ['power'], period: 'soon' }), { name: 'ValidationError' });
  t.same(
    probe.list('indicators').map((i) => i.id).sort(),
    ['double', 'power', 'total'],
  );
  t.same(probe.list('rules'), []);
  await probe.put('rules', { id: 'r', indicators: ['power', 'total'], period: '1h' });
  await t.rejects(probe.remove('indicators', 'power'), { name: 'ConflictError', message: /still used by rule 'r'/ });
  t.ok(probe.list('indicators').some((i) => i.id === 'power'), 'still there');
});

t.test('runtime — decisions fire once, resolve once, and honour their hold time', async (t) => {
  const values = new Map<string, number | string>([['a/power', 50]]);
  const probe = await setup(t, values);
  await probe.put('rules', {
    id: 'hot',
    indicators: ['power'],
    targets: { devices: ['a'] },
    period: '1h',
    decisions: [{ id: 'over', when: 'power > 100', severity: 'critical', indicator: 'power', message: 'power {value} on {device}' }],
  });
  const seen: string[] = [];
  probe.onAlert((a) => seen.push(`${a.state}:${a.device}:${a.value}`));
  await probe.tickNow('hot');
  values.set('a/power', 150);
  await probe.tickNow('hot');
  values.set('a/power', 160);
  await probe.tickNow('hot');
  values.set('a/power', 20);
  await probe.tickNow('hot');
  await probe.tickNow('hot');
  t.same(seen, ['firing:a:150', 'resolved:a:20']);
  const [firing] = probe.alerts({ state: 'firing' });
  t.equal(firing?.message, 'power 150 on a');
  t.equal(firing?.severity, 'critical');
});

t.test('runtime — configuration survives a restart', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const values = new Map<string, number | string>([['a/power', 5]]);
  let probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [tableConnector(values)] });
  await probe.put('devices', { id: 'a', address: '127.0.0.1' });
  await probe.put('indicators', { id: 'power', kind: 'atomic', source: { scheme: 'table', key: 'power' } });
  await probe.put('indicators', { id: 'twice', kind: 'calculated', formula: 'power * 2' });
  await probe.put('rules', { id: 'r', indicators: ['power', 'twice'], targets: { devices: ['a'] }, period: '1h' });
  await probe.setStatic('racks', 12);
  await probe.tickNow('r');
  await probe.stop();
  probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [tableConnector(values)] });
  t.teardown(() => probe.stop());
  t.same(probe.list('rules').map((r) => r.id), ['r']);
  t.same(probe.query({ indicator: 'twice', mode: 'sum' }), { mode: 'sum', value: 10, count: 1 });
  t.same(probe.query({ indicator: 'racks', mode: 'records' }).mode, 'records');
  t.equal(probe.get('indicators', 'racks').kind, 'static');
});

t.test('runtime — checkEntities refuses what a probe would, each with its place and the probe\'s own error, and starts nothing', async (t) => {
  const entities = {
    devices: [{ id: 'a', address: '127.0.0.1' }],
    indicators: [
      { id: 'density', kind: 'calculated', formula: 'racks / area' },
      { id: 'racks', kind: 'static', value: 12 },
      { id: 'area', kind: 'static', value: 300 },
      { id: 'power', kind: 'atomic', source: { scheme: 'table', kee: 'power' } },
      { id: 'typo', kind: 'calculated', formula: 'rakcs * 2' },
    ],
    rules: [{ id: 'r', indicators: ['density', 'ghost'], period: '10s' }],
  } as never;
  const problems = await checkEntities([tableConnector(new Map())], entities);
  t.same(
    problems.map((p) => [p.path, (p.error as Error).name]),
    [['/indicators/3', 'UnprocessableError'], ['/indicators/4', 'UnprocessableError'], ['/rules/0', 'UnprocessableError']],
    'formulas over later indicators are fine; the bad parameter, the unknown name and the unknown indicator are not',
  );
  t.match((problems[1]!.error as Error).message, /indicator 'typo' formula: unknown indicator 'rakcs'/);
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const err = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [tableConnector(new Map())] }, entities).catch((e: Error) => e);
  t.equal((err as Error).message, (problems[0]!.error as Error).message, 'the probe refuses the first with the same message');
  t.same(await checkEntities([tableConnector(new Map())], { indicators: [{ id: 'racks', kind: 'static', value: 12 }] }), []);
});

t.test('runtime — a dead-man decision fires once for a target silent for N periods, resolves when it answers again', async (t) => {
  const values = new Map<string, number | string>([['a/power', 1]]);
  const probe = await setup(t, values);
  await t.rejects(
    probe.put('rules', { id: 'x', indicators: ['power'], period: '1h', decisions: [{ id: 'd', when: 'power > 1', unanswered: 2 }] }),
    { name: 'UnprocessableError', message: "rule 'x' decision 'd': give either when (a condition) or unanswered (periods without an answer from a target), not both" },
  );
  await t.rejects(probe.put('rules', { id: 'x', indicators: ['power'], period: '1h', decisions: [{ id: 'd' }] }), { message: /not neither/ });
  await probe.put('rules', { id: 'watch', indicators: ['power'], targets: { devices: ['a', 'b'] }, period: '1h', decisions: [{ id: 'silent', unanswered: 3, severity: 'critical' }] });
  const seen: string[] = [];
  probe.onAlert((a) => seen.push(`${a.state} ${a.device} ${a.value}: ${a.message}`));
  for (let i = 0; i < 2; i++) await probe.tickNow('watch');
  t.same(seen, [], 'two silent periods of three: nothing yet');
  await probe.tickNow('watch');
  await probe.tickNow('watch');
  t.same(seen, ['firing b 3: watch/silent: no answer for 3 periods on b'], 'fires once for the silent target only');
  values.set('b/power', 2);
  await probe.tickNow('watch');
  t.same(seen.slice(1), ['resolved b 0: watch/silent: no answer for 3 periods on b'], 'resolves when it answers');
  t.equal(probe.alerts({ state: 'firing' })[0]?.severity, 'critical');
});

t.test('runtime — tickNow goes through the mailbox: ticks never overlap, and one asked of a stopped rule says so', async (t) => {
  const reads = { inFlight: 0, most: 0 };
  const probe = await setup(t, new Map([['a/power', 1]]), { reads });
  await probe.put('rules', { id: 'r', indicators: ['power'], targets: { devices: ['a'] }, period: '1h' });
  await Promise.all([probe.tickNow('r'), probe.tickNow('r'), probe.tickNow('r')]);
  t.equal(reads.most, 1, 'one tick at a time');
  t.equal(probe.ruleStates()[0]?.ticks, 3, 'each ran');
  const running = probe.tickNow('r');
  const queued = probe.tickNow('r');
  await probe.remove('rules', 'r');
  await running;
  await t.rejects(queued, { name: 'ConflictError', message: "rule 'r' stopped before its tick ran" }, 'a tick still in the mailbox is refused, not forgotten');
});

t.test('runtime — the health snapshot: rule states, the store, and values committed per second over the last minute', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const probe = await setup(t, new Map([['a/power', 1], ['b/power', 2]]), { clock });
  await probe.put('rules', { id: 'r', indicators: ['power'], targets: { devices: ['a', 'b'] }, period: '1h' });
  t.equal(probe.health().valuesPerS, 0, 'nothing yet');
  for (let i = 0; i < 70; i++) {
    await clock.advance(1000);
    await probe.tickNow('r'); // two values a second
  }
  await clock.advance(1000);
  const h = probe.health();
  t.equal(h.valuesPerS, 2, 'measured: 120 values over the last 60 s');
  t.same([h.rules.map((r) => [r.rule, r.ticks]), h.series, h.store.available], [[['r', 70]], 2, true], 'with the rule states, the series and the store');
});

t.test('runtime — a dry run tries a formula, transform or decision on current values, saving nothing, and refuses text as saving would', async (t) => {
  const values = new Map<string, number | string>([
    ['a/power', 100],
    ['b/power', 250],
  ]);
  const probe = await setup(t, values);
  await probe.put('rules', { id: 'r', indicators: ['power'], targets: { devices: ['a', 'b'] }, period: '1h' });
  await probe.tickNow('r');
  const indicators = probe.list('indicators');

  t.same(probe.dryRun({ context: 'calculated', indicator: 'kw', expr: 'power / 1000', rule: 'r' }), { context: 'calculated', results: [{ device: 'a', value: 0.1 }, { device: 'b', value: 0.25 }] }, 'per target of the rule');
  t.same(probe.dryRun({ context: 'calculated', expr: 'sum(power)', rule: 'r' }).results, [{ value: 350 }], 'a round aggregate over the current values');
  t.same(probe.dryRun({ context: 'calculated', expr: 'power / (power - 100)', device: 'a' }).results, [{ device: 'a', error: 'division by zero' }], 'an evaluation problem is an outcome');
  t.same(probe.dryRun({ context: 'calculated', expr: 'power * 1e308', device: 'b' }).results, [{ device: 'b', error: 'the formula gave Infinity' }], 'as is a value that is not finite');
  t.same(probe.dryRun({ context: 'transform', indicator: 'power', expr: 'value / 1000', device: 'b', value: 2500 }).results, [{ device: 'b', value: 2.5 }], 'a transform on a given reading');
  t.same(probe.dryRun({ context: 'filter', indicator: 'power', expr: 'value > 200', rule: 'r' }).results, [{ device: 'a', value: false }, { device: 'b', value: true }], 'a filter on the newest readings');

  const tried = probe.dryRun({ context: 'decision', expr: 'power > 200', rule: 'r', decision: { id: 'hot', severity: 'critical', indicator: 'power', message: '{device} draws {value} W' } });
  t.same(tried.results.map((o) => [o.device, o.value, o.alert?.message, o.alert?.state]), [['a', false, undefined, undefined], ['b', true, 'b draws 250 W', 'firing']], 'the alert that would fire');
  t.equal(tried.results[1]?.alert?.id, 'p1.r.hot.b');

  const saving = await probe.put('indicators', { id: 'x', kind: 'calculated', formula: 'power *\n  (2 +' }).catch((e: Error) => e);
  t.throws(() => probe.dryRun({ context: 'calculated', indicator: 'x', expr: 'power *\n  (2 +' }), { name: 'UnprocessableError', message: (saving as Error).message }, 'the same error as saving');
  t.match((saving as Error).message, /indicator 'x' formula: .* at 2:\d+$/, 'with line:column');
  t.throws(() => probe.dryRun({ context: 'decision', expr: 'ghost > 1', rule: 'r', decision: { id: 'd' } }), { name: 'UnprocessableError', message: /rule 'r' decision 'd': .*ghost/ });
  t.throws(() => probe.dryRun({ context: 'calculated', expr: '1', rule: 'nope' }), { name: 'NotFoundError' });
  t.throws(() => probe.dryRun({ context: 'sometimes', expr: '1' } as never), { name: 'ValidationError' });
  t.same(probe.list('indicators'), indicators, 'nothing saved');
  t.same(probe.alerts(), [], 'nothing fired');
});

t.test('runtime — firing alerts survive a restart: still true, no second firing; cleared, one resolution; a rule that no longer loads and the store’s own alert resolve at start', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const clock = new ManualClock(1_700_000_000_000);
  const values = new Map<string, number | string>([['a/power', 150]]);
  const start = (connectors: Connector[] = [tableConnector(values)]) => Probe.start({ id: 'p1', dataDir: dir.path, connectors, clock });
  /** Each transition the probe lists since it started (those it took back first). */
  const transitions = (probe: Probe) => probe.alerts().map((a) => `${a.state} ${a.rule}/${a.decision}${a.device ? `@${a.device}` : ''} since ${a.since - 1_700_000_000_000}`);
  let probe = await start();
  await probe.put('devices', { id: 'a', address: '127.0.0.1' });
  await probe.put('indicators', { id: 'power', kind: 'atomic', source: { scheme: 'table', key: 'power' } });
  await probe.put('rules', { id: 'hot', indicators: ['power'], targets: { devices: ['a'] }, period: '1h', decisions: [{ id: 'over', when: 'power > 100', indicator: 'power' }] });
  await probe.tickNow('hot');
  probe.raise({ rule: 'mesh', decision: 'stale', device: 'child1', message: 'child1 is quiet' });
  probe.raise({ rule: 'store', decision: 'unavailable', severity: 'critical', message: 'disk full' });
  const fired = probe.active();
  t.same(fired.map((a) => a.id), ['p1.hot.over.a', 'p1.mesh.stale.child1', 'p1.store.unavailable']);
  await probe.stop();

  await clock.advance(60_000);
  probe = await start();
  t.same(transitions(probe), ['firing hot/over@a since 0', 'firing mesh/stale@child1 since 0', 'firing store/unavailable since 0', 'resolved store/unavailable since 0'], 'taken back as they fired; the store takes writes, so its own alert resolves at start');
  t.same(probe.active(), fired.slice(0, 2), 'the others fire on');
  await probe.tickNow('hot');
  t.equal(transitions(probe).length, 4, 'still true: no second firing');
  values.set('a/power', 20);
  await probe.tickNow('hot');
  await probe.tickNow('hot');
  t.same(transitions(probe).slice(4), ['resolved hot/over@a since 0'], 'cleared: resolved once, since it first fired');
  t.same(probe.active().map((a) => a.id), ['p1.mesh.stale.child1'], 'the mesh resolves its own (its dead-man asks active())');
  values.set('a/power', 150);
  await probe.tickNow('hot');
  await probe.stop();

  // Restarted without the connector its rule reads: the rule is skipped, and nothing would judge its alert again.
  probe = await start([]);
  t.teardown(() => probe.stop());
  t.same(probe.list('rules'), []);
  t.same(transitions(probe), ['firing mesh/stale@child1 since 0', 'firing hot/over@a since 60000', 'resolved hot/over@a since 60000'], 'the alert of a rule that no longer loads resolves at start');
  t.same(probe.active().map((a) => a.id), ['p1.mesh.stale.child1']);
});

t.test('runtime — a dead-man alert across a restart: a target still silent is neither resolved before it is judged again nor fired twice; it resolves at its answer', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const values = new Map<string, number | string>([['a/power', 1]]);
  const start = () => Probe.start({ id: 'p1', dataDir: dir.path, connectors: [tableConnector(values)] });
  let probe = await start();
  await probe.put('devices', { id: 'a', address: '127.0.0.1' });
  await probe.put('devices', { id: 'b', address: '127.0.0.1' });
  await probe.put('indicators', { id: 'power', kind: 'atomic', source: { scheme: 'table', key: 'power' } });
  await probe.put('rules', { id: 'watch', indicators: ['power'], targets: { devices: ['a', 'b'] }, period: '1h', decisions: [{ id: 'silent', unanswered: 3 }] });
  for (let i = 0; i < 3; i++) await probe.tickNow('watch');
  t.same(probe.active().map((a) => a.device), ['b']);
  await probe.stop();

  probe = await start();
  t.teardown(() => probe.stop());
  const transitions = () => probe.alerts().map((a) => `${a.state} ${a.device} ${a.value}`);
  for (let i = 0; i < 4; i++) await probe.tickNow('watch');
  t.same(transitions(), ['firing b 3'], 'b still silent, one to four periods after the restart: the alert as it fired, nothing more');
  values.set('b/power', 2);
  await probe.tickNow('watch');
  t.same(transitions(), ['firing b 3', 'resolved b 0'], 'resolved once at its answer');
});

t.test('runtime — rule ids under which components raise alerts are refused for user rules', async (t) => {
  const probe = await setup(t, new Map());
  await t.rejects(probe.put('rules', { id: 'store', indicators: ['power'], period: '1h' }), { name: 'UnprocessableError', message: "rule 'store': the id 'store' is reserved for the store's own alerts (a full disk); give the rule another id" });
  await t.rejects(probe.put('rules', { id: 'mesh', indicators: ['power'], period: '1h' }), { name: 'UnprocessableError', message: "rule 'mesh': the id 'mesh' is reserved for the mesh's dead-man alerts (a child probe gone quiet); give the rule another id" });
  t.same(probe.list('rules'), [], 'nothing saved');
  const problems = await checkEntities([], { indicators: [{ id: 'racks', kind: 'static', value: 1 }], rules: [{ id: 'store', indicators: ['racks'], period: '1h' }] });
  t.same(problems.map((p) => [p.path, (p.error as Error).message]), [['/rules/0', "rule 'store': the id 'store' is reserved for the store's own alerts (a full disk); give the rule another id"]], 'a config file is checked alike');
});

t.test('runtime — the outbox starts a sink with what fires now, and stops it when it is removed or the probe stops', async (t) => {
  const probe = await setup(t, new Map());
  probe.raise({ rule: 'mesh', decision: 'stale', device: 'c1', message: 'c1 is quiet' });
  const calls: string[] = [];
  const sink = (name: string) => ({
    name,
    deliver: async () => undefined,
    start: (host: { active(): Array<{ id: string }> }) => calls.push(`start ${name}: ${host.active().map((a) => a.id).join()}`),
    stop: () => void calls.push(`stop ${name}`),
  });
  const remove = probe.addSink(sink('one'));
  probe.addSink(sink('two'));
  await remove();
  await remove();
  await probe.stop();
  t.same(calls, ['start one: p1.mesh.stale.c1', 'start two: p1.mesh.stale.c1', 'stop one', 'stop two']);
});

t.test('runtime — a formula follows its inputs: a device that did not answer gets no figure from its old reading; a formula over statics alone is computed each tick', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const values = new Map<string, number | string>([
    ['a/power', 100],
    ['b/power', 250],
  ]);
  const probe = await setup(t, values, { clock });
  await probe.put('indicators', { id: 'racks', kind: 'static', value: 12 });
  await probe.put('indicators', { id: 'slots', kind: 'calculated', formula: 'racks * 42' });
  await probe.put('rules', { id: 'r', indicators: ['power', 'double', 'total', 'racks', 'slots'], targets: { devices: ['a', 'b'] }, period: '1h' });
  await probe.tickNow('r');
  values.delete('b/power');
  await clock.advance(10_000);
  await probe.tickNow('r');
  const at = (indicator: string, device?: string) =>
    (probe.query({ indicator, ...(device ? { device } : {}) }) as { records: Array<{ ts: number; datum: number }> }).records.map((r) => [r.ts - 1_700_000_000_000, r.datum]);
  t.same(at('double', 'a'), [[0, 200], [10_000, 200]], 'a answered both ticks: a figure each');
  t.same(at('double', 'b'), [[0, 500]], 'b did not answer the second: no figure from its old reading');
  t.same(at('total'), [[0, 350], [10_000, 100]], "a round aggregate takes the tick's readings");
  t.same(at('slots'), [[0, 504], [10_000, 504]], 'over a static alone: each tick');
});

t.test('runtime — a rule with an offset runs its rounds that long into each period, its values stamped with the period; an offset above half the period is refused', async (t) => {
  const T0 = 1_700_000_000_000; // on the 10 s grid
  const clock = new ManualClock(T0);
  const probe = await setup(t, new Map([['a/power', 100]]), { clock });
  await probe.put('rules', { id: 'r', indicators: ['power'], targets: { devices: ['a'] }, period: '10s', offset: '3s' });
  const ticks = () => probe.ruleStates().find((s) => s.rule === 'r')!.ticks;
  const stamps = () => (probe.query({ indicator: 'power' }) as { records: Array<{ ts: number }> }).records.map((r) => r.ts - T0);
  await clock.advance(2_999);
  t.equal(ticks(), 0, 'not before the offset');
  await clock.advance(1);
  await waitUntil('the first round', () => ticks() === 1);
  await clock.advance(10_000);
  await waitUntil('the second round', () => ticks() === 2);
  t.same(stamps(), [0, 10_000], "run 3 s in, stamped with the period's start");
  await t.rejects(probe.put('rules', { id: 'late', indicators: ['power'], targets: { devices: ['a'] }, period: '10s', offset: '6s' }), {
    name: 'UnprocessableError',
    message: "rule 'late': offset 6s is more than half the period (10s): a round would run too close to the next period's",
  });
  t.same(probe.list('rules').map((r) => r.id), ['r'], 'nothing saved');
});

t.test('runtime — a timer that fires a few ms early (as libuv timers do by the wall clock under load) does not run or skip a period twice', async (t) => {
  // A fake for a fault the system clock shows only under load: libuv counts a timer from the time
  // its loop turn began, so by Date.now() it may fire early by as long as that turn has run.
  class EarlyClock extends ManualClock {
    override setTimeout(fn: () => void, ms: number) {
      return super.setTimeout(fn, ms > 10 ? ms - 5 : ms);
    }
  }
  const T0 = 1_700_000_000_000;
  const clock = new EarlyClock(T0);
  const probe = await setup(t, new Map([['a/power', 100]]), { clock });
  await probe.put('rules', { id: 'r', indicators: ['power'], targets: { devices: ['a'] }, period: '1s' });
  const state = () => probe.ruleStates().find((s) => s.rule === 'r')!;
  for (let i = 1; i <= 5; i++) {
    await clock.advance(1000);
    await waitUntil(`round ${i}`, () => state().ticks >= i);
  }
  await clock.advance(100);
  t.match(state(), { ticks: 5, overruns: 0 }, 'one round a period, none counted as skipped');
  t.same((probe.query({ indicator: 'power' }) as { records: Array<{ ts: number }> }).records.map((r) => r.ts - T0), [1000, 2000, 3000, 4000, 5000], 'each stamped with its own period');
});
