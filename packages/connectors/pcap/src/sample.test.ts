import t from 'tap';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { check, Indicator, issues, ProbeConfig, Rule } from '@probemesh/model';
import { pcapConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for pcap', async (t) => {
  const doc = parse(await readFile(new URL('../sample.yaml', import.meta.url), 'utf8')) as Record<string, unknown[]>;
  t.same(issues(ProbeConfig, { id: 'sample', ...doc }), [], 'fits ProbeConfig');
  for (const i of doc.indicators!.map((x) => check(Indicator, x, 'indicator'))) {
    if (i.kind !== 'atomic') continue;
    const { scheme, ...params } = i.source;
    t.equal(scheme, 'pcap', `indicator ${i.id}: scheme`);
    t.same(issues(pcapConnector.params, params), [], `indicator ${i.id} params`);
  }
  for (const r of doc.rules!) check(Rule, r, 'rule');
});
