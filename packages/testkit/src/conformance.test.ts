import t from 'tap';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConnector, reading } from '@probemesh/core';
import { Type } from '@probemesh/model';
import { connectorConformance } from './index.js';

t.test('conformance — a connector gets a data dir of its own, removed after the run', async (t) => {
  let dataDir = '';
  // The smallest connector that keeps a file where it is told (what the suite checks is the suite itself).
  const keeper = defineConnector({
    scheme: 'keeper',
    summary: 'keeps a file in its data dir',
    params: Type.Object({}, { additionalProperties: false }),
    perDevice: false,
    async start(ctx) {
      dataDir = ctx.dataDir;
      await writeFile(join(dataDir, 'cache'), 'kept');
      return { read: async (requests) => requests.map(() => reading(1)), stop: async () => undefined };
    },
  });
  await t.test('the suite runs', (t) => connectorConformance(t, keeper, { good: () => [{ indicator: 'x', params: {} }], badParams: [{ colour: 'red' }] }));
  t.not(dataDir, tmpdir(), `not the shared temp dir: ${dataDir}`);
  t.ok(dataDir.startsWith(tmpdir()), 'under the temp dir');
  t.notOk(existsSync(dataDir), 'removed once the run ended, with what the connector kept there');
});
