import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { componentRules, subjects } from '@probemesh/model';
import { startNats, waitUntil } from '@probemesh/testkit';
import { MergedWindows, MeshNode, natsAuthorization, type MeshOptions, type MeshUser } from './index.js';
import { testProbe } from './probe.fixture.js';

const W = 500;

t.test('dead-man — a child that goes on beating but whose windows stop going out raises mesh/stale once at a plain subscriber and in /mesh/alerts; it resolves once they go out again, and no window is lost', async (t) => {
  // The fault is a real one: the operator's users.conf stops letting net1 publish its partials
  // (nats-server reloads it on SIGHUP), while its heartbeats are still allowed.
  const users: MeshUser[] = ['site', 'net1'].map((id) => ({ user: id, password: `${id}-secret` }));
  const ops = { user: 'ops', password: 'ops-secret' };
  const allowed = natsAuthorization(users, ops);
  const partials = JSON.stringify(subjects.partial('net1', '>'));
  const denied = allowed.replace(`${partials}, `, '');
  t.not(denied, allowed, "the users.conf without net1's partials differs");
  const nats = await startNats({ config: allowed });
  t.teardown(() => nats.remove());
  const confPath = join(nats.storeDir, 'nats.conf');
  const reload = async (from: string, to: string) => {
    await writeFile(confPath, (await readFile(confPath, 'utf8')).replace(from, to));
    nats.process.child.kill('SIGHUP');
  };

  const opsNc = await connect({ servers: nats.url, user: ops.user, pass: ops.password });
  t.teardown(() => opsNc.close());
  const heard: Array<{ subject: string; state: string; device?: string; message: string }> = [];
  opsNc.subscribe(subjects.alerts, { callback: (_e, m) => void heard.push({ subject: m.subject, ...m.json<{ state: string; device?: string; message: string }>() }) });
  await opsNc.flush();

  const common = { heartbeatMs: 200 } satisfies Partial<MeshOptions>;
  const natsOf = (id: string) => ({ servers: [nats.url], user: id, pass: `${id}-secret` });
  const merged = new MergedWindows();
  const site = await testProbe(t, 'site');
  merged.attach(site.store);
  const siteNode = await MeshNode.start({ id: 'site', role: 'coordinator', nats: natsOf('site'), store: site.store, merged, children: ['net1'], ...common }, site);
  t.teardown(() => siteNode.stop());
  const net1 = await testProbe(t, 'net1');
  const net1Node = await MeshNode.start({ id: 'net1', role: 'delegated', parent: 'site', nats: natsOf('net1'), store: net1.store, partials: { indicators: ['server_power'], windowMs: W }, ...common }, net1);
  t.teardown(() => net1Node.stop());
  let measuring = true;
  const loop = (async () => {
    while (measuring) {
      await net1.store.append([{ indicator: 'server_power', device: 's1', ts: Date.now(), datum: 250 }]);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.teardown(async () => {
    measuring = false;
    await loop;
  });
  const stale = () => site.active().filter((a) => a.rule === componentRules.mesh && a.decision === 'stale');
  const mergedWith = (pred: (w: { windowStart: number; count: number; state: string }) => boolean) => merged.list({ indicator: 'server_power' }).filter(pred);

  await waitUntil('windows merged', () => mergedWith((w) => w.count > 0 && w.state === 'complete').length >= 2, 15_000);
  await reload(allowed, denied);
  const stoppedAt = Date.now();
  await waitUntil('mesh/stale raised for net1', () => stale().length === 1, 30_000);
  t.match(stale(), [{ device: 'net1', severity: 'warning', message: /^probe net1 sends heartbeats but its windows stopped going out \(the last one delivered began / }], 'says what happened');
  t.equal(siteNode.membership().find((m) => m.probe === 'net1')?.stale, false, 'net1 is alive by its heartbeats all along');
  await waitUntil('the firing alert at a plain subscriber', () => heard.length === 1, 15_000);
  t.match(heard, [{ subject: subjects.alert('warning', 'site', componentRules.mesh), device: 'net1', state: 'firing' }]);
  await waitUntil('and in /mesh/alerts', () => siteNode.meshAlerts().length === 1, 15_000);
  t.match(siteNode.meshAlerts(), [{ rule: componentRules.mesh, decision: 'stale', device: 'net1', state: 'firing' }]);

  await reload(denied, allowed);
  const backAt = Date.now();
  await waitUntil('resolved once the windows go out again', () => stale().length === 0, 90_000);
  await waitUntil('the resolution at the plain subscriber', () => heard.length === 2, 15_000);
  t.match(heard[1], { device: 'net1', state: 'resolved', message: 'probe net1 is back' });
  await waitUntil('resolved in /mesh/alerts', () => siteNode.meshAlerts()[0]?.state === 'resolved', 15_000);
  t.equal(site.alerts().filter((a) => a.decision === 'stale').length, 2, 'fired once and resolved once');

  // The windows that did not go out meanwhile were owed, not lost: each merged once, exactly.
  const from = Math.floor(stoppedAt / W) * W - W;
  const to = Math.floor(backAt / W) * W;
  await waitUntil('the windows of the stall merged', () => mergedWith((w) => w.windowStart >= to && w.state === 'complete').length > 0, 30_000);
  const wrong: number[] = [];
  for (let s = from; s <= to; s += W) {
    const m = merged.get('server_power', s);
    const local = net1.store.window({ indicator: 'server_power' }, s, s + W);
    if (m?.state !== 'complete' || m.count !== local.count || m.sum !== local.sum) wrong.push(s);
  }
  t.same(wrong, [], `the ${(to - from) / W + 1} windows around the stall merged complete with net1's exact figures`);
});
