import { createServer } from 'node:http';

/** What a simulated web server has served, as WWW-MIB's summary counters count it. */
export interface WebStats {
  /** Requests received (wwwSummaryInRequests). */
  requests: number;
  /** Responses sent (wwwSummaryOutResponses). */
  responses: number;
  /** Bytes received and sent on its connections, headers included (wwwSummaryInLowBytes, OutLowBytes). */
  inBytes: number;
  outBytes: number;
}

/** A running simulated web server. */
export interface WebServer {
  url: string;
  stats(): WebStats;
  stop(): Promise<void>;
}

/**
 * An HTTP server answering every GET with a page of `pageBytes` (default 2048), counting what it
 * serves; `onChange` hears the counters after each connection closes (to update an SNMP table).
 */
export async function startWebServer(o: { address: string; port?: number; pageBytes?: number; onChange?: (s: WebStats) => void }): Promise<WebServer> {
  const stats: WebStats = { requests: 0, responses: 0, inBytes: 0, outBytes: 0 };
  const page = Buffer.alloc(o.pageBytes ?? 2048, 'probemesh ');
  const server = createServer((req, res) => {
    stats.requests++;
    res.on('finish', () => stats.responses++);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }).end(page));
  });
  server.on('connection', (socket) => {
    socket.on('close', () => {
      stats.inBytes += socket.bytesRead;
      stats.outBytes += socket.bytesWritten;
      o.onChange?.({ ...stats });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 80, o.address, resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${o.address}:${port}/`,
    stats: () => ({ ...stats }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
