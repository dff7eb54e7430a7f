import { request } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMiddlewareHandler } from './handler.js';
import { serve } from './node.js';
import { fixtureServer } from './testing/fixture-server.js';

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
