// The full-disk scenario, shared by test/disk-full.test.ts and `npm run bench -- faults`: a real
// probe process whose data directory is a small tmpfs, filled up while it stores values, then freed.
import type { Alert, RuleState } from '@probemesh/model';
import { fillUp, mountTmpfs, startJsonDevice, waitUntil } from '@probemesh/testkit';
import { READ, startProbeProcess, type Cleanup, type ProbeProcess } from './probe-process.js';

export { fillUp, mountTmpfs } from '@probemesh/testkit';

/** What the scenario saw. */
export interface DiskFullResult {
  /** Rule states while the disk was full. */
  held: RuleState[];
  /** The `probemesh_rule_up` and `probemesh_rule_status` lines of /metrics while the disk was full. */
  metrics: string[];
  /** The `store` alerts, firing then resolved. */
  alerts: Alert[];
  /** Values of each indicator committed before the disk filled, counted before and after (all must be there). */
  before: Record<string, number>;
  after: Record<string, number>;
  /** Ticks of the rule that stores little, while the disk was full (it keeps ticking). */
  steadyTicks: [before: number, after: number];
  /** /health round-trips while the disk was full, in ms. */
  healthMs: number[];
  /** Seconds from freeing space to every rule running and storing again. */
  recoveryS: number;
  /** The process still runs (it never exited). */
  alive: boolean;
}

/**
 * A probe on a 32 MiB tmpfs with a rule `bulk` storing 200 texts of 1 kB every 250 ms (read from a
 * real HTTP device) and a rule `steady` storing one number a second. Once both have stored values,
 * the rest of the tmpfs is filled with a file; the scenario waits for the rules to be marked
 * `store-unavailable` and the `store` alert to fire, checks that the probe answers, frees the space,
 * and measures how long until every rule runs again and the alert resolves.
 */
export async function diskFullScenario(cleanup: Cleanup): Promise<DiskFullResult> {
  const dev = await startJsonDevice(() => ({ rows: Array.from({ length: 200 }, (_, i) => `${i} ${'x'.repeat(1000)}`) }));
  cleanup(() => dev.stop());
  let dataDir = '';
  const p: ProbeProcess = await startProbeProcess(
    cleanup,
    {
      id: 'diskfull',
      devices: [{ id: 'dev', address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } }],
      indicators: [
        { id: 'bulk_text', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.rows[*]' } },
        { id: 'one', kind: 'static', value: 1 },
        { id: 'beat', kind: 'calculated', formula: 'one + 1' },
      ],
      rules: [
        { id: 'bulk', indicators: ['bulk_text'], targets: { devices: ['dev'] }, period: '250ms' },
        { id: 'steady', indicators: ['beat'], period: '1s' },
      ],
    },
    async (dir) => {
      dataDir = dir;
      await mountTmpfs(cleanup, dir, 32 * 1024 * 1024);
    },
  );
  const get = async <T>(path: string): Promise<T> => {
    const r = await p.call('GET', path, undefined, READ);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  };
  const states = () => get<RuleState[]>('/rules/states');
  const state = async (rule: string) => (await states()).find((s) => s.rule === rule)!;
  const count = async (indicator: string, to: number) => (await get<{ count: number }>(`/query?indicator=${indicator}&to=${to}&mode=count`)).count;

  await waitUntil('both rules stored values', async () => (await state('steady')).ticks >= 2 && (await count('bulk_text', Date.now())) >= 1000, 60_000, p.proc);
  const cut = Date.now();
  // A rule's ticks run one at a time: once one after `cut` is done, every value before it is committed.
  await waitUntil('a tick after the cut is done', async () => (await states()).every((s) => (s.lastTick ?? 0) > cut), 30_000, p.proc);
  const before = { bulk_text: await count('bulk_text', cut), beat: await count('beat', cut) };

  const free = await fillUp(dataDir);
  cleanup(free);
  await waitUntil('the rules are marked store-unavailable', async () => (await state('bulk')).status === 'store-unavailable' && (await state('steady')).status === 'store-unavailable', 60_000, p.proc);
  const ticks0 = (await state('steady')).ticks;
  const healthMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    healthMs.push(await p.healthMs());
    await new Promise((r) => setTimeout(r, 200));
  }
  await waitUntil('steady keeps ticking', async () => (await state('steady')).ticks >= ticks0 + 2, 30_000, p.proc);
  const held = await states();
  const metrics = ((await p.call('GET', '/metrics', undefined, READ)).body as string).split('\n').filter((l) => /^probemesh_rule_(up|status)\{/.test(l));
  const steadyTicks: [number, number] = [ticks0, (await state('steady')).ticks];

  const freed = performance.now();
  await free();
  await waitUntil('every rule runs again', async () => (await states()).every((s) => s.status === 'running'), 120_000, p.proc);
  const recoveryS = (performance.now() - freed) / 1000;
  await waitUntil('the store alert resolved', async () => (await get<Alert[]>('/alerts')).some((a) => a.rule === 'store' && a.state === 'resolved'), 30_000, p.proc);
  const alerts = (await get<Alert[]>('/alerts')).filter((a) => a.rule === 'store');
  const after = { bulk_text: await count('bulk_text', cut), beat: await count('beat', cut) };
  return { held, metrics, alerts, before, after, steadyTicks, healthMs, recoveryS, alive: p.proc.child.exitCode === null && p.proc.child.signalCode === null };
}
