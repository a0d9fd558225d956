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

t.test('model — issues say what would be valid: the field meant, the choices, the form', async (t) => {
  const config = {
    id: 'p1',
    dataDri: 'data',
    tokens: [{ name: 'ops', role: 'reader', token: 'x'.repeat(16) }],
    indicators: [{ id: 'a', kind: 'atomc' }, { id: 'b', kind: 'calculated', formla: 'a * 2' }],
    rules: [{ id: 'r', indicators: ['a'], period: '10x', decisions: [{ id: 'd', when: 'a > 1', severity: 'warnign' }] }],
  };
  t.same(issues(ProbeConfig, config), [
    { path: '/dataDri', message: "unknown field 'dataDri': did you mean 'dataDir'?" },
    { path: '/tokens/0/role', message: "expected 'read' or 'admin', not 'reader' (did you mean 'read'?)" },
    { path: '/indicators/0/kind', message: "expected one of 'atomic', 'calculated', 'static', not 'atomc' (did you mean 'atomic'?)" },
    { path: '/indicators/1/formula', message: `missing required field 'formula' (an expression over other indicators (name@device for one device) and window functions, e.g. facility_power@meter / it_power, mean(pue, "15m"))` },
    { path: '/indicators/1/formla', message: "unknown field 'formla': did you mean 'formula'?" },
    { path: '/rules/0/period', message: "expected a number followed by ms, s, m, h, d or w, e.g. 10s or 15m; or a whole number of milliseconds, not '10x'" },
    { path: '/rules/0/decisions/0/severity', message: "expected one of 'info', 'warning', 'critical', not 'warnign' (did you mean 'warning'?)" },
  ]);
  t.match(issues(ProbeConfig, { id: 'p1', colour: 'red' }), [{ path: '/colour', message: /^unknown field 'colour': the fields here are id, role, parent/ }], 'no close match: the fields allowed');
});
