import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for an external HTTP service the `service_status` tool calls: `/status?service=…&delay=ms&fail=503`.
 * Embedded so the demo runs with nothing else installed; point UPSTREAM_URL elsewhere to use a real one.
 */
export async function startUpstream(port = 0): Promise<{ url: URL; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname !== '/status') {
      res.writeHead(404).end();
      return;
    }
    const delay = Math.min(Number(url.searchParams.get('delay') ?? 0) || 0, 60_000);
    const fail = Number(url.searchParams.get('fail') ?? 0) || 0;
    const timer = setTimeout(() => {
      if (fail >= 400 && fail < 600) {
        res.writeHead(fail, { 'content-type': 'text/plain' }).end('upstream failure');
        return;
      }
      const service = url.searchParams.get('service') ?? 'api';
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ service, status: 'operational', checkedAt: new Date().toISOString() }));
    }, delay);
    req.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${bound}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
