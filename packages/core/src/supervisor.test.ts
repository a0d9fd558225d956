import t from 'tap';
import { Actor, ManualClock, Supervisor, backoffDelay, flush, type SupervisorEvent } from './index.js';

t.test('actor — handles one message at a time, in order', async (t) => {
  const seen: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const a = new Actor<{ type: 'm'; n: number }>(
    async (m) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await flush(1);
      seen.push(`m${m.n}`);
      inFlight--;
    },
    () => t.fail('no crash expected'),
  );
  for (let n = 0; n < 5; n++) a.send({ type: 'm', n });
  await flush(20);
  t.same(seen, ['m0', 'm1', 'm2', 'm3', 'm4']);
  t.equal(maxInFlight, 1);
  await a.stop();
  t.notOk(a.send({ type: 'm', n: 9 }), 'a stopped actor takes no mail');
});

t.test('actor — a thrown error is a crash reported once, and the mailbox is dropped', async (t) => {
  const crashes: unknown[] = [];
  const handled: number[] = [];
  const a = new Actor<{ type: 'm'; n: number }>(
    async (m) => {
      if (m.n === 1) throw new Error('boom');
      handled.push(m.n);
    },
    (e) => crashes.push(e),
  );
  a.send({ type: 'm', n: 0 });
  a.send({ type: 'm', n: 1 });
  a.send({ type: 'm', n: 2 });
  await flush(10);
  t.same(handled, [0]);
  t.equal(crashes.length, 1);
  t.match(String(crashes[0]), /boom/);
});

t.test('actor — stop aborts the message in hand without a crash', async (t) => {
  let aborted = false;
  const a = new Actor<{ type: 'slow' }>(
    (_m, signal) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(signal.reason);
        }),
      ),
    () => t.fail('stop is not a crash'),
  );
  a.send({ type: 'slow' });
  await flush(2);
  await a.stop();
  t.ok(aborted);
});

t.test('backoff — grows, caps, and jitters within its bounds', async (t) => {
  const p = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2 };
  t.equal(backoffDelay(0, p, () => 0.5), 100);
  t.equal(backoffDelay(3, p, () => 0.5), 800);
  t.equal(backoffDelay(10, p, () => 0.5), 1000);
  t.equal(backoffDelay(0, p, () => 0), 80);
  t.equal(backoffDelay(0, p, () => 1), 120);
});

t.test('supervisor — a crashing child restarts with back-off, then fails past the intensity limit', async (t) => {
  const clock = new ManualClock(1000);
  const events: SupervisorEvent[] = [];
  let starts = 0;
  let crashNow: ((e: unknown) => void) | undefined;
  const sup = new Supervisor({
    clock,
    backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 },
    maxRestarts: 2,
    withinMs: 60_000,
    onEvent: (e) => events.push(e),
  });
  await sup.start({
    id: 'r1',
    start(crash) {
      starts++;
      crashNow = crash;
      return { stop: async () => undefined };
    },
  });
  t.equal(sup.state('r1')?.status, 'running');
  crashNow!(new Error('first'));
  await flush();
  t.equal(sup.state('r1')?.status, 'backing-off');
  t.equal(sup.state('r1')?.lastError, 'first');
  t.equal(sup.state('r1')?.nextRetry, 1100);
  await clock.advance(99);
  t.equal(starts, 1, 'not restarted before the back-off ends');
  await clock.advance(1);
  t.equal(starts, 2);
  t.equal(sup.state('r1')?.status, 'running');
  crashNow!(new Error('second'));
  await flush();
  await clock.advance(200);
  t.equal(starts, 3, 'second back-off is twice the first');
  crashNow!(new Error('third'));
  await flush();
  t.equal(sup.state('r1')?.status, 'failed');
  t.equal(sup.state('r1')?.restarts, 2);
  await clock.advance(10_000);
  t.equal(starts, 3, 'a failed child stays down');
  t.same(
    events.map((e) => e.type),
    ['started', 'crashed', 'started', 'crashed', 'started', 'failed'],
  );
  await sup.start({ id: 'r1', start: () => ({ stop: async () => undefined }) });
  t.equal(sup.state('r1')?.status, 'running', 'replacing a failed child runs it again');
  await sup.stopAll();
  t.same(sup.ids(), []);
});

t.test('supervisor — a child whose start throws is backed off, and others keep running', async (t) => {
  const clock = new ManualClock();
  const sup = new Supervisor({ clock, backoff: { initialMs: 50, maxMs: 50, factor: 1, jitter: 0 } });
  await sup.start({
    id: 'bad',
    start() {
      throw new Error('cannot start');
    },
  });
  await sup.start({ id: 'good', start: () => ({ stop: async () => undefined }) });
  await flush();
  t.equal(sup.state('bad')?.status, 'backing-off');
  t.equal(sup.state('good')?.status, 'running');
  t.notOk(await sup.stop('nope'));
  await sup.stopAll();
  t.equal(clock.pending, 0, 'stopping clears the restart timer');
});
