import { afterEach, describe, expect, it } from 'vitest';
import { createMiddlewareHandler, type McpHandler } from './handler.js';
import {
  fixtureServer,
  initializeRequest,
  startTestServer,
  type TestServer,
  waitFor,
} from './testing/index.js';
import type { Middleware } from './types.js';

/** Records each response's end as an access log would: status, and whether the client left first. */
function watcher(ends: Array<{ status: number; aborted: boolean }>): Middleware {
  return {
    name: 'watcher',
    async http(_req, ctx, next) {
      const response = await next();
      ctx.onResponseSent((aborted) => ends.push({ status: response.status, aborted }));
      return response;
    },
  };
}

const post = (body: unknown) =>
  new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      host: '127.0.0.1',
    },
    body: JSON.stringify(body),
  });

let server: TestServer | undefined;
let handler: McpHandler | undefined;
afterEach(async () => {
  await server?.close();
  await handler?.close();
  server = handler = undefined;
});

describe('ctx.onResponseSent', () => {
  it('fires once the Node adapter has written the response, from its own event (the Response is not copied)', async () => {
    const ends: Array<{ status: number; aborted: boolean }> = [];
    server = await startTestServer({
      server: fixtureServer(),
      middleware: [watcher(ends)],
      enableJsonResponse: true,
    });
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(initializeRequest()),
    });
    await res.text();
    await waitFor(() => ends.length === 1, 'the end of the response');
    expect(ends).toEqual([{ status: 200, aborted: false }]);
  });

  it('fires when the body has been read, on a runtime that gives no finish event (plain fetch)', async () => {
    const ends: Array<{ status: number; aborted: boolean }> = [];
    handler = createMiddlewareHandler({
      server: fixtureServer(),
      middleware: [watcher(ends)],
      enableJsonResponse: true,
    });
    const res = await handler.fetch(post(initializeRequest()));
    expect(ends).toEqual([]);
    await res.text();
    await waitFor(() => ends.length === 1, 'the end of the body');
    expect(ends).toEqual([{ status: 200, aborted: false }]);
  });

  it('says aborted when the client cancels a streamed body before its end', async () => {
    const ends: Array<{ status: number; aborted: boolean }> = [];
    handler = createMiddlewareHandler({
      server: fixtureServer(),
      middleware: [watcher(ends)],
      routes: [
        {
          path: '/stream',
          handle: () =>
            new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('a')) })),
        },
      ],
    });
    const res = await handler.fetch(
      new Request('http://127.0.0.1/stream', { headers: { host: '127.0.0.1' } }),
    );
    await res.body?.cancel('gone');
    await waitFor(() => ends.length === 1, 'the cancelled body');
    expect(ends).toEqual([{ status: 200, aborted: true }]);
  });
});
