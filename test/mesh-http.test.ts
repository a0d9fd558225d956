import t from 'tap';
import { runProbe } from '@probemesh/probe';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';

const TOKEN = 'mesh-test-read-token-01';

t.test('mesh over HTTP — any probe answers for another (?probe=); /mesh lists the probes with their levels; /mesh/windows shows what the coordinator merged', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dirs = await Promise.all([tempDir(), tempDir()]);
  t.teardown(() => Promise.all(dirs.map((d) => d.remove())));
  const quiet = () => undefined;
  const common = { tokens: [{ name: 'ro', role: 'read' as const, token: TOKEN }], nats: { servers: [nats.url] }, http: { port: 0 } };
  const top = await runProbe({ id: 'top', role: 'coordinator', dataDir: dirs[0]!.path, ...common }, { log: quiet, connectors: [] });
  t.teardown(() => top.stop());
  const leaf = await runProbe(
    {
      id: 'leaf',
      role: 'delegated',
      parent: 'top',
      dataDir: dirs[1]!.path,
      ...common,
      mesh: { partials: { indicators: ['power'], window: '500ms' } },
      indicators: [
        { id: 'racks', kind: 'static', value: 12 },
        { id: 'power', kind: 'calculated', formula: 'racks * 500' },
      ],
      rules: [{ id: 'r', indicators: ['racks', 'power'], period: '100ms' }],
    },
    { log: quiet, connectors: [] },
  );
  t.teardown(() => leaf.stop());
  const get = async (url: string) => {
    const r = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const r = await get(`${top.url}/query?probe=leaf&indicator=racks&last=1`);
  t.equal(r.status, 200);
  t.equal((r.body.records as Array<{ datum: number }>)[0]?.datum, 12, 'the leaf’s static value, asked at the top');
  const gone = await get(`${top.url}/query?probe=ghost&mode=count`);
  t.ok(gone.status === 502 || gone.status === 504, `a gone probe is a 502/504 (${gone.status})`);
  t.match((gone.body.error as { message: string }).message, /ghost/);
  await waitUntil('membership', async () => ((await get(`${top.url}/mesh`)).body as unknown as unknown[]).length === 2, 15_000);
  const members = (await get(`${top.url}/mesh`)).body as unknown as Array<{ probe: string; role: string; parent?: string; level: number }>;
  t.same(
    members.map((m) => [m.probe, m.role, m.parent, m.level]),
    [
      ['leaf', 'delegated', 'top', 1],
      ['top', 'coordinator', undefined, 0],
    ],
    'levels computed from the parent chain',
  );
  type Window = { indicator: string; windowStart: number; count: number; sum: number; sources: string[]; missing: string[]; state: string };
  const windows = async () => (await get(`${top.url}/mesh/windows?indicator=power&limit=50`)).body as unknown as Window[];
  await waitUntil('a complete window with values', async () => (await windows()).some((w) => w.state === 'complete' && w.count > 0), 15_000);
  const w = (await windows()).find((x) => x.state === 'complete' && x.count > 0)!;
  t.match(w, { indicator: 'power', sources: ['leaf/'], missing: [], state: 'complete' }, 'per window: sources in, children missing, complete');
  t.equal(w.sum / w.count, 6000, 'the figures of the window');
  t.equal((await get(`${leaf.url}/mesh/windows`)).status, 404, 'a delegate merges nothing');
});
