import { createServer as createHttpServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { serve as nodeServe } from '@hono/node-server';
import { ProbemeshError } from '@probemesh/core';

/** A listening API server. */
export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where and how to listen. */
export interface ServeOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Serve HTTPS with this PEM certificate (chain) and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Connections at once; more are closed on arrival (default 1,000). */
  maxConnections?: number;
}

/**
 * Limits against slow or idle clients (slowloris): the request head must arrive within 10 s and
 * the whole request within 30 s (checked every second), an idle keep-alive connection closes after
 * 5 s, and a socket that moves no byte either way for 2 minutes is closed (a client that stops
 * reading a stream included).
 */
const limits = { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 } as const;
const IDLE_MS = 120_000;

/** Serves `app` over HTTP (or HTTPS with `tls`) on `host:port`. */
export function serve(app: { fetch: (req: Request, env: never) => Response | Promise<Response> }, opts: ServeOptions): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const base = { fetch: (req: Request, env: unknown) => app.fetch(req, env as never), hostname: host, port: opts.port ?? 0 };
    const ready = (info: { port: number }) => {
      resolve({
        url: `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    };
    const server = (
      opts.tls
        ? nodeServe({ ...base, createServer: createHttpsServer, serverOptions: { ...limits, cert: opts.tls.cert, key: opts.tls.key } }, ready)
        : nodeServe({ ...base, createServer: createHttpServer, serverOptions: limits }, ready)
    ) as Server;
    server.maxConnections = opts.maxConnections ?? 1000;
    server.setTimeout(IDLE_MS, (socket) => socket.destroy());
    server.once('error', reject);
  });
}

/** Reads the PEM certificate and key named in the config (`http.tls`), saying which file could not be read. */
export async function readTls(paths: { cert: string; key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = (what: 'cert' | 'key') =>
    readFile(paths[what]).catch((err: unknown) => {
      throw new ProbemeshError(`http.tls.${what}: cannot read '${paths[what]}' (${(err as Error).message})`, { cause: err });
    });
  return { cert: await read('cert'), key: await read('key') };
}
