// npm run bench -- soak [--quick] [--minutes N] [--period 1s] [--budget-mib N]
// The research deployment (probemesh-demo up --netns: five namespaced networks, six probes, ~30
// processes) run for a long stretch compressed in time: rules and partial windows every `--period`
// (1 s: the research's 10-s windows ten times faster), traffic following its day profile with a
// whole simulated day every run/7 (full: a week of traffic days; --quick: one day in 5 minutes),
// a broadcast storm in each network and the UPS on battery in turn.
// Reports per probe the RSS drift (MiB/h, a linear fit over the second half) and tick overruns,
// per delegate the store growth per day of the research's 10-s windows and the most it held
// against its budget, and for the mesh the partial windows merged and missing and the alert
// transitions duplicated at a plain subscriber. Needs root (network namespaces).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { consumers, durationMs, streams, subjects, type PartialAggregate } from '@probemesh/model';
import { NETWORKS, UPS_NETWORK, upNetns } from '@probemesh/demo';
import { netnsUnavailable, tempDir, waitUntil } from '@probemesh/testkit';
import { probePid } from './load/proc.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const runMs = Number(arg('--minutes') ?? (quick ? 5 : 60)) * 60_000;
const period = arg('--period') ?? '1s';
const periodMs = durationMs(period);
const budget = Number(arg('--budget-mib') ?? (quick ? 2 : 16)) * 1024 * 1024;
/** Windows of the research (10 s) in a day. */
const WINDOWS_PER_DAY = 8640;
/** How often a probe applies retention (@probemesh/runtime). */
const RETENTION_EVERY_MS = 60_000;
const dayMs = quick ? runMs : runMs / 7;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'soak', ...o }));
const progress = (s: string) => process.stderr.write(`soak: ${s}\n`);

const why = await netnsUnavailable();
if (why) {
  progress(`needs network namespaces: ${why}`);
  process.exit(2);
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : 0;
}

const dir = await tempDir('probemesh-soak-');
progress(`starting the namespaced mesh: rules every ${period}, a traffic day every ${(dayMs / 60_000).toFixed(1)} min, store budget ${budget / 1048576} MiB per probe, for ${runMs / 60_000} min`);
const mesh = await upNetns({ dir: dir.path, period, statusMs: 0, say: progress, maxStoreBytes: budget, traffic: { dayMs, startHour: 0 } });
const ids = Object.keys(mesh.urls).sort();
// Ctrl-C or a kill still removes the namespaces.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    progress(`${sig}: stopping the mesh`);
    void mesh.stop().finally(() => process.exit(130));
  });
try {
  const nc = await connect({ servers: mesh.natsUrl, user: mesh.operator.user, pass: mesh.operator.password });
  // Alert transitions as a plain subscriber gets them.
  const transitions = new Map<string, Array<{ state: string; ts: number }>>();
  let duplicated = 0;
  let heard = 0;
  nc.subscribe(subjects.alerts, {
    callback: (_e, m) => {
      const a = m.json<{ id: string; state: string; ts: number }>();
      const seen = transitions.get(a.id) ?? [];
      const prev = seen[seen.length - 1];
      if (prev && (prev.state === a.state || seen.some((s) => s.state === a.state && s.ts === a.ts))) duplicated++;
      seen.push({ state: a.state, ts: a.ts });
      transitions.set(a.id, seen);
      heard++;
    },
  });
  // Every partial window the delegates send.
  const windows = new Map<string, Set<number>>();
  const empty: string[] = [];
  nc.subscribe(subjects.partials, {
    callback: (_e, m) => {
      const p = m.json<PartialAggregate>();
      const key = `${p.probe}/${p.indicator}`;
      if (!windows.has(key)) windows.set(key, new Set());
      windows.get(key)!.add(p.windowStart);
      if (p.count === 0) empty.push(`${key}@${new Date(p.windowStart).toISOString().slice(11, 23)}`);
    },
  });
  await nc.flush();

  const metrics = async (id: string) => {
    const text = await (await fetch(`${mesh.urls[id]}/metrics`, { headers: { authorization: `Bearer ${mesh.tokens.read}` } })).text();
    const ticks = [...text.matchAll(/^probemesh_ticks_total\{[^}]*rule="([^"]+)"[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[2]), 0);
    const rules = [...text.matchAll(/^probemesh_ticks_total\{/gm)].length;
    const store = Number(/^probemesh_store_bytes\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? NaN);
    const heap = Number(/^probemesh_heap_used_bytes\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? NaN) / 1048576;
    return { ticks, rules, store, heap };
  };
  const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  type Sample = { t: number; rss: number; heap: number; store: number; file: number; ticks: number; rules: number };
  const samples = new Map<string, Sample[]>(ids.map((id) => [id, []]));
  const pids = Object.fromEntries(Object.entries(mesh.pids()).map(([id, pid]) => [id, probePid(pid)]));
  const sample = async () => {
    const t = Date.now();
    await Promise.all(
      ids.map(async (id) => {
        const m = await metrics(id).catch(() => undefined);
        const file = statSync(join(mesh.dir, 'data', id, 'data.mdb'), { throwIfNoEntry: false })?.size ?? NaN;
        if (m) samples.get(id)!.push({ t, rss: rssMiB(pids[id]!), file, ...m });
      }),
    );
  };

  // Events in turn: a broadcast storm in each network, then the UPS on battery and back.
  const events = [...Array.from({ length: NETWORKS }, (_, i) => ({ storm: i + 1 })), { ups: true }, { ups: false }];
  const eventEveryMs = runMs / (3 * events.length);
  let fired = 0;
  const started = Date.now();
  const sampleEveryMs = quick ? 5_000 : 20_000;
  let nextSample = started;
  let nextEvent = started + eventEveryMs;
  let nextSay = started + 60_000;
  while (Date.now() - started < runMs) {
    const now = Date.now();
    if (now >= nextSample) {
      await sample();
      nextSample += sampleEveryMs;
    }
    if (now >= nextEvent) {
      const e = events[fired % events.length]!;
      if ('storm' in e) await mesh.networks[e.storm! - 1]!.traffic.send({ broadcast: Math.ceil(200 * Math.max(1, periodMs / 1000)) });
      else await mesh.networks[UPS_NETWORK - 1]!.hosts.setUpsOnBattery(e.ups!);
      fired++;
      nextEvent += eventEveryMs;
    }
    if (now >= nextSay) {
      const hour = await mesh.networks[0]!.traffic.hour();
      progress(`${Math.round((now - started) / 60_000)} min: traffic hour ${hour.toFixed(1)}, ${heard} alert transitions heard, ${[...windows.values()].reduce((a, s) => a + s.size, 0)} partial windows sent`);
      nextSay += 60_000;
    }
    await new Promise((r) => setTimeout(r, Math.max(10, Math.min(nextSample, nextEvent, nextSay) - Date.now())));
  }
  await sample();
  await Promise.all(mesh.networks.map((n) => n.traffic.pause()));

  // Let the site merge what is still on its way.
  const jsm = await jetstreamManager(nc);
  const consumer = () => jsm.consumers.info(streams.partials, consumers.partials('site'));
  await waitUntil('the site merging every partial sent', async () => {
    const c = await consumer();
    return c.num_pending + c.num_ack_pending === 0;
  }, 60_000).catch((e: Error) => progress(e.message));
  const c = await consumer();
  const published = (await jsm.streams.info(streams.partials)).state.messages;

  for (const id of ids) {
    const s = samples.get(id)!;
    const second = s.filter((x) => x.t >= started + runMs / 2);
    const drift = slope(second.map((x) => [(x.t - started) / 3_600_000, x.rss]));
    const [first, lastSample] = [s[0], s[s.length - 1]];
    emit({ metric: 'rss_drift_mib_per_h', probe: id, value: +drift.toFixed(2), unit: 'MiB/h', rss_mib_first: +(first?.rss ?? 0).toFixed(1), rss_mib_last: +(lastSample?.rss ?? 0).toFixed(1), heap_mib_first: +(first?.heap ?? 0).toFixed(1), heap_mib_last: +(lastSample?.heap ?? 0).toFixed(1), samples: second.length });
    const a = s[Math.min(1, s.length - 1)]!; // after the first sample's start-up ticks
    const b = s[s.length - 1]!;
    const expected = Math.round((b.t - a.t) / periodMs) * b.rules;
    emit({ metric: 'tick_overruns', probe: id, value: Math.max(0, expected - (b.ticks - a.ticks)), unit: 'ticks', ticks: b.ticks - a.ticks, expected, note: 'ticks the period called for minus ticks run (a tick still running makes the next one skip)' });
    if (id === 'site') continue;
    const growing = s.filter((x) => x.store < 0.8 * budget);
    const perMs = slope(growing.map((x) => [x.t, x.store]));
    const max = Math.max(...s.map((x) => x.store));
    emit({
      metric: 'store_bytes_per_day',
      probe: id,
      value: Math.round(perMs * periodMs * WINDOWS_PER_DAY),
      unit: 'B',
      per: `day of ${WINDOWS_PER_DAY} windows of 10 s (growth before retention trims)`,
      store_bytes_max: max,
      store_file_bytes_max: Math.max(...s.map((x) => x.file)),
      budget,
      max_over_budget: Math.max(0, max - budget),
      growth_between_retention_runs: Math.round(perMs * RETENTION_EVERY_MS),
      note: 'store bytes: pages in use; file: the LMDB file on disk. Retention runs every minute and trims to the budget: the store may pass it by what a minute writes',
    });
  }
  // Every series should have a window up to the newest any delegate sent (less one still on its way).
  const newest = Math.max(...[...windows.values()].flatMap((ws) => [...ws])) - periodMs;
  let gaps = 0;
  for (const ws of windows.values()) {
    const sorted = [...ws].sort((x, y) => x - y).filter((w) => w <= newest);
    if (sorted.length) gaps += Math.round((newest - sorted[0]!) / periodMs) + 1 - sorted.length;
  }
  const sent = [...windows.values()].reduce((x, s) => x + s.size, 0);
  emit({ metric: 'windows_merged', value: c.ack_floor.consumer_seq, unit: 'windows', published, sent_seen: sent, note: 'partial windows (one indicator of one delegate) the site merged and acknowledged' });
  emit({ metric: 'windows_missing', value: gaps + c.num_pending + c.num_ack_pending, unit: 'windows', gaps, unmerged: c.num_pending + c.num_ack_pending, note: 'windows a delegate never sent (a gap in its sequence, or none after it went quiet) or the site never merged' });
  emit({ metric: 'windows_empty', value: empty.length, unit: 'windows', note: 'windows sent with no value in them: a delegate tick skipped (see tick_overruns)' });
  if (empty.length) progress(`empty windows: ${empty.slice(0, 10).join(', ')}${empty.length > 10 ? ' …' : ''}`);
  const exits = mesh.exits();
  emit({ metric: 'probe_exits', value: exits.length, unit: 'processes', exits });
  emit({ metric: 'alerts_duplicated', value: duplicated, unit: 'transitions', heard, alerts: transitions.size, events: fired });
  emit({ metric: 'simulated', value: +((sent / Math.max(1, windows.size)) / WINDOWS_PER_DAY).toFixed(3), unit: 'days of 10-s windows', traffic_days: +((Date.now() - started) / dayMs).toFixed(2), period });
  await nc.close();
} finally {
  await mesh.stop();
  await dir.remove();
}
