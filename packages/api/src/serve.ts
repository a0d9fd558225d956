import { serve as nodeServe } from '@hono/node-server';
import type { Hono } from 'hono';

/** A listening API server. */
export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `app` over HTTP on `host:port` (port 0 picks a free one). */
export function serve(app: { fetch: Hono["fetch"] }, opts: { host?: string; port?: number }): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = nodeServe({ fetch: app.fetch, hostname: host, port: opts.port ?? 0 }, (info) => {
      const port = info.port;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        close: () =>
          new Promise<void>((r) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
    server.once('error', reject);
  });
}
