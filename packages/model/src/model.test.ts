import t from 'tap';
import { Indicator, ProbeConfig, Query, ValidationError, check, durationMs, issues, subjects } from './index.js';

t.test('model — ids are validated', async (t) => {
  t.same(issues(Indicator, { id: 'pue', kind: 'static', value: 1.5 }), []);
  const bad = issues(Indicator, { id: 'no spaces', kind: 'static', value: 1 });
  t.ok(bad.length > 0, 'an id with a space is rejected');
  t.throws(() => check(Indicator, { id: 'x'.repeat(65), kind: 'static', value: 1 }, 'indicator'), ValidationError);
});

t.test('model — unknown fields are errors that name the path', async (t) => {
  const err = t.throws(() => check(Query, { mode: 'mean', colour: 'red' }, 'query')) as ValidationError;
  t.type(err, ValidationError);
  t.match(err.message, /invalid query/);
  t.ok(err.issues.some((i) => i.path === '/colour'), 'the unknown field is named');
});

t.test('model — a probe config with every kind of indicator', async (t) => {
  const cfg = check(ProbeConfig, {
    id: 'p1',
    devices: [{ id: 'ups', address: '127.0.0.1', protocols: { snmp: { version: '2c', community: 'public' } } }],
    indicators: [
      { id: 'load', kind: 'atomic', source: { scheme: 'snmp', oid: '1.3.6.1.2.1.33.1.4.4.1.4' }, transform: 'value * 1' },
      { id: 'pue', kind: 'calculated', formula: 'facility / it' },
      { id: 'racks', kind: 'static', value: 12 },
    ],
    rules: [{ id: 'r1', indicators: ['load'], targets: { devices: ['ups'] }, period: '10s', decisions: [{ id: 'hot', when: 'load > 80', severity: 'warning', for: '30s' }] }],
  });
  t.equal(cfg.rules?.[0]?.period, '10s');
});

t.test('model — durations', async (t) => {
  t.equal(durationMs('15m'), 900_000);
  t.equal(durationMs('500ms'), 500);
  t.equal(durationMs('1.5s'), 1500);
  t.equal(durationMs(42), 42);
  t.throws(() => durationMs('soon'), /not a duration/);
});

t.test('model — subjects follow the contract', async (t) => {
  t.equal(subjects.alert('critical', 'p1', 'r1'), 'pm.alert.critical.p1.r1');
  t.equal(subjects.partial('p1', 'power'), 'pm.partial.p1.power');
  t.equal(subjects.query('p1'), 'pm.query.p1');
});
