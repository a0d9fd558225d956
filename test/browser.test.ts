import t from 'tap';
import { chromium } from 'playwright-core';
import { createApi, serve } from '@probemesh/api';
import { httpConnector } from '@probemesh/connector-http';
import { Probe } from '@probemesh/runtime';
import { startJsonDevice, tempDir } from '@probemesh/testkit';

const TOKEN = 'browser-read-token-0001';

t.test('browser — the live page shows an alert firing, then resolved, in a real Chromium', async (t) => {
  const device = { temp: 20 };
  const dev = await startJsonDevice(() => ({ temp: device.temp }));
  t.teardown(() => dev.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start(
    { id: 'lab', dataDir: dir.path, connectors: [httpConnector] },
    {
      devices: [{ id: 'room', address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } }],
      indicators: [{ id: 'temp', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.temp' } }],
      rules: [{ id: 'hot', indicators: ['temp'], targets: { devices: ['room'] }, period: '1h', decisions: [{ id: 'over', when: 'temp > 30', severity: 'critical', indicator: 'temp', message: 'room at {value} °C' }] }],
    },
  );
  t.teardown(() => probe.stop());
  const api = await serve(createApi(probe, { tokens: [{ name: 'ro', role: 'read', token: TOKEN }] }), { port: 0 });
  t.teardown(() => api.close());
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${api.url}/#token=${TOKEN}`);
  await page.waitForFunction("document.getElementById('status')?.textContent?.startsWith('live')", undefined, { timeout: 15_000 });
  t.equal(await page.textContent('#probe'), 'lab', 'the page names the probe');
  device.temp = 35;
  await probe.tickNow('hot');
  await page.waitForSelector('td.firing', { timeout: 10_000 });
  device.temp = 22;
  await probe.tickNow('hot');
  await page.waitForSelector('td.resolved', { timeout: 10_000 });
  const rows = await page.$$eval('#alerts tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  t.same(
    rows.map((r) => [r[1], r[4], r[5], r[6]]),
    [
      ['resolved', 'room', '22', 'room at 22 °C'],
      ['firing', 'room', '35', 'room at 35 °C'],
    ],
    'each transition shows once, newest first',
  );
});
