import { createServer } from 'node:http';

/** A real HTTP device on loopback answering JSON that the caller computes per request. */
export interface JsonDevice {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves `body(path)` as JSON on a free loopback port; a `undefined` body is a 404. `delayMs`
 * makes a slow device: each answer is sent that long after its request came.
 */
export async function startJsonDevice(body: (path: string) => unknown, opts: { delayMs?: number } = {}): Promise<JsonDevice> {
  const pending = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const answer = () => {
      const b = body(req.url ?? '/');
      if (b === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(b));
    };
    if (!opts.delayMs) return answer();
    const timer = setTimeout(() => {
      pending.delete(timer);
      answer();
    }, opts.delayMs);
    pending.add(timer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    stop: () =>
      new Promise<void>((r) => {
        for (const timer of pending) clearTimeout(timer);
        server.close(() => r());
        server.closeAllConnections(); // answers still delayed are never sent
      }),
  };
}
