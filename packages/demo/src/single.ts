import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@probemesh/testkit';
import { loadConfig, runProbe } from '@probemesh/probe';
import { simulateSite } from './simulate.js';

/** Runs a single-probe config (mesh-config/single-probe.yaml) against simulated devices; prints where to look. Returns a stop function. */
export async function single(opts: { config: string; port?: number }): Promise<() => Promise<void>> {
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const config = await loadConfig(opts.config);
  say('probemesh-demo single: starting simulated devices (snmpd as a UPS, an HTTP facility meter) …');
  const site = await simulateSite();
  for (const d of config.devices ?? []) {
    if (d.protocols?.snmp) d.protocols.snmp = { ...d.protocols.snmp, port: site.ups.port };
    if (d.protocols?.http) d.protocols.http = { ...d.protocols.http, baseUrl: site.meterUrl };
  }
  config.dataDir = join(tmpdir(), `probemesh-demo-${process.pid}`);
  const port = opts.port ?? (await freeTcpPort());
  config.http = { ...config.http, host: '127.0.0.1', port };
  const running = await runProbe(config).catch(async (err: unknown) => {
    await site.stop();
    throw err;
  });
  const admin = config.tokens?.find((t) => t.role === 'admin')?.token ?? '';
  const read = config.tokens?.find((t) => t.role === 'read')?.token ?? admin;
  say(`
probe '${config.id}' is running (config: ${opts.config}, data: ${config.dataDir})
  simulated UPS (SNMP v2c, community public): udp ${site.ups.target}
  simulated facility meter (HTTP JSON):        ${site.meterUrl}/power

Look at it:
  open ${running.url}/#token=${read} in a browser      (live alerts)
  curl -s ${running.url}/health
  curl -s -H 'Authorization: Bearer ${read}' '${running.url}/query?indicator=pue&last=5'
  curl -s -H 'Authorization: Bearer ${read}' '${running.url}/query?indicator=pue&mode=mean'
  curl -s -H 'Authorization: Bearer ${read}' ${running.url}/rules/states
  curl -sN '${running.url}/alerts/stream?token=${read}'        (alerts as they fire and resolve)
  curl -s ${running.url}/metrics -H 'Authorization: Bearer ${read}'   (Prometheus format)
  open ${running.url}/openapi.json for the API

Change a formula live (admin token):
  curl -s -X PUT -H 'Authorization: Bearer ${admin}' -H 'content-type: application/json' \\
    -d '{"id":"pue","kind":"calculated","formula":"facility_power@meter / it_power@ups"}' ${running.url}/indicators/pue

Rules tick every 10 s. Ctrl-C stops everything.`);
  return async () => {
    await running.stop();
    await site.stop();
  };
}
