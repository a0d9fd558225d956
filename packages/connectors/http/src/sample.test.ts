import t from 'tap';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { check, Device, Indicator, issues, ProbeConfig, Rule } from '@probemesh/model';
import { httpConnector, restConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for http and rest', async (t) => {
  const doc = parse(await readFile(new URL('../sample.yaml', import.meta.url), 'utf8')) as Record<string, unknown[]>;
  t.same(issues(ProbeConfig, { id: 'sample', ...doc }), [], 'fits ProbeConfig');
  const connectors = { http: httpConnector, rest: restConnector } as const;
  for (const d of doc.devices!.map((x) => check(Device, x, 'device')))
    for (const [scheme, settings] of Object.entries(d.protocols ?? {})) t.same(issues(connectors[scheme as keyof typeof connectors].deviceParams!, settings), [], `device ${d.id} ${scheme} settings`);
  for (const i of doc.indicators!.map((x) => check(Indicator, x, 'indicator'))) {
    if (i.kind !== 'atomic') continue;
    const { scheme, ...params } = i.source;
    t.ok(scheme in connectors, `indicator ${i.id}: scheme ${scheme}`);
    t.same(issues(connectors[scheme as keyof typeof connectors].params, params), [], `indicator ${i.id} params`);
  }
  for (const r of doc.rules!) check(Rule, r, 'rule');
});
