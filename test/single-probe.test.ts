import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { ManualClock, systemClock } from '@probemesh/core';
import { Probe } from '@probemesh/runtime';
import { UPS_OUTPUT_POWER_OID } from '@probemesh/demo';
import { builtinConnectors } from '@probemesh/probe';
import { startJsonDevice, startSnmpd, tempDir } from '@probemesh/testkit';

/** A real UPS (snmpd answering upsOutputPower), a real HTTP facility meter, and a probe on them. */
async function setup(t: Test, itPowerW: number, kw: { value: number }) {
  const ups = await startSnmpd({ overrides: [{ oid: UPS_OUTPUT_POWER_OID, type: 'integer', value: itPowerW }] });
  t.teardown(() => ups.stop());
  const meter = await startJsonDevice((path) => (path === '/power' ? { facility: { power_kw: kw.value } } : undefined));
  t.teardown(() => meter.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const clock = new ManualClock(1_700_000_000_000);
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: await builtinConnectors(), clock }, site(ups.port, meter.url) as never);
  t.teardown(() => probe.stop());
  return { probe, clock };
}

const site = (snmpPort: number, meterUrl: string) => ({
  devices: [
    { id: 'ups', address: '127.0.0.1', protocols: { snmp: { version: '2c', community: 'public', port: snmpPort } } },
    { id: 'meter', address: '127.0.0.1', protocols: { http: { baseUrl: meterUrl } } },
  ],
  indicators: [
    { id: 'it_power', kind: 'atomic', unit: 'W', source: { scheme: 'snmp', oid: UPS_OUTPUT_POWER_OID } },
    { id: 'facility_power', kind: 'atomic', unit: 'W', source: { scheme: 'http', path: '/power', json: '$.facility.power_kw' }, transform: 'value * 1000' },
    { id: 'rated', kind: 'static', value: 20000 },
    { id: 'pue', kind: 'calculated', formula: 'facility_power@meter / it_power@ups' },
    { id: 'dcie', kind: 'calculated', formula: '100 / pue' },
    { id: 'ups_load', kind: 'calculated', formula: 'it_power@ups / rated * 100' },
    { id: 'pue_mean', kind: 'calculated', formula: 'mean(pue, "1h")' },
  ],
  rules: [
    {
      id: 'energy',
      period: '1h',
      indicators: ['it_power', 'facility_power', 'pue', 'dcie', 'ups_load', 'pue_mean'],
      targets: { devices: ['ups', 'meter'] },
      decisions: [{ id: 'pue_high', when: 'pue > 1.6', for: '30s', severity: 'warning', indicator: 'pue' }],
    },
  ],
});

t.test('single probe — SNMP and HTTP readings, PUE, DCiE and means to the digit', async (t) => {
  const kw = { value: 22.5 };
  const { probe, clock } = await setup(t, 15000, kw);

  await probe.tickNow('energy');
  const last = (indicator: string) => {
    const r = probe.query({ indicator, last: 1, mode: 'records' });
    return r.mode === 'records' ? r.records[0]?.datum : undefined;
  };
  t.equal(last('it_power'), 15000, 'UPS output power read over SNMP');
  t.equal(last('facility_power'), 22500, 'meter read over HTTP and transformed to W');
  t.equal(last('pue'), 1.5);
  t.equal(Number(last('dcie')).toFixed(10), (100 / 1.5).toFixed(10));
  t.equal(last('ups_load'), 75);
  t.same(probe.ruleStates()[0]?.errors, 0, probe.ruleStates()[0]?.lastError ?? 'no errors');

  for (const v of [21, 24]) {
    kw.value = v;
    await clock.advance(10_000);
    await probe.tickNow('energy');
  }
  // PUE was 1.5, 1.4, 1.6: the stored mean and the formula's window mean agree to the digit.
  t.same(probe.query({ indicator: 'pue', mode: 'mean' }), { mode: 'mean', value: 1.5, count: 3 });
  t.equal(last('pue_mean'), 1.5);
  t.same(probe.query({ indicator: 'pue', mode: 'max' }).mode, 'max');
  t.equal((probe.query({ indicator: 'pue', mode: 'max' }) as { record: { datum: number } }).record.datum, 1.6);
});

t.test('single probe — alerts fire once after their hold time and resolve once', async (t) => {
  const kw = { value: 15 };
  const { probe, clock } = await setup(t, 10000, kw);
  const seen: string[] = [];
  probe.onAlert((a) => seen.push(`${a.state} ${a.value}`));
  const step = async (facilityKw: number) => {
    kw.value = facilityKw;
    await probe.tickNow('energy');
    await clock.advance(10_000);
  };
  await step(15); // 1.5
  await step(17); // 1.7: holding since now
  await step(17); // held 10 s
  await step(17); // held 20 s
  t.same(seen, [], 'not before the hold time');
  await step(18); // held 30 s: fires
  await step(18);
  await step(15); // resolves
  await step(15);
  t.same(seen, ['firing 1.8', 'resolved 1.5']);
});

t.test('single probe — an unreachable device and a wrong community stay in their rule', async (t) => {
  const ups = await startSnmpd({ communities: ['s3cret'], overrides: [{ oid: UPS_OUTPUT_POWER_OID, type: 'integer', value: 9000 }] });
  t.teardown(() => ups.stop());
  const silent = createSocket('udp4'); // a port where a device never answers
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => silent.close(() => r())));
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: await builtinConnectors(), clock: systemClock });
  t.teardown(() => probe.stop());
  const snmp = (port: number, community: string) => ({ snmp: { version: '2c', community, port, timeoutMs: 300, retries: 0 } });
  await probe.put('devices', { id: 'good', address: '127.0.0.1', protocols: snmp(ups.port, 's3cret') });
  await probe.put('devices', { id: 'wrong', address: '127.0.0.1', protocols: snmp(ups.port, 'public') });
  await probe.put('devices', { id: 'gone', address: '127.0.0.1', protocols: snmp((silent.address() as { port: number }).port, 's3cret') });
  await probe.put('indicators', { id: 'power', kind: 'atomic', source: { scheme: 'snmp', oid: UPS_OUTPUT_POWER_OID } });
  await probe.put('indicators', { id: 'broken', kind: 'calculated', formula: 'power / 0' });
  await probe.put('rules', { id: 'ok', indicators: ['power'], targets: { devices: ['good'] }, period: '1h' });
  await probe.put('rules', { id: 'mixed', indicators: ['power', 'broken'], targets: { devices: ['good', 'wrong', 'gone'] }, period: '1h', timeout: '3s' });
  await probe.tickNow('ok');
  await probe.tickNow('mixed');
  const st = Object.fromEntries(probe.ruleStates().map((s) => [s.rule, s]));
  t.equal(st.ok!.errors, 0, st.ok!.lastError ?? '');
  t.ok(st.mixed!.errors >= 2, `the mixed rule reports its problems: ${st.mixed!.lastError}`);
  t.match(st.mixed!.lastError, /power@wrong/);
  t.match(st.mixed!.lastError, /power@gone/);
  t.same(probe.query({ indicator: 'power', device: 'good', mode: 'sum' }), { mode: 'sum', value: 18000, count: 2 }, 'the good device is read by both rules');
  t.same(probe.query({ indicator: 'power', device: 'wrong', mode: 'count' }), { mode: 'count', count: 0 });
});
