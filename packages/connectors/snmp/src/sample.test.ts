import t from 'tap';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { check, Device, Indicator, issues, ProbeConfig, Rule } from '@probemesh/model';
import { MibResolver, snmpConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for this connector', async (t) => {
  const doc = parse(await readFile(new URL('../sample.yaml', import.meta.url), 'utf8')) as Record<string, unknown[]>;
  t.same(issues(ProbeConfig, { id: 'sample', ...doc }), [], 'fits ProbeConfig');
  const mibs = new MibResolver();
  for (const d of doc.devices!.map((x) => check(Device, x, 'device'))) t.same(issues(snmpConnector.deviceParams!, d.protocols?.snmp), [], `device ${d.id} settings`);
  for (const i of doc.indicators!.map((x) => check(Indicator, x, 'indicator'))) {
    if (i.kind !== 'atomic') continue;
    const { scheme, ...params } = i.source;
    t.equal(scheme, 'snmp');
    t.same(issues(snmpConnector.params, params), [], `indicator ${i.id} params`);
    t.match(mibs.resolve(String(params.oid)), /^1\.3\.6\.1(\.\d+)+$/, `indicator ${i.id} OID resolves`);
  }
  for (const r of doc.rules!) check(Rule, r, 'rule');
});
