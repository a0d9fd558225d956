import { rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP address or a Unix socket path. */
export type Endpoint = { host: string; port: number } | { path: string };

/** One forwarding: connections to `listen` are piped to `target`. */
export interface Route {
  listen: Endpoint;
  target: Endpoint;
}

/** Running forwarders; `listening` holds the actual endpoints (a TCP port 0 resolved). */
export interface Forwarders {
  listening(): Endpoint[];
  stop(): Promise<void>;
}

const show = (e: Endpoint) => ('path' in e ? e.path : `${e.host}:${e.port}`);

/**
 * Pipes connections from each listening endpoint to its target, both ways. Unix sockets are
 * files, seen from every network namespace: a forwarder inside a namespace listening on a path
 * and one on the host's loopback connecting to that path let a test or an operator reach a
 * server inside a namespace without an interface or route on the host.
 */
export async function startForwarders(o: { routes: Route[] }): Promise<Forwarders> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const listening: Endpoint[] = [];
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  };
  try {
    for (const r of o.routes) {
      const server = createServer((inbound) => {
        track(inbound);
        const outbound = track('path' in r.target ? connect(r.target.path) : connect(r.target.port, r.target.host));
        inbound.pipe(outbound).pipe(inbound);
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
      });
      if ('path' in r.listen) await rm(r.listen.path, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`forwarder on ${show(r.listen)}: ${e.message}`, { cause: e })));
        if ('path' in r.listen) server.listen(r.listen.path, resolve);
        else server.listen(r.listen.port, r.listen.host, resolve);
      });
      servers.push(server);
      const a = server.address();
      listening.push('path' in r.listen ? r.listen : { host: r.listen.host, port: typeof a === 'object' && a ? a.port : r.listen.port });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    listening: () => listening,
    async stop() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
