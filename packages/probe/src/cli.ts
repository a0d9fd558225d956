#!/usr/bin/env node
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buckets, configKey, subjects } from '@probemesh/model';
import { bootFromBundle, flashedKey, type Boot } from './boot.js';
import { loadConfig } from './config.js';
import { builtinConnectors } from './connectors.js';
import { ProcessGuard } from './guard.js';
import { SystemdNotifier } from './notify.js';
import { count, untilSignal } from './options.js';
import { consoleLog, runProbe } from './run.js';

const usage = `probemesh — monitoring probes for data centers and industrial sites

usage:
  probemesh probe --config <file.yaml>   run one probe from a config file
  probemesh probe --bundle <b.json> [--wait S]
                                         boot a new node: its config comes from NATS KV
  probemesh alerts --nats <url> [--user U --pass P] [--subject ${subjects.alerts}]
                                         print the mesh's alerts as they are published
  probemesh nats-auth --probes <id,id,…> [--nkeys] [--js-domain D] [--out <dir>]
                                         generate the mesh's NATS credentials: each probe's nkey seed
                                         (or password) and the server's users.conf, in <dir>
  probemesh flash --config <file.yaml> [--nats URL] [--bundle out.json]
                                         put a probe's config in NATS KV (${buckets.config}, key ${configKey('<id>')});
                                         a running probe applies it live; --bundle writes what a
                                         new node needs to boot and join
  probemesh schema [--write <dir>]       the JSON Schema of config files (editors); --write puts it
                                         and the reference CONFIG.md in <dir> (the repository's docs)

Config reference: docs/CONFIG.md; an example: mesh-config/single-probe.yaml
The demo on simulated devices is the command probemesh-demo (package @probemesh/demo).`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'probe': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, bundle: { type: 'string' }, wait: { type: 'string' } } });
      if (!values.config && !values.bundle) throw new Error('probemesh probe needs --config <file> or --bundle <boot bundle>');
      const guard = new ProcessGuard({ log: consoleLog });
      guard.install();
      const connectors = await builtinConnectors();
      const boot: Partial<Boot> & Pick<Boot, 'config'> = values.config
        ? { config: await loadConfig(values.config, { connectors }) }
        : await bootFromBundle(values.bundle!, { connectors, waitMs: count('--wait', values.wait ?? '60', 0, 86_400) * 1000, log: consoleLog });
      // A mesh node failing past the probe's restart limit ends the process as an uncaught exception does.
      const running = await runProbe(boot.config, { connectors, escapes: () => guard.counts, onFatal: (err) => guard.fatal(err), ...(boot.revisions ? { revisions: boot.revisions } : {}) });
      const systemd = new SystemdNotifier({ log: consoleLog });
      systemd.start();
      const stop = async () => {
        await systemd.stop();
        await running.stop();
      };
      guard.stopWith(stop);
      untilSignal(stop);
      return;
    }
    case 'alerts': {
      const { values } = parseArgs({ args: rest, options: { nats: { type: 'string' }, user: { type: 'string' }, pass: { type: 'string' }, subject: { type: 'string' } } });
      if (!values.nats) throw new Error('probemesh alerts needs --nats <url> (and --user/--pass when the server asks)');
      const { natsConnect } = await import('@probemesh/mesh');
      const { Alert, fits } = await import('@probemesh/model');
      const nc = await natsConnect({ servers: [values.nats], ...(values.user ? { user: values.user, pass: values.pass ?? '' } : {}) });
      const subject = values.subject ?? subjects.alerts;
      console.error(`listening on ${subject} at ${values.nats} (Ctrl-C stops)`);
      nc.subscribe(subject, {
        callback: (_err, m) => {
          let a: unknown;
          try {
            a = m.json();
          } catch {
            a = undefined;
          }
          if (!fits(Alert, a)) return void console.log(`${m.subject} (not an alert: ${m.data.length} bytes)`);
          const where = `${a.probe}/${a.rule}/${a.decision}${a.device ? ` ${a.device}` : ''}`;
          console.log(`${new Date(a.ts).toISOString()} ${a.state.padEnd(8)} ${a.severity.padEnd(8)} ${where}${a.value !== undefined ? ` = ${a.value}` : ''}  ${a.message}`);
        },
      });
      untilSignal(() => nc.drain());
      return;
    }
    case 'nats-auth': {
      const { values } = parseArgs({ args: rest, options: { probes: { type: 'string' }, nkeys: { type: 'boolean' }, 'js-domain': { type: 'string' }, out: { type: 'string' } } });
      if (!values.probes) throw new Error('probemesh nats-auth needs --probes <id,id,…> (every probe of the mesh)');
      const { meshCredentials, credentialFiles } = await import('@probemesh/mesh');
      const { Id, check } = await import('@probemesh/model');
      const ids = values.probes.split(',').map((id) => check(Id, id.trim(), `--probes: probe id '${id.trim()}'`));
      const out = values.out ?? 'nats-auth';
      await mkdir(out, { recursive: true, mode: 0o700 });
      const files = credentialFiles(meshCredentials(ids, { nkeys: values.nkeys ?? false, ...(values['js-domain'] ? { jsDomain: values['js-domain'] } : {}) }));
      for (const [name, text] of Object.entries(files)) await writeFile(join(out, name), text, { mode: 0o600 });
      console.log(`wrote ${Object.keys(files).map((f) => join(out, f)).join(', ')}: include users.conf in the server's config; each <probe>.yaml goes in that probe's nats section`);
      return;
    }
    case 'flash': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, nats: { type: 'string' }, bundle: { type: 'string' } } });
      if (!values.config) throw new Error('probemesh flash needs --config <file>');
      // The probe's own checks: a config it would refuse is never stored.
      const config = await loadConfig(values.config, { connectors: await builtinConnectors() });
      const servers = values.nats ? [values.nats] : config.nats?.servers;
      if (!servers) throw new Error('probemesh flash needs --nats <url> or a nats section in the config');
      const { flash, bootBundle, natsConnect } = await import('@probemesh/mesh');
      const n = values.nats ? { ...config.nats, servers } : config.nats ?? { servers };
      const nc = await natsConnect(n);
      try {
        const rev = await flash(nc, config, n.jsDomain);
        console.log(`flashed probe '${config.id}' (revision ${rev}) to ${flashedKey(config.id)} on ${servers.join(', ')}`);
        if (values.bundle) {
          await writeFile(values.bundle, JSON.stringify(bootBundle({ ...config, nats: n }), null, 2) + '\n');
          console.log(`boot bundle for the new node: ${values.bundle}`);
        }
      } finally {
        await nc.close();
      }
      return;
    }
    case 'schema': {
      const { values } = parseArgs({ args: rest, options: { write: { type: 'string' } } });
      const { configJsonSchema, configReference } = await import('./reference.js');
      const connectors = await builtinConnectors();
      const schema = `${JSON.stringify(configJsonSchema(connectors), null, 2)}\n`;
      if (!values.write) return void process.stdout.write(schema);
      await writeFile(join(values.write, 'probe-config.schema.json'), schema);
      await writeFile(join(values.write, 'CONFIG.md'), configReference(connectors));
      console.log(`wrote ${join(values.write, 'probe-config.schema.json')} and ${join(values.write, 'CONFIG.md')}`);
      return;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(usage);
      return;
    default:
      throw new Error(`unknown command '${cmd}'\n\n${usage}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`probemesh: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
