import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler as createSdkHandler, McpServer } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { callOf, createKey } from './call.js';
import { MiddlewareError } from './errors.js';
import { createMiddlewareHandler, type McpHandler } from './handler.js';
import { serve } from './node.js';
import { waitFor } from './testing/index.js';
import type { Middleware, RpcCall } from './types.js';

/*
 * SDK v2 (`@modelcontextprotocol/server` 2.x) serves with its own createMcpHandler, which builds its transports
 * inside. These tests show both layers of the same Middleware objects running there, for a 2025-11-25 client (the
 * stateless legacy path) and a 2026-07-28 client (the per-request path), with the SDK's own v2 client.
 */

const TENANT = createKey<string>('test/tenant');

interface Seen {
  http: string[];
  rpc: Array<
    Pick<RpcCall, 'method' | 'toolName' | 'protocolVersion'> & {
      requestId?: string;
      path?: string;
      user?: string;
      userHeader?: string;
      absentHeader?: string;
    }
  >;
  /** How `next()` settled for calls of the `hang` tool. */
  settled: Array<{ code?: number; reason?: unknown; cancelled: boolean }>;
}

function recorder(seen: Seen): Middleware {
  return {
    name: 'recorder',
    async http(req, ctx, next) {
      seen.http.push(`${req.method} ${ctx.route}`);
      // A stand-in for an auth middleware: identity from a header, as apiKeyAuth() would set it.
      const user = req.headers.get('x-user');
      if (user) ctx.authInfo = { token: 'opaque', clientId: user, scopes: ['read'] };
      const res = await next();
      ctx.setResponseHeader('x-seen-by', 'recorder');
      return res;
    },
    async rpc(call, next) {
      seen.rpc.push({
        method: call.method,
        toolName: call.toolName,
        protocolVersion: call.protocolVersion,
        requestId: call.http?.requestId,
        path: call.requestInfo?.url?.pathname,
        user: call.requestInfo?.headers['x-user'] as string | undefined,
        userHeader: call.header('X-User'),
        absentHeader: call.header('x-absent'),
      });
      if (call.toolName === 'forbidden') throw new MiddlewareError('forbidden', 'Not for you');
      call.set(TENANT, `tenant-of-${call.authInfo?.clientId ?? 'nobody'}`);
      if (call.toolName === 'slow') {
        // A deadline as errors() sets it: answer, then cancel the handler.
        const timer = setTimeout(() => call.cancel('timed out'), 100);
        const answer = await next();
        clearTimeout(timer);
        return answer.error?.data && (answer.error.data as { reason?: string }).reason === 'cancelled'
          ? { error: { code: -32001, message: 'Timed out', data: { reason: 'timeout' } } }
          : answer;
      }
      if (call.toolName === 'hang') {
        const answer = await next();
        const data = answer.error?.data as { reason?: unknown } | undefined;
        seen.settled.push({ code: answer.error?.code, reason: data?.reason, cancelled: call.cancelled });
        return answer;
      }
      return next();
    },
  };
}

interface Harness {
  handler: McpHandler;
  url: URL;
  aborted: string[];
  close(): Promise<void>;
}

function buildServer(handler: () => McpHandler, aborted: string[]): McpServer {
  const server = new McpServer({ name: 'v2-fixture', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Reads the call context' }, async (ctx) => {
    const call = callOf(ctx);
    return {
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            tenant: call?.get(TENANT),
            client: call?.authInfo?.clientId,
            requestId: call?.http?.requestId,
            meta: ctx.mcpReq._meta ?? null,
          }),
        },
      ],
    };
  });
  server.registerTool(
    'echo',
    { description: 'Echoes', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('forbidden', { description: 'Refused by middleware' }, async () => ({
    content: [{ type: 'text', text: 'should not run' }],
  }));
  server.registerTool('slow', { description: 'Waits for its signal' }, async (ctx) => {
    await new Promise<void>((resolve) => {
      ctx.mcpReq.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    aborted.push('slow');
    return { content: [{ type: 'text', text: 'late' }] };
  });
  server.registerTool('hang', { description: 'Runs until its signal aborts' }, async (ctx) => {
    await new Promise<void>((resolve) => {
      ctx.mcpReq.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    aborted.push('hang');
    return { content: [{ type: 'text', text: 'stopped' }] };
  });
  return handler().wrapServer(server);
}

async function start(): Promise<Harness & { seen: Seen }> {
  const seen: Seen = { http: [], rpc: [], settled: [] };
  const aborted: string[] = [];
  // The SDK's factory runs per request, so `handler` exists by the time it is called.
  const sdk = createSdkHandler(() => buildServer(() => handler, aborted));
  const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware: [recorder(seen)] });
  const node = await serve(handler, { port: 0, hostname: '127.0.0.1' });
  return {
    handler,
    seen,
    aborted,
    url: new URL('/mcp', node.url),
    close: async () => {
      await node.close();
      await sdk.close();
    },
  };
}

async function connect(url: URL, era: 'legacy' | 'modern', user?: string): Promise<Client> {
  const client = new Client(
    { name: `v2-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(url, { requestInit: { headers: user ? { 'x-user': user } : {} } }),
  );
  return client;
}

const textOf = (result: { content?: unknown }) =>
  ((result.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '') as string;

let harness: (Harness & { seen: Seen }) | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe.each(['legacy', 'modern'] as const)(
  'SDK v2 createMcpHandler behind createMiddlewareHandler, %s era',
  (era) => {
    it('runs the HTTP and RPC layers for every call, with the request’s headers and URL; the tool reads its call through callOf(ctx)', async () => {
      harness = await start();
      const client = await connect(harness.url, era, 'alice');
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      const body = JSON.parse(textOf(result));
      expect(body.tenant).toBe('tenant-of-alice');
      expect(body.client).toBe('alice');
      expect(body.requestId).toMatch(/^[\w-]{8,}$/);
      expect(harness.seen.http.every((line) => line.endsWith(' mcp'))).toBe(true);
      const toolCall = harness.seen.rpc.find((c) => c.toolName === 'whoami');
      expect(toolCall).toMatchObject({ method: 'tools/call', requestId: body.requestId });
      // The HTTP request's headers and URL, read from v2's Request when the middleware asked.
      expect(toolCall).toMatchObject({ path: '/mcp', user: 'alice', userHeader: 'alice' });
      // One header, in any case, straight from the Request; none is undefined, not null.
      expect(toolCall).toHaveProperty('absentHeader', undefined);
      expect(toolCall?.protocolVersion).toBe(era === 'modern' ? '2026-07-28' : undefined);
      await client.close();
    });

    it('adds nothing to the _meta the tool sees', async () => {
      harness = await start();
      const client = await connect(harness.url, era);
      const body = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      const keys = Object.keys(body.meta ?? {});
      expect(keys.filter((k) => k.includes('mcp-middleware'))).toEqual([]);
      await client.close();
    });

    it('answers a refusal from RPC middleware with its code, and the tool never runs', async () => {
      harness = await start();
      const client = await connect(harness.url, era);
      await expect(client.callTool({ name: 'forbidden', arguments: {} })).rejects.toMatchObject({
        code: -32003,
      });
      await client.close();
    });

    it('passes arguments through to the tool unchanged', async () => {
      harness = await start();
      const client = await connect(harness.url, era);
      expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo' } }))).toBe('héllo');
      await client.close();
    });

    it('cancels the tool when a middleware gives up on it: the signal aborts and the middleware answers', async () => {
      harness = await start();
      const h = harness;
      const client = await connect(h.url, era);
      await expect(client.callTool({ name: 'slow', arguments: {} })).rejects.toMatchObject({
        code: -32001,
        data: { reason: 'timeout' },
      });
      await waitFor(() => h.aborted.includes('slow'), 'the slow tool to see its signal abort');
      await client.close();
    });
  },
);

// A 2026-07-28 client that gives up closes its request, and SDK v2 aborts the handler's signal. (On v2's 2025-11-25
// stateless path the SDK aborts nothing: the client's notifications/cancelled reaches another per-request server.)
describe('SDK v2, 2026-07-28 era: a client that gives up', () => {
  /** Calls the `hang` tool, runs `meanwhile` once the call reached the middleware, then gives up on it. */
  async function giveUpOnHang(meanwhile: () => Promise<void> = async () => {}): Promise<void> {
    harness = await start();
    const h = harness;
    const client = await connect(h.url, 'modern');
    const controller = new AbortController();
    const pending = client.callTool({ name: 'hang', arguments: {} }, { signal: controller.signal });
    await waitFor(() => h.seen.rpc.some((c) => c.toolName === 'hang'), 'the call to reach the middleware');
    await meanwhile();
    controller.abort('gave up');
    await expect(pending).rejects.toThrow();
    await waitFor(() => h.seen.settled.length === 1, 'next() to settle once the SDK aborted the call');
    expect(h.seen.settled[0]).toMatchObject({ code: -32001, reason: 'cancelled', cancelled: true });
    await waitFor(() => h.aborted.includes('hang'), 'the tool to see its signal abort');
    await client.close();
  }

  it('settles next() as cancelled, and aborts the tool, when the client gives up on a call', async () => {
    await giveUpOnHang();
  });

  it('still cancels a tool that waits for nothing but its signal after full garbage collections', async () => {
    // The SDK's abort listener holds the call weakly: only the signal the tool read may keep it alive.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    await giveUpOnHang(async () => {
      // Let the tool start and read its signal, then collect everything nothing holds.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    });
  });
});

describe('SDK v2 through its own Node adapter', () => {
  let http: HttpServer | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    http = undefined;
  });

  it('runs the RPC layer with toNodeHandler serving the handler', async () => {
    const seen: Seen = { http: [], rpc: [], settled: [] };
    const aborted: string[] = [];
    const sdk = createSdkHandler(() => buildServer(() => handler, aborted));
    const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware: [recorder(seen)] });
    // The v2 adapter gives a Node (req, res) listener; our Fetch face goes through it as any Fetch handler would.
    http = createServer(toNodeHandler({ fetch: (req: Request) => handler.fetch(req) }));
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
    const client = await connect(url, 'modern', 'bob');
    const body = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(body).toMatchObject({ tenant: 'tenant-of-bob', client: 'bob' });
    expect(seen.rpc.some((c) => c.toolName === 'whoami')).toBe(true);
    await client.close();
    await sdk.close();
  });

  it.each(['legacy', 'modern'] as const)(
    "hands the tool v2's own ctx.mcpReq, key for key in the SDK's order, with the call's signal (%s era)",
    async (era) => {
      const seen: Array<{ keys: string[]; signal: boolean; call: boolean }> = [];
      const make = () => {
        const server = new McpServer({ name: 'keys', version: '1.0.0' });
        server.registerTool('keys', { description: 'Reports ctx.mcpReq' }, async (ctx) => {
          seen.push({
            keys: Object.keys(ctx.mcpReq),
            signal: ctx.mcpReq.signal instanceof AbortSignal,
            call: callOf(ctx) !== undefined,
          });
          return { content: [] };
        });
        return server;
      };
      const keysVia = async (fetch: (req: Request) => Promise<Response>) => {
        http = createServer(toNodeHandler({ fetch }));
        await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
        const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
        const client = await connect(url, era);
        await client.callTool({ name: 'keys', arguments: {} });
        await client.close();
        await new Promise<void>((resolve) => http!.close(() => resolve()));
        http = undefined;
        return seen.at(-1)!;
      };
      const plain = createSdkHandler(make);
      const sdk = await keysVia((req) => plain.fetch(req));
      const wrapped = createSdkHandler(() => handler.wrapServer(make()));
      const handler = createMiddlewareHandler({
        fetch: wrapped.fetch,
        middleware: [{ name: 'noop', rpc: (_call, next) => next() }],
      });
      const ours = await keysVia((req) => handler.fetch(req));
      expect(ours.keys).toEqual(sdk.keys);
      expect(ours).toMatchObject({ signal: true, call: true });
      expect(sdk.call).toBe(false);
      await plain.close();
      await wrapped.close();
    },
  );
});
