import { request } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMiddlewareHandler } from './handler.js';
import { serve } from './node.js';
import { fixtureServer } from './testing/fixture-server.js';
import { waitFor } from './testing/index.js';

describe('serve() with a handler factory', () => {
  it('gives the factory the URL of the port it bound, so the handler can name itself', async () => {
    const node = await serve(
      (url) =>
        createMiddlewareHandler({
          server: fixtureServer(),
          routes: [{ path: '/self', handle: () => Response.json({ self: new URL('/mcp', url).href }) }],
        }),
      { port: 0 },
    );
    try {
      expect(node.url.port).not.toBe('0');
      const body = (await (await fetch(new URL('/self', node.url))).json()) as { self: string };
      expect(body.self).toBe(new URL('/mcp', node.url).href);
    } finally {
      await node.close();
    }
  });

  it('still accepts only loopback Host headers on a loopback bind', async () => {
    const node = await serve(async () => createMiddlewareHandler({ server: fixtureServer() }), { port: 0 });
    try {
      // fetch() may not set Host; a raw request can, as a DNS-rebinding page's would arrive.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        request(new URL('/mcp', node.url), { method: 'POST', headers: { host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
          .once('error', reject)
          .end('{}');
      });
      expect(status).toBe(403);
    } finally {
      await node.close();
    }
  });

  it('frees the port and rejects with the factory’s error when the factory fails', async () => {
    let bound: URL | undefined;
    await expect(
      serve(
        (url) => {
          bound = url;
          throw new Error('no handler today');
        },
        { port: 0 },
      ),
    ).rejects.toThrow('no handler today');
    // The port is free again: we can bind it ourselves.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(Number(bound!.port), '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});

describe("serve() reading a request's body", () => {
  it('reads it from the Node stream once, and a later req.json() still sees the same body', async () => {
    const seen: unknown[] = [];
    const node = await serve(
      createMiddlewareHandler({
        server: fixtureServer(),
        middleware: [
          {
            name: 'reads-twice',
            async http(req, ctx, next) {
              seen.push(await ctx.body(), await req.clone().json());
              return next();
            },
          },
        ],
      }),
      { port: 0 },
    );
    try {
      const message = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      };
      const res = await fetch(new URL('/mcp', node.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(message),
      });
      await res.body?.cancel();
      expect(res.status).toBe(200);
      expect(seen).toEqual([message, message]);
    } finally {
      await node.close();
    }
  });

  it('refuses a body over the limit with 413 and closes the connection rather than reading the rest', async () => {
    const node = await serve(createMiddlewareHandler({ server: fixtureServer(), maxBodySize: 1024 }), {
      port: 0,
    });
    try {
      const { status, connection } = await new Promise<{ status?: number; connection?: string }>(
        (resolve, reject) => {
          const req = request(
            new URL('/mcp', node.url),
            {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
            },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode, connection: res.headers.connection });
            },
          ).once('error', reject);
          // No Content-Length: the limit is found while reading.
          req.write(`{"pad":"${'x'.repeat(4096)}`);
        },
      );
      expect(status).toBe(413);
      expect(connection).toBe('close');
    } finally {
      await node.close();
    }
  });
});

describe("serve() and a request's signal", () => {
  const routeServer = (handle: Parameters<typeof createMiddlewareHandler>[0]['routes']) =>
    serve(createMiddlewareHandler({ server: fixtureServer(), routes: handle }), { port: 0 });

  it('reads the body after the signal was read, and does not abort a request that was answered', async () => {
    const node = await routeServer([
      {
        path: '/echo',
        methods: ['POST'],
        async handle(req, ctx) {
          const signal = req.signal;
          const body = await ctx.body();
          return Response.json({ body, aborted: signal.aborted, same: req.signal === signal });
        },
      },
    ]);
    try {
      const res = await fetch(new URL('/echo', node.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hello: 'there' }),
      });
      expect(await res.json()).toEqual({ body: { hello: 'there' }, aborted: false, same: true });
    } finally {
      await node.close();
    }
  });

  it('aborts the signal when the client goes away before the answer', async () => {
    let arrived = false;
    let reason: unknown;
    const node = await routeServer([
      {
        path: '/wait',
        async handle(req) {
          arrived = true;
          await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()));
          reason = req.signal.reason;
          return new Response('too late');
        },
      },
    ]);
    try {
      const client = request(new URL('/wait', node.url));
      client.once('error', () => {});
      client.end();
      await waitFor(() => arrived, 'the request to reach the route');
      client.destroy();
      await waitFor(() => reason !== undefined, 'the signal to abort');
      // Why, as an Error: the connection's own (the upload was cut off here), else that the client closed it.
      expect(reason).toBeInstanceOf(Error);
    } finally {
      await node.close();
    }
  });
});
