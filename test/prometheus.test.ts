import t from 'tap';
import { runProbe } from '@probemesh/probe';
import { startJsonDevice, startNats, startPrometheus, tempDir, waitUntil } from '@probemesh/testkit';

const TOKEN = 'prometheus-scrape-token-01';

/** One answer of Prometheus's instant query API. */
interface QueryAnswer {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

t.test('prometheus — a real Prometheus scrapes the coordinator’s /metrics with a bearer token and returns the site PUE', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dirs = await Promise.all([tempDir(), tempDir()]);
  t.teardown(() => Promise.all(dirs.map((d) => d.remove())));
  // Two servers draw 7 kW and 8 kW behind the delegate; the site meter reads 22.5 kW: PUE 1.5.
  const servers = await startJsonDevice((path) => ({ '/srv1/power': { watts: 7000 }, '/srv2/power': { watts: 8000 } })[path]);
  t.teardown(() => servers.stop());
  const meter = await startJsonDevice((path) => (path === '/power' ? { facility: { power_kw: 22.5 } } : undefined));
  t.teardown(() => meter.stop());
  const quiet = () => undefined;
  const common = { tokens: [{ name: 'prometheus', role: 'read' as const, token: TOKEN }], nats: { servers: [nats.url] }, http: { port: 0 } };

  const site = await runProbe(
    {
      id: 'site',
      role: 'coordinator',
      dataDir: dirs[0]!.path,
      ...common,
      mesh: { children: ['net1'] },
      devices: [{ id: 'meter', address: '127.0.0.1', protocols: { http: { baseUrl: meter.url }, rest: { baseUrl: meter.url } } }],
      indicators: [
        { id: 'facility_power', kind: 'atomic', unit: 'W', source: { scheme: 'http', path: '/power', json: '$.facility.power_kw' }, transform: 'value * 1000' },
        { id: 'it_power', kind: 'atomic', unit: 'W', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } },
        { id: 'pue', kind: 'calculated', formula: 'facility_power@meter / it_power' },
        // The same connector under its alias: two schemes whose stats share metric names.
        { id: 'meter_status', kind: 'atomic', source: { scheme: 'rest', path: '/power', measure: 'status' } },
      ],
      rules: [
        { id: 'meter', period: '1s', indicators: ['facility_power', 'meter_status'], targets: { devices: ['meter'] } },
        { id: 'site', period: '1s', indicators: ['it_power', 'pue'] },
      ],
    },
    { log: quiet },
  );
  t.teardown(() => site.stop());
  const net1 = await runProbe(
    {
      id: 'net1',
      role: 'delegated',
      parent: 'site',
      dataDir: dirs[1]!.path,
      ...common,
      mesh: { partials: { indicators: ['server_power'], window: '1s' } },
      devices: ['srv1', 'srv2'].map((id) => ({ id, address: '127.0.0.1', tags: { role: 'server' }, protocols: { http: { baseUrl: `${servers.url}/${id}` } } })),
      indicators: [{ id: 'server_power', kind: 'atomic', unit: 'W', source: { scheme: 'http', path: '/power', json: '$.watts' } }],
      rules: [{ id: 'servers', period: '1s', indicators: ['server_power'], targets: { tags: { role: 'server' } } }],
    },
    { log: quiet },
  );
  t.teardown(() => net1.stop());

  const prometheus = await startPrometheus({ url: site.url, token: TOKEN });
  t.teardown(() => prometheus.stop());
  const query = async (promql: string) => {
    const r = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return (await r.json()) as QueryAnswer;
  };
  await waitUntil('Prometheus holds a site PUE of 1.5', async () => (await query('probemesh_value{indicator="pue"}')).data.result[0]?.value[1] === '1.5', 120_000, prometheus.process);
  const pue = await query('probemesh_value{indicator="pue"}');
  t.equal(pue.status, 'success');
  t.same(
    pue.data.result.map((r) => [r.metric.job, r.metric.probe, r.value[1]]),
    [['probemesh', 'site', '1.5']],
    'one series, from the coordinator, to the digit',
  );
  t.equal((await fetch(`${site.url}/metrics`)).status, 401, 'without the token /metrics is refused');
  const up = await query('up{job="probemesh"}');
  t.equal(up.data.result[0]?.value[1], '1', 'the scrape with the bearer token succeeds');
  const it = await query('probemesh_value{indicator="it_power"}');
  t.equal(it.data.result[0]?.value[1], '15000', 'IT power merged from the delegate’s partials');

  // Names as Prometheus sees them: counters typed counter, one family per name, one series per rule.
  const metadata = (await (await fetch(`${prometheus.url}/api/v1/metadata`)).json()) as { data: Record<string, Array<{ type: string }>> };
  const typeOf = (name: string) => metadata.data[name]?.map((m) => m.type);
  t.same(typeOf('probemesh_connector_requests_total'), ['counter'], 'a stat that only grows is a counter');
  t.same(typeOf('probemesh_rule_status'), ['gauge']);
  t.same(typeOf('probemesh_store_series'), ['gauge']);
  const schemes = await query('probemesh_connector_requests_total > 0');
  t.same(schemes.data.result.map((r) => r.metric.scheme).sort(), ['http', 'rest'], 'two schemes of one family, told apart by a label');
  const ruleUp = await query('probemesh_rule_up{rule="meter"}');
  t.same(ruleUp.data.result.map((r) => r.value[1]), ['1'], 'one up series per rule');
  const status = await query('probemesh_rule_status{rule="meter"} == 1');
  t.same(status.data.result.map((r) => r.metric.status), ['running'], 'the status one-hot: running');
});
