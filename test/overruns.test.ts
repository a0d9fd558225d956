import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Heartbeat, check, subjects, type RuleState } from '@probemesh/model';
import { runProbe } from '@probemesh/probe';
import { startJsonDevice, startNats, tempDir, waitUntil } from '@probemesh/testkit';

const TOKEN = 'overruns-read-token-000001';

t.test('rules — a rule whose reads take longer than its period counts the ticks it skips in /rules/states, heartbeats and /metrics; a prompt rule counts none', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  // A real slow device: every answer comes 2 s after its request, four periods of the slow rule.
  const slow = await startJsonDevice(() => ({ watts: 500 }), { delayMs: 2000 });
  t.teardown(() => slow.stop());
  const prompt = await startJsonDevice(() => ({ watts: 700 }));
  t.teardown(() => prompt.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const device = (id: string, url: string) => ({ id, address: '127.0.0.1', protocols: { http: { baseUrl: url } } });
  const probe = await runProbe(
    {
      id: 'p',
      dataDir: dir.path,
      tokens: [{ name: 'ro', role: 'read', token: TOKEN }],
      http: { port: 0 },
      nats: { servers: [nats.url] },
      devices: [device('slow', slow.url), device('prompt', prompt.url)],
      indicators: [{ id: 'power', kind: 'atomic', unit: 'W', source: { scheme: 'http', path: '/', json: '$.watts' } }],
      rules: [
        // The timeout (5 s) lets each read finish: a tick runs for 2 s, and the grid calls for one every 500 ms.
        { id: 'slow', period: '500ms', timeout: '5s', indicators: ['power'], targets: { devices: ['slow'] } },
        { id: 'prompt', period: '3s', indicators: ['power'], targets: { devices: ['prompt'] } },
      ],
    },
    { log: () => undefined },
  );
  t.teardown(() => probe.stop());
  const get = async (path: string) => {
    const res = await fetch(`${probe.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const states = async () => new Map(((await (await get('/rules/states')).json()) as RuleState[]).map((s) => [s.rule, s]));

  await waitUntil('the slow rule skipped three ticks and the prompt one ran two', async () => {
    const s = await states();
    return (s.get('slow')?.overruns ?? 0) >= 3 && (s.get('slow')?.ticks ?? 0) >= 1 && (s.get('prompt')?.ticks ?? 0) >= 2;
  }, 60_000);
  const seen = await states();
  t.match(seen.get('slow'), { status: 'running', errors: 0 }, 'the slow rule runs, its reads succeed: skipping a tick is not an error');
  t.equal(seen.get('prompt')?.overruns, 0, 'the prompt rule skipped no tick');
  const stored = (await (await get('/query?indicator=power&device=slow&last=1')).json()) as { records: Array<{ datum: number }> };
  t.equal(stored.records[0]?.datum, 500, 'what the slow device answered is stored');

  const metrics = await (await get('/metrics')).text();
  t.match(metrics, /^# TYPE probemesh_rule_tick_overruns_total counter$/m, 'a counter');
  const overruns = (rule: string) => Number(new RegExp(`^probemesh_rule_tick_overruns_total\\{probe="p",rule="${rule}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
  t.ok(overruns('slow') >= seen.get('slow')!.overruns!, `/metrics counts the slow rule's skipped ticks (${overruns('slow')}, at least the ${seen.get('slow')!.overruns} of /rules/states before)`);
  t.equal(overruns('prompt'), 0, '/metrics: none for the prompt rule');

  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const beats = nc.subscribe(subjects.heartbeat('p'), { timeout: 30_000 });
  for await (const m of beats) {
    const hb = check(Heartbeat, m.json(), 'heartbeat');
    const rules = new Map(hb.rules.map((r) => [r.rule, r]));
    t.ok(rules.get('slow')!.overruns! >= seen.get('slow')!.overruns!, `the heartbeat carries the slow rule's skipped ticks (${rules.get('slow')!.overruns})`);
    t.equal(rules.get('prompt')!.overruns, 0, 'and none for the prompt rule');
    break;
  }
});
