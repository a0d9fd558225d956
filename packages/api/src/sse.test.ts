import t from 'tap';
import { connect } from 'node:net';
import { Hono } from 'hono';
import { systemClock } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import { serve } from './serve.js';
import { SseHub } from './sse.js';

// The alert source is a stand-in: no real rule raises alerts fast enough to fill a loopback
// socket's kernel buffers within a test. The HTTP server, the sockets and the hub are real.
function source() {
  const fns = new Set<(a: Alert) => void>();
  const service = { onAlert: (fn: (a: Alert) => void) => (fns.add(fn), () => fns.delete(fn)) } as unknown as ProbeService;
  let n = 0;
  const emit = () => {
    const a: Alert = { id: `a${n}`, probe: 'p1', rule: 'r', decision: 'd', severity: 'warning', state: n % 2 ? 'resolved' : 'firing', message: 'x'.repeat(60_000), since: n, ts: n };
    n++;
    for (const fn of fns) fn(a);
  };
  return { service, emit, listeners: () => fns.size };
}

t.test('sse — a client that stops reading is dropped and forgotten; one that reads gets every event', async (t) => {
  const src = source();
  const hub = new SseHub(src.service, 'p1', { keepAliveMs: 200, maxQueuedBytes: 256 * 1024, maxSubscribers: 10 }, systemClock);
  t.teardown(() => hub.stop());
  const app = new Hono().get('/s', (c) => hub.respond(c));
  const server = await serve(app, { port: 0 });
  t.teardown(() => server.close());

  const res = await fetch(`${server.url}/s`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let got = 0;
  let text = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += dec.decode(value, { stream: true });
      const parts = text.split('\n\n');
      text = parts.pop()!;
      got += parts.filter((p) => p.startsWith('event: alert')).length;
    }
  })().catch((err: unknown) => t.fail(`the reader's stream broke: ${String(err)}`));
  const { port } = new URL(server.url);
  const idle = connect(Number(port), '127.0.0.1');
  await new Promise<void>((r) => idle.once('connect', () => r()));
  idle.write('GET /s HTTP/1.1\r\nhost: x\r\n\r\n');
  idle.pause();
  let closed = false;
  idle.once('close', () => (closed = true));
  const waitFor = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 30_000;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`${what}: not after 30 s (${JSON.stringify(hub.stats())})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor('both subscribed', () => hub.stats().subscribers === 2);
  let sent = 0;
  // 60 KB events until the idle client's kernel buffers are full and its queue overflows (bounded: 2,000 events).
  while (hub.stats().dropped === 0 && sent < 2000) {
    src.emit();
    sent++;
    await new Promise((r) => setImmediate(r));
  }
  t.equal(hub.stats().dropped, 1, `the idle client was dropped after ${sent} events`);
  idle.resume(); // reads what the kernel still holds, then finds the connection ended
  await waitFor('the idle connection ended', () => closed);
  t.equal(hub.stats().subscribers, 1, 'only the reader is left');
  await waitFor('the reader has every event', () => got === sent);
  t.equal(got, sent, 'the reader received every event, in full');
  hub.stop();
  await reading;
  t.equal(src.listeners(), 0, 'the hub stopped listening to alerts');
});

t.test('sse — more subscribers than allowed are refused with 503', async (t) => {
  const src = source();
  const hub = new SseHub(src.service, 'p1', { keepAliveMs: 10_000, maxQueuedBytes: 1024, maxSubscribers: 1 }, systemClock);
  t.teardown(() => hub.stop());
  const app = new Hono().get('/s', (c) => hub.respond(c)).onError((e, c) => c.text(e.message, (e as { status?: 503 }).status ?? 500));
  const first = await app.request('/s');
  t.equal(first.status, 200);
  const second = await app.request('/s');
  t.equal(second.status, 503);
  t.match(await second.text(), /at most 1 alert stream/);
  await first.body?.cancel();
  t.equal(hub.stats().subscribers, 0, 'a cancelled stream is forgotten');
});
