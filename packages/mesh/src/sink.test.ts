import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { Supervisor, systemClock } from '@probemesh/core';
import { streams, subjects } from '@probemesh/model';
import { alertSinkConformance, startNats, waitUntil } from '@probemesh/testkit';
import type { MeshContext } from './context.js';
import { Link } from './link.js';
import { JetStreamSink } from './sink.js';
import { ensureStream, StreamSetup, wantedStreams } from './streams.js';

t.test('jetstream sink — conformance, against a real nats-server', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const options = { servers: [nats.url] };
  const problems: string[] = [];
  const log: MeshContext['log'] = (level, message) => void (level === 'error' && problems.push(message));
  const refused = (err: Error) => void problems.push(err.message);
  const link = new Link(options, { probe: 'conformance', clock: systemClock, log, onRefused: refused });
  const ctx: MeshContext = { id: 'conformance', clock: systemClock, log, link, js: {} };
  // The connection and the streams as a mesh node runs them, without the rest of the node.
  const setup = new StreamSetup(ctx, options, {}, refused);
  const supervisor = new Supervisor({ clock: systemClock });
  t.teardown(() => supervisor.stopAll());
  await supervisor.start(link.spec());
  await supervisor.start(setup.spec());
  await setup.ready(AbortSignal.timeout(30_000));
  const jsm = await jetstreamManager(await link.connection(AbortSignal.timeout(30_000)));
  const alertsStream = wantedStreams({}, 1).find((s) => s.name === streams.alerts)!;

  await alertSinkConformance(t, {
    sink: new JetStreamSink(ctx, options),
    // PM_ALERTS holds the transition under its id (`Nats-Msg-Id`), as the probe published it.
    received: (a, id) =>
      waitUntil(`PM_ALERTS holds ${id}`, async () => {
        const m = await jsm.streams.getMessage(streams.alerts, { last_by_subj: subjects.alertIn(a.severity, a.probe, a.rule) });
        return m?.header?.get('Nats-Msg-Id') === id && isDeepStrictEqual(m.json(), a);
      }),
    // Away: the stream is gone, so nothing takes the publication (NATS itself being away, a delivery waits for it).
    down: async () => void (await jsm.streams.delete(streams.alerts)),
    up: () => ensureStream(jsm, alertsStream, {}, log, nats.url),
    hang: async () => {
      nats.process.child.kill('SIGSTOP');
      return async () => void nats.process.child.kill('SIGCONT');
    },
  });
  t.same(problems, [], 'nothing refused or failed in the mesh');
});
