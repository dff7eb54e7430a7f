import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateMessageRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fixtureServer, newProbe, type ToolProbe, waitFor } from './testing/index.js';
import { MiddlewareTransport } from './transport.js';
import type { Middleware } from './types.js';

async function pair(middleware: Middleware[], probe: ToolProbe = newProbe(), onError?: (e: unknown) => void) {
  const server = (await fixtureServer(probe)({
    sessionId: undefined,
    jsonSchemaValidator: new AjvJsonSchemaValidator(),
    http: undefined as never,
  })) as McpServer;
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const decorated = new MiddlewareTransport(serverSide, { middleware, ...(onError ? { onError } : {}) });
  await server.connect(decorated);
  const client = new Client({ name: 't', version: '1' }, { capabilities: { sampling: {} } });
  await client.connect(clientSide);
  return { server, client, decorated, probe };
}

/** A timeout middleware in a few lines: what `@mcp-middleware/errors` does properly. */
function deadline(ms: number): Middleware {
  return {
    name: 'deadline',
    async rpc(call, next) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<{ error: { code: number; message: string } }>((resolve) => {
        timer = setTimeout(() => {
          // Settle first: cancel() also settles next(), with a plain 'Request cancelled'.
          resolve({ error: { code: -32001, message: `timed out after ${ms} ms` } });
          call.cancel('timed out');
        }, ms);
      });
      try {
        return await Promise.race([next(), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

describe('MiddlewareTransport', () => {
  it('runs RPC middleware over an in-memory transport, the same as over HTTP', async () => {
    const seen: string[] = [];
    const { client } = await pair([
      {
        name: 'spy',
        rpc: (call, next) => {
          // No HTTP request carried it: no header either.
          seen.push(`${call.method} ${call.header('content-type')}`);
          return next();
        },
      },
    ]);
    await client.listTools();
    expect(seen).toEqual(['initialize undefined', 'tools/list undefined']);
    await client.close();
  });

  describe('when a middleware cancels an in-flight call', () => {
    it('aborts the tool’s signal, answers the client at once, and drops the late result', async () => {
      const { client, probe, decorated } = await pair([deadline(100)]);
      const started = performance.now();
      const err = (await client
        .callTool({ name: 'slow', arguments: { ms: 5000 } })
        .catch((e) => e)) as McpError;
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(McpError);
      expect(err.code).toBe(-32001);
      expect(err.message).toContain('timed out after 100 ms');
      expect(elapsed).toBeLessThan(2000);
      await waitFor(() => probe.aborted.includes('slow'), 'the tool to see its signal abort');
      expect(decorated.inFlight).toBe(0);
      // The connection stays healthy: the next call gets its own answer, not the dropped one.
      const next = await client.callTool({ name: 'echo', arguments: { text: 'after' } });
      expect((next.content as Array<{ text: string }>)[0]!.text).toBe('after');
      await client.close();
    });
  });

  describe('when the client cancels', () => {
    it('passes the cancellation to the server and sends nothing back', async () => {
      const probe = newProbe();
      const { client } = await pair([{ name: 'noop', rpc: (_c, next) => next() }], probe);
      const controller = new AbortController();
      const call = client.callTool({ name: 'slow', arguments: { ms: 5000 } }, undefined, {
        signal: controller.signal,
      });
      await waitFor(() => probe.calls.includes('slow'), 'the tool to start');
      controller.abort('user pressed stop');
      await expect(call).rejects.toThrow();
      await waitFor(() => probe.aborted.includes('slow'), 'the tool to be aborted');
      await client.close();
    });
  });

  it('passes server-to-client requests (sampling) through untouched', async () => {
    const server = new McpServer({ name: 's', version: '1' });
    server.registerTool('ask', { inputSchema: { q: z.string() } }, async ({ q }) => {
      const reply = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: q } }],
        maxTokens: 10,
      });
      return { content: [{ type: 'text', text: (reply.content as { text: string }).text }] };
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(
      new MiddlewareTransport(serverSide, { middleware: [{ name: 'noop', rpc: (_c, n) => n() }] }),
    );
    const client = new Client({ name: 't', version: '1' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
      role: 'assistant',
      model: 'test',
      content: {
        type: 'text',
        text: `answer to ${(req.params.messages[0]!.content as { text: string }).text}`,
      },
    }));
    await client.connect(clientSide);
    const result = await client.callTool({ name: 'ask', arguments: { q: 'life' } });
    expect((result.content as Array<{ text: string }>)[0]!.text).toBe('answer to life');
    await client.close();
  });

  it('hands the server the params a middleware saw, so a _meta entry it adds reaches the tool', async () => {
    const server = new McpServer({ name: 's', version: '1' });
    server.registerTool('meta', {}, async (extra) => ({
      content: [{ type: 'text', text: String(extra._meta?.['example.org/call']) }],
    }));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const tagger: Middleware = {
      name: 'tagger',
      rpc(call, next) {
        if (call.params)
          call.params._meta = { ...call.params._meta, 'example.org/call': `tagged-${call.id}` };
        return next();
      },
    };
    await server.connect(new MiddlewareTransport(serverSide, { middleware: [tagger] }));
    const client = new Client({ name: 't', version: '1' });
    await client.connect(clientSide);
    const result = await client.callTool({ name: 'meta', _meta: { 'example.org/call': 'forged by client' } });
    expect((result.content as Array<{ text: string }>)[0]!.text).toMatch(/^tagged-\d+$/);
    await client.close();
  });

  it('lets a middleware send notifications related to the call', async () => {
    const messages: unknown[] = [];
    const { client } = await pair([
      {
        name: 'notifier',
        async rpc(call, next) {
          if (call.toolName) {
            await call.notify({
              method: 'notifications/message',
              params: { level: 'info', data: 'from middleware' },
            });
          }
          return next();
        },
      },
    ]);
    client.fallbackNotificationHandler = async (n) => void messages.push(n.params);
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await waitFor(() => messages.length > 0, 'the notification');
    expect(messages[0]).toEqual({ level: 'info', data: 'from middleware' });
    await client.close();
  });

  it('turns a thrown MiddlewareError-free exception into Internal error and reports it', async () => {
    const reported: unknown[] = [];
    const { client } = await pair(
      [
        {
          name: 'thrower',
          rpc: (call, next) => {
            if (call.toolName) throw new Error('stack and secrets');
            return next();
          },
        },
      ],
      newProbe(),
      (e) => reported.push(e),
    );
    const err = (await client
      .callTool({ name: 'echo', arguments: { text: 'x' } })
      .catch((e) => e)) as McpError;
    expect(err.code).toBe(-32603);
    expect(err.message).not.toContain('secrets');
    expect(reported).toHaveLength(1);
    await client.close();
  });

  it('refuses a second request with an id already in flight', async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const probe = newProbe();
    const server = (await fixtureServer(probe)({
      sessionId: undefined,
      jsonSchemaValidator: new AjvJsonSchemaValidator(),
      http: undefined as never,
    })) as McpServer;
    await server.connect(
      new MiddlewareTransport(serverSide, { middleware: [{ name: 'n', rpc: (_c, n) => n() }] }),
    );
    const replies: unknown[] = [];
    clientSide.onmessage = (m) => void replies.push(m);
    await clientSide.start();
    const call = {
      jsonrpc: '2.0' as const,
      id: 7,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 200 } },
    };
    await clientSide.send(call);
    await clientSide.send(call);
    await waitFor(() => replies.length === 2, 'both replies');
    expect(replies[0]).toMatchObject({ id: 7, error: { code: -32600 } });
    expect(replies[1]).toMatchObject({ id: 7, result: { content: [{ text: 'waited 200' }] } });
    await server.close();
  });
});

describe('MiddlewareTransport with a request id prefix (replicas sharing a session store)', () => {
  it('sends server-to-client requests and their cancellations with the prefix and takes it off the answers', async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const decorated = new MiddlewareTransport(serverSide, { middleware: [], requestIdPrefix: 'r9:' });
    const toServer: unknown[] = [];
    decorated.onmessage = (message) => void toServer.push(message);
    const toClient: unknown[] = [];
    clientSide.onmessage = (message) => void toClient.push(message);
    await decorated.start();
    await clientSide.start();

    await decorated.send({ jsonrpc: '2.0', id: 4, method: 'sampling/createMessage', params: {} });
    await decorated.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 4 } });
    await decorated.send({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'x' },
    });
    await waitFor(() => toClient.length === 3, 'three messages at the client');
    expect(toClient).toEqual([
      { jsonrpc: '2.0', id: 'r9:4', method: 'sampling/createMessage', params: {} },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'r9:4' } },
      { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } },
    ]);

    await clientSide.send({ jsonrpc: '2.0', id: 'r9:4', result: {} });
    // Another replica's answer, and the client's own requests, pass untouched.
    await clientSide.send({ jsonrpc: '2.0', id: 'r1:4', result: {} });
    await clientSide.send({ jsonrpc: '2.0', id: 'r9:7', method: 'ping' });
    await waitFor(() => toServer.length === 3, 'three messages at the server');
    expect(toServer).toEqual([
      { jsonrpc: '2.0', id: 4, result: {} },
      { jsonrpc: '2.0', id: 'r1:4', result: {} },
      { jsonrpc: '2.0', id: 'r9:7', method: 'ping' },
    ]);
  });
});
