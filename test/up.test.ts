import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { streams, subjects } from '@probemesh/model';
import { exampleLayout, facilityPowerW, itPowerW, server, SERVERS, up, writeConfigs } from '@probemesh/demo';
import { tempDir, waitUntil } from '@probemesh/testkit';

type Records = { records: Array<{ ts: number; datum: number; device?: string }> };

t.test('probemesh up — five networks and a site: merged IT power, PUE to the digit, an alert once; a killed coordinator resumes without counting twice', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const mesh = await up({ dir: dir.path, period: '2s', statusMs: 0, say: () => undefined });
  t.teardown(() => mesh.stop());
  const get = async <T>(probe: string, path: string): Promise<T> => {
    const res = await fetch(`${mesh.urls[probe]}${path}`, { headers: { authorization: `Bearer ${mesh.tokens.read}` } });
    return (await res.json()) as T;
  };
  const last = async (indicator: string) => (await get<Records>('site', `/query?indicator=${indicator}&last=1`)).records[0]?.datum;

  // A plain NATS subscriber, as the operator user.
  const nc = await connect({ servers: mesh.natsUrl, user: mesh.operator.user, pass: mesh.operator.password });
  t.teardown(() => nc.close());
  const alerts: string[] = [];
  nc.subscribe(subjects.alerts, { callback: (_e, m) => void alerts.push(`${m.subject} ${(m.json() as { device?: string; state: string }).device}:${(m.json() as { state: string }).state}`) });
  await nc.flush();

  const it = itPowerW();
  await waitUntil('site PUE from every network', async () => (await last('servers_reporting')) === SERVERS && (await last('pue')) !== undefined, 90_000);
  t.equal(await last('it_power'), it, `IT power: the sum of all ${SERVERS} servers' power (${it} W), merged from five networks`);
  const net4 = await readFile(join(mesh.dir, 'config', 'net4.yaml'), 'utf8');
  t.ok(!net4.includes(mesh.natsUrl) && /jsDomain: hub/.test(net4), 'networks 4 and 5 counted in it came through the second building\'s leaf node');
  t.equal(await last('facility_power'), facilityPowerW(), 'the UPS input power');
  t.equal(await last('pue'), facilityPowerW() / it, 'site PUE to the digit');
  t.equal(await last('dcie'), 100 / (facilityPowerW() / it));
  let cpuSum = 0;
  for (let n = 1; n <= SERVERS; n++) cpuSum += server(n).cpuPct;
  t.equal(await last('cpu_load_mean'), cpuSum / SERVERS, 'mean CPU over all servers, count-weighted');
  t.equal(await last('cpu_load_max'), 97);

  await waitUntil('every probe heard at the site', async () => (await get<unknown[]>('site', '/mesh')).length === 6, 30_000);
  const members = await get<Array<{ probe: string; role: string; parent?: string }>>('site', '/mesh');
  t.same(members.map((m) => [m.probe, m.role, m.parent]), [['net1', 'delegated', 'site'], ['net2', 'delegated', 'site'], ['net3', 'delegated', 'site'], ['net4', 'delegated', 'site'], ['net5', 'delegated', 'site'], ['site', 'coordinator', undefined]]);
  await waitUntil('the hot server alert at the site', async () => (await get<unknown[]>('site', '/mesh/alerts?state=firing')).length > 0, 30_000);
  t.match(await get('site', '/mesh/alerts'), [{ probe: 'net2', rule: 'servers', decision: 'cpu_hot', device: 'srv042', state: 'firing', value: 97 }], 'srv042 runs hot: net2 alerted the site');
  const alertCounts = async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const info = await (await jetstreamManager(nc)).streams.info(streams.alerts, { subjects_filter: subjects.alertsIn }); // what probes publish; the stream republishes it for subscribers
    return info.state.subjects;
  };
  t.same(await alertCounts(), { [subjects.alertIn('warning', 'net2', 'servers')]: 1 }, 'PM_ALERTS holds it once, for subscribers and coordinators that were away');
  t.match(await get('site', '/mesh/alerts?scope=everything'), { error: { message: /\/scope expected 'subtree' or 'mesh', not 'everything'/ } }, 'a bad scope says what is wrong');
  const viaSite = await get<Records>('site', '/query?probe=net2&indicator=cpu_load&device=srv042&last=1');
  t.equal(viaSite.records[0]?.datum, 97, 'a network probe queried through the site');

  // Kill the coordinator (SIGKILL) mid-run, start it again: it resumes from its durable consumer
  // and its saved merges; no window is counted twice, none is lost.
  const before = Date.now();
  await mesh.restart('site', 'kill');
  await waitUntil('site computing again', async () => ((await get<Records>('site', `/query?indicator=it_power&from=${before}`)).records.length ?? 0) >= 3, 60_000);
  const after = await get<Records>('site', `/query?indicator=servers_reporting&from=${before}`);
  t.ok(after.records.every((r) => r.datum <= SERVERS), `no window counted twice after the restart (servers reporting: ${after.records.map((r) => r.datum).join(', ')})`);
  t.equal(await last('it_power'), it, 'the same IT power as an uninterrupted run');
  t.equal(await last('pue'), facilityPowerW() / it);
  await new Promise((r) => setTimeout(r, 1000));
  t.same(await alertCounts(), { [subjects.alertIn('warning', 'net2', 'servers')]: 1 }, 'still once: nothing re-sent by the restart');
  t.ok(alerts.every((a) => a === `${subjects.alert('warning', 'net2', 'servers')} srv042:firing`) && alerts.length <= 1, `the subscriber saw it at most once (it may have joined after it fired): ${JSON.stringify(alerts)}`);
  t.same((await get<Array<{ decision: string }>>('site', '/mesh/alerts')).map((a) => a.decision), ['cpu_hot'], 'the restarted site still holds it, once');
});

t.test('probemesh up — the documented example in mesh-config/datacenter is what the generator writes', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const files = await writeConfigs(dir.path, exampleLayout(), '../../docs/probe-config.schema.json');
  t.equal(files.length, 6);
  for (const f of files) {
    const name = f.slice(dir.path.length + 1);
    t.equal(await readFile(f, 'utf8'), await readFile(join('mesh-config/datacenter', name), 'utf8'), `${name} is up to date (regenerate: probemesh-demo up --write-config mesh-config/datacenter)`);
  }
});

t.test('probemesh up — the product package depends on no test or demo code, and reads no file relative to its build folder', async (t) => {
  const pkg = JSON.parse(await readFile('packages/probe/package.json', 'utf8')) as Record<string, Record<string, string> | undefined>;
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies });
  t.same(deps.filter((d) => /testkit|demo/.test(d)), [], '@probemesh/probe lists neither testkit nor demo');
  const { readdir } = await import('node:fs/promises');
  // The product's own sources; its tests may find its build, as every package's tests do.
  for (const f of (await readdir('packages/probe/src')).filter((f) => !f.endsWith('.test.ts'))) {
    const text = await readFile(join('packages/probe/src', f), 'utf8');
    t.notMatch(text, /(from |import\()'@probemesh\/(testkit|demo)/, `${f} imports no test or demo code`);
    t.notMatch(text, /new URL\('\.\.\//, `${f} finds no file relative to its build folder`);
  }
});
