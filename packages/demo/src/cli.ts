#!/usr/bin/env node
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { durationMs } from '@probemesh/model';
import { count, untilSignal } from '@probemesh/probe/internal';

const usage = `probemesh-demo — probemesh on simulated devices, on this machine (run from the repository's top folder)

usage:
  probemesh-demo up [--port N] [--dir D] [--period 10s] [--sensors N] [--steady] [--for S] [--nats-config <dir>] [--cluster 3]
                                         the five-network data center: nats-server (hub and leaf node,
                                         from deploy/nats), 123 simulated SNMP servers and a UPS, five
                                         delegated probes, the site coordinator computing PUE;
                                         --cluster 3: the hub a three-node NATS cluster (deploy/nats/cluster)
  probemesh-demo up --netns [--day 24h] [--period 10s] [--dir D] [--for S]
                                         (root) the research deployment whole, in network namespaces:
                                         five bridged networks with servers, a switch (RMON, IF-MIB)
                                         and a traffic source each; two delegates capture, three read
                                         their switch; the site computes PUE, DCiE, CPE and CADE.
                                         --day: how long a simulated day of traffic lasts
  probemesh-demo up --write-config <dir> write that mesh's probe configs (the documented example)
  probemesh-demo single [--config <file.yaml>] [--port N] [--for S]
                                         one probe (default mesh-config/single-probe.yaml) on a simulated
                                         UPS (snmpd) and HTTP meter`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'up': {
      const { values } = parseArgs({ args: rest, options: { port: { type: 'string' }, dir: { type: 'string' }, period: { type: 'string' }, for: { type: 'string' }, sensors: { type: 'string' }, steady: { type: 'boolean' }, 'write-config': { type: 'string' }, 'nats-config': { type: 'string' }, netns: { type: 'boolean' }, day: { type: 'string' }, cluster: { type: 'string' } } });
      const { exampleLayout, up, upNetns, writeConfigs } = await import('./index.js');
      if (values['write-config']) {
        // The documented example points editors at the repository's JSON Schema of config files.
        const schema = relative(values['write-config'], 'docs/probe-config.schema.json');
        for (const f of await writeConfigs(values['write-config'], exampleLayout(), schema)) console.log(`wrote ${f}`);
        return;
      }
      if (values.netns) {
        const { netnsUnavailable } = await import('@probemesh/testkit');
        const why = await netnsUnavailable();
        if (!why) {
          const mesh = await upNetns({
            ...(values.dir ? { dir: values.dir } : {}),
            ...(values.period ? { period: values.period } : {}),
            ...(values['nats-config'] ? { natsConfigDir: values['nats-config'] } : {}),
            ...(values.day ? { traffic: { dayMs: durationOption('--day', values.day) } } : {}),
          });
          stopAfter(values.for, () => mesh.stop());
          return;
        }
        console.log(`probemesh-demo up --netns: ${why}; keeping the loopback layout (run as root for the namespaced one)`);
      }
      const mesh = await up({
        ...(values.port ? { port: count('--port', values.port, 1, 65_530) } : {}),
        ...(values.dir ? { dir: values.dir } : {}),
        ...(values.period ? { period: values.period } : {}),
        ...(values.sensors ? { sensorsPerServer: count('--sensors', values.sensors, 1, 1000) } : {}),
        ...(values['nats-config'] ? { natsConfigDir: values['nats-config'] } : {}),
        ...(values.cluster ? { cluster: count('--cluster', values.cluster, 1, 5) } : {}),
        drift: !values.steady,
      });
      stopAfter(values.for, () => mesh.stop());
      return;
    }
    case 'single': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, for: { type: 'string' } } });
      const { single } = await import('./single.js');
      const stop = await single({ config: values.config ?? 'mesh-config/single-probe.yaml', ...(values.port ? { port: count('--port', values.port, 1, 65_535) } : {}) });
      stopAfter(values.for, stop);
      return;
    }
    case '-h':
    case '--help':
    case 'help':
      console.log(usage);
      return;
    default:
      throw new Error(`unknown command '${cmd}'\n\n${usage}`);
  }
}

/** A duration option ("10m", "24h"), or an error naming the option. */
function durationOption(name: string, text: string): number {
  try {
    return durationMs(text);
  } catch {
    throw new Error(`${name} takes a duration such as 10m or 24h, not '${text}'`);
  }
}

/** Runs until Ctrl-C or SIGTERM, or for `seconds` when given. */
function stopAfter(seconds: string | undefined, stop: () => Promise<void>): void {
  if (seconds) setTimeout(() => void stop().then(() => process.exit(0)), count('--for', seconds, 1, 31_536_000) * 1000);
  untilSignal(stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`probemesh-demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
