import { createServer } from 'node:http';

/** A real HTTP device on loopback answering JSON that the caller computes per request. */
export interface JsonDevice {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  stop(): Promise<void>;
}

/** Serves `body(path)` as JSON on a free loopback port; a `undefined` body is a 404. */
export async function startJsonDevice(body: (path: string) => unknown): Promise<JsonDevice> {
  const server = createServer((req, res) => {
    const b = body(req.url ?? '/');
    if (b === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(b));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
