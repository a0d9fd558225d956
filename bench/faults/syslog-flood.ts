// A scenario of `npm run bench -- faults`: how promptly a probe answers /health while a UDP syslog
// flood hits its listener (loopback only, bounded in count and time). A real probe process (the
// CLI on a config file) with a syslog indicator matching a pattern and a 1 s heartbeat rule; a
// sender process blasts RFC 5424 lines as fast as it can. /health is polled throughout; its p99
// is compared with the same probe's p99 before the flood. Extra fields: the flood's rate, and
// what the kernel dropped (the connector's kernel_drops, as /metrics shows it).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { floodUdp, freeTcpPort, freeUdpPort, spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';

const cli = fileURLToPath(new URL('../../packages/probe/dist/cli.js', import.meta.url));
const TOKEN = 'bench-faults-read-token-0001';

/** p99 of the /health round-trips made during `ms`, polling one after another. */
async function healthP99(url: string, ms: number): Promise<{ p99: number; polls: number }> {
  const times: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  times.sort((a, b) => a - b);
  return { p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!, polls: times.length };
}

/** Runs the scenario; returns its bench lines. */
export async function run(opts: { quick: boolean }): Promise<Array<Record<string, unknown>>> {
  const seconds = opts.quick ? 5 : 15;
  const maxMessages = opts.quick ? 1_000_000 : 3_000_000;
  const dir = await tempDir('pm-flood-');
  const [http, port] = [await freeTcpPort(), await freeUdpPort()];
  const config = join(dir.path, 'flood.yaml');
  await writeFile(
    config,
    `id: flood
dataDir: ${JSON.stringify(join(dir.path, 'data'))}
http: { host: 127.0.0.1, port: ${http} }
tokens: [{ name: bench, role: read, token: ${TOKEN} }]
indicators:
  - { id: one, kind: static, value: 1 }
  - { id: beat, kind: calculated, formula: "one + 1" }
  - { id: errors, kind: atomic, source: { scheme: syslog, port: ${port}, measure: count, pattern: '(\\w+\\s?)*error' } }
  - { id: drops, kind: atomic, source: { scheme: syslog, port: ${port}, measure: kernel_drops } }
rules:
  - { id: heartbeat, period: 1s, indicators: [beat] }
  - { id: logs, period: 1s, indicators: [errors, drops] }
`,
  );
  const probe = spawnLogged(process.execPath, [cli, 'probe', '--config', config]);
  try {
    const health = `http://127.0.0.1:${http}/health`;
    await waitUntil('the probe answers /health', async () => (await fetch(health)).ok, 30_000, probe);
    await waitUntil('the syslog listener is open', async () => /probemesh_connector_listeners\{[^}]*scheme="syslog"\} 1/.test(await metrics(http)), 30_000, probe);
    process.stderr.write(`faults syslog-flood: baseline /health for 2 s, then a ${seconds} s flood\n`);
    const quiet = await healthP99(health, 2000);
    const message = '<11>1 2024-06-15T10:00:00Z sw-rack1-a app - - - the quick brown fox jumps over the lazy dog: disk error';
    const t0 = performance.now();
    const sending = floodUdp({ port, message, count: maxMessages, ms: seconds * 1000, inFlight: 16 });
    const loaded = await healthP99(health, seconds * 1000);
    const sent = await sending;
    const floodS = (performance.now() - t0) / 1000;
    const m = await metrics(http);
    const counter = (k: string) => Number(new RegExp(`probemesh_connector_${k}_total\\{[^}]*scheme="syslog"\\} (\\d+)`).exec(m)?.[1] ?? NaN);
    return [
      {
        bench: 'faults',
        metric: 'health_p99_ms_under_syslog_flood',
        value: Number(loaded.p99.toFixed(1)),
        unit: 'ms',
        baseline: Number(quiet.p99.toFixed(1)),
        ratio: Number((loaded.p99 / quiet.p99).toFixed(2)),
        health_polls: loaded.polls,
        flood_sent: sent,
        flood_rate_per_s: Math.round(sent / floodS),
        kernel_drops: counter('kernel_drops'),
        messages_counted: counter('messages'),
      },
    ];
  } finally {
    await probe.stop();
    await dir.remove();
  }
}

async function metrics(http: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${http}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(30_000) });
  return res.text();
}
