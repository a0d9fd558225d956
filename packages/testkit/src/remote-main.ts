// The process `startRemote` starts: builds the object, then answers calls until told to stop
// or until its parent goes away.
import type { RemoteReply, RemoteRequest } from './remote.js';

const send = (m: RemoteReply) => process.send?.(m);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
let target: Record<string, unknown> | undefined;

async function stop(): Promise<void> {
  const s = target?.stop;
  if (typeof s === 'function') await Promise.resolve(s.call(target)).catch((e: unknown) => process.stderr.write(`stop: ${messageOf(e)}\n`));
  process.exit(0);
}

process.on('disconnect', () => void stop());
process.on('message', (m: RemoteRequest) => {
  switch (m.type) {
    case 'start':
      void (async () => {
        try {
          const mod = (await import(m.module)) as Record<string, (args: unknown) => unknown>;
          const factory = mod[m.export];
          if (typeof factory !== 'function') throw new Error(`${m.module} exports no function '${m.export}'`);
          target = (await factory(m.args)) as Record<string, unknown>;
          const methods = new Set<string>();
          for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor' && typeof target[k] === 'function') methods.add(k);
          send({ type: 'ready', methods: [...methods] });
        } catch (err) {
          send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          process.exit(1);
        }
      })();
      return;
    case 'call':
      void (async () => {
        try {
          const f = target?.[m.method];
          if (typeof f !== 'function') throw new Error(`no method '${m.method}'`);
          send({ type: 'result', id: m.id, value: await f.apply(target, m.args) });
        } catch (err) {
          send({ type: 'result', id: m.id, error: messageOf(err) });
        }
      })();
      return;
    case 'stop':
      void stop();
      return;
  }
});
