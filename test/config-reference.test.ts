import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { builtinConnectors, loadConfig } from '@probemesh/probe';
import { configJsonSchema, configReference } from '@probemesh/probe/internal';

const regenerate = 'regenerate: probemesh schema --write docs';

t.test('config reference — docs/CONFIG.md and docs/probe-config.schema.json are what the schemas give', async (t) => {
  const connectors = await builtinConnectors();
  t.equal(await readFile('docs/probe-config.schema.json', 'utf8'), `${JSON.stringify(configJsonSchema(connectors), null, 2)}\n`, `the JSON Schema is up to date (${regenerate})`);
  t.equal(await readFile('docs/CONFIG.md', 'utf8'), configReference(connectors), `CONFIG.md is up to date (${regenerate})`);
});

t.test('config reference — every example config points editors at the JSON Schema, fits it, and is one the probe accepts', async (t) => {
  const schema = JSON.parse(await readFile('docs/probe-config.schema.json', 'utf8')) as object;
  const fits = new Ajv({ strict: false, allErrors: true }).compile(schema);
  const connectors = await builtinConnectors();
  const files = ['mesh-config/single-probe.yaml', ...(await readdir('mesh-config/datacenter')).filter((f) => f.endsWith('.yaml')).map((f) => join('mesh-config/datacenter', f))];
  t.equal(files.length, 7);
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const depth = file.split('/').length - 1;
    t.equal(text.split('\n')[0], `# yaml-language-server: $schema=${'../'.repeat(depth)}docs/probe-config.schema.json`, `${file}: its first line names the schema`);
    t.ok(fits(parse(text)), `${file} fits the JSON Schema ${JSON.stringify(fits.errors ?? [])}`);
    await t.resolves(loadConfig(file, { connectors }), `${file}: the probe takes it`);
  }
  // The schema knows each connector's fields: a misspelt SNMP setting is flagged in the editor too.
  const typo = parse(await readFile('mesh-config/single-probe.yaml', 'utf8')) as { devices: Array<{ protocols?: { snmp?: Record<string, unknown> } }> };
  const snmp = typo.devices.find((d) => d.protocols?.snmp)!.protocols!.snmp!;
  snmp.comunity = snmp.community;
  delete snmp.community;
  t.notOk(fits(typo), 'comunity is refused');
  t.ok(fits.errors?.some((e) => e.instancePath.endsWith('/protocols/snmp') && e.params && (e.params as { additionalProperty?: string }).additionalProperty === 'comunity'), 'at the device\'s snmp settings');
});
