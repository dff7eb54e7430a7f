import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callOf, createKey } from './call.js';
import { wrapServer } from './server.js';
import { typeScriptNodeArgs, waitFor } from './testing/index.js';
import type { Middleware, RpcCall, RpcResult } from './types.js';

const run = promisify(execFile);

/** Connects the SDK v1 client to a wrapped server over the SDK's in-memory transport pair. */
async function connected(server: McpServer | Server): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

function spy(calls: RpcCall[], answers: RpcResult[] = []): Middleware {
  return {
    name: 'spy',
    async rpc(call, next) {
      calls.push(call);
      const answer = await next();
      answers.push(answer);
      return answer;
    },
  };
}

describe('wrapServer (SDK v1)', () => {
  it('wraps tools registered after it as well as before', async () => {
    const calls: RpcCall[] = [];
    const server = new McpServer({ name: 's', version: '1.0.0' });
    wrapServer(server, { middleware: [spy(calls)] });
    server.registerTool('later', {}, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
    const client = await connected(server);
    await client.callTool({ name: 'later', arguments: {} });
    expect(calls.map((c) => c.method)).toEqual(['initialize', 'tools/call']);
    expect(calls[1]?.toolName).toBe('later');
    await client.close();
  });

  it('runs the RPC layer for a method the server has no handler for, then answers -32601 as the SDK does', async () => {
    const calls: RpcCall[] = [];
    const answers: RpcResult[] = [];
    const server = new McpServer({ name: 's', version: '1.0.0' });
    server.registerTool('t', {}, async () => ({ content: [] }));
    wrapServer(server, { middleware: [spy(calls, answers)] });
    const client = await connected(server);
    await expect(client.listPrompts()).rejects.toMatchObject({ code: -32601 });
    expect(calls.at(-1)?.method).toBe('prompts/list');
    expect(answers.at(-1)?.error?.code).toBe(-32601);
    await client.close();
  });

  it('gives the tool its call through callOf(extra), with typed state a middleware set', async () => {
    const USER = createKey<{ name: string }>('test/user');
    const server = new McpServer({ name: 's', version: '1.0.0' });
    server.registerTool('who', {}, async (extra) => ({
      content: [{ type: 'text', text: callOf(extra)?.get(USER)?.name ?? 'nobody' }],
    }));
    wrapServer(server, {
      middleware: [
        {
          name: 'user',
          rpc(call, next) {
            call.set(USER, { name: 'ada' });
            return next();
          },
        },
      ],
    });
    const client = await connected(server);
    const result = await client.callTool({ name: 'who', arguments: {} });
    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('ada');
    await client.close();
  });

  it('settles next() with data.reason "cancelled" and aborts the tool when the client cancels', async () => {
    const answers: RpcResult[] = [];
    let toolAborted = false;
    let started = false;
    const server = new McpServer({ name: 's', version: '1.0.0' });
    server.registerTool('wait', {}, async (extra) => {
      started = true;
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
      toolAborted = true;
      return { content: [] };
    });
    wrapServer(server, { middleware: [spy([], answers)] });
    const client = await connected(server);
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: controller.signal });
    await waitFor(() => started, 'the tool to start');
    controller.abort('stop');
    await expect(call).rejects.toThrow();
    await waitFor(() => toolAborted, 'the tool to see its signal abort');
    await waitFor(() => answers.length === 2, 'the cancelled call to settle (after initialize)');
    expect(answers[1]?.error).toMatchObject({ code: -32001, data: { reason: 'cancelled' } });
    await client.close();
  });

  it('settles next() when the client cancels a tool that never reads its signal, and when the connection closes', async () => {
    const answers: RpcResult[] = [];
    const calls: RpcCall[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = new McpServer({ name: 's', version: '1.0.0' });
    // Stubborn: ignores its signal, answers only when the test lets it.
    server.registerTool('stubborn', {}, async () => {
      await held;
      return { content: [] };
    });
    wrapServer(server, { middleware: [spy(calls, answers)] });
    const client = await connected(server);
    const controller = new AbortController();
    const cancelled = client.callTool({ name: 'stubborn', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await waitFor(() => calls.length === 2, 'the first call to reach the middleware');
    controller.abort('stop');
    await expect(cancelled).rejects.toThrow();
    await waitFor(() => answers.length === 2, 'the cancelled call to settle while its tool still runs');
    expect(answers[1]?.error).toMatchObject({ code: -32001, data: { reason: 'cancelled' } });
    expect(calls[1]?.cancelled).toBe(true);

    const open = client.callTool({ name: 'stubborn', arguments: {} });
    await waitFor(() => calls.length === 3, 'the second call to reach the middleware');
    await client.close();
    await expect(open).rejects.toThrow();
    await waitFor(() => answers.length === 3, 'the open call to settle once the connection closed');
    expect(answers[2]?.error).toMatchObject({ code: -32001, data: { reason: 'cancelled' } });
    release();
  });

  it('tells a cancelled call by call.cancelled, and a signal first read after cancel() is already aborted', async () => {
    const seen: Array<{ before: boolean; after: boolean; aborted: boolean; reason: unknown }> = [];
    const server = new McpServer({ name: 's', version: '1.0.0' });
    let toolSignal: AbortSignal | undefined;
    server.registerTool('quick', {}, async (extra) => {
      toolSignal = extra.signal;
      return { content: [] };
    });
    wrapServer(server, {
      middleware: [
        {
          name: 'canceller',
          async rpc(call, next) {
            if (call.method !== 'tools/call') return next();
            const before = call.cancelled;
            call.cancel('enough');
            seen.push({
              before,
              after: call.cancelled,
              aborted: call.signal.aborted,
              reason: call.signal.reason,
            });
            return next();
          },
        },
      ],
    });
    const client = await connected(server);
    await expect(client.callTool({ name: 'quick', arguments: {} })).rejects.toMatchObject({ code: -32001 });
    expect(seen).toEqual([{ before: false, after: true, aborted: true, reason: 'enough' }]);
    // The call was cancelled before the server's handler ran: the tool never ran.
    expect(toolSignal).toBeUndefined();
    await client.close();
  });

  it("gives the tool the call's own signal as extra.signal, the same object the middleware reads", async () => {
    let fromMiddleware: AbortSignal | undefined;
    let fromTool: AbortSignal | undefined;
    const server = new McpServer({ name: 's', version: '1.0.0' });
    server.registerTool('look', {}, async (extra) => {
      fromTool = extra.signal;
      return { content: [] };
    });
    wrapServer(server, {
      middleware: [
        {
          name: 'reader',
          rpc(call, next) {
            if (call.method === 'tools/call') fromMiddleware = call.signal;
            return next();
          },
        },
      ],
    });
    const client = await connected(server);
    await client.callTool({ name: 'look', arguments: {} });
    expect(fromTool).toBeInstanceOf(AbortSignal);
    expect(fromTool).toBe(fromMiddleware);
    expect(fromTool?.aborted).toBe(false);
    await client.close();
  });

  it("hands the tool the SDK's own extra, key for key in the SDK's order, with only signal and the call's stamp changed", async () => {
    type Extra = Record<string, unknown>;
    const toolExtra = async (wrap: boolean): Promise<Extra> => {
      let seen: Extra | undefined;
      const server = new McpServer({ name: 's', version: '1.0.0' });
      server.registerTool('look', {}, async (extra) => {
        seen = extra as unknown as Extra;
        return { content: [] };
      });
      if (wrap) wrapServer(server, { middleware: [{ name: 'noop', rpc: (_call, next) => next() }] });
      const client = await connected(server);
      await client.callTool({ name: 'look', arguments: {} });
      await client.close();
      return seen!;
    };
    const sdk = await toolExtra(false);
    const ours = await toolExtra(true);
    expect(Object.keys(ours)).toEqual(Object.keys(sdk));
    for (const key of Object.keys(sdk)) {
      if (key === 'signal' || key === 'requestInfo') continue;
      // Functions are the request's own closures: same kind, not the same object across two servers.
      if (typeof sdk[key] === 'function') expect(typeof ours[key], key).toBe('function');
      else expect(ours[key], key).toEqual(sdk[key]);
    }
    expect(ours['signal']).toBeInstanceOf(AbortSignal);
    expect(Object.getPrototypeOf(ours)).toBe(Object.prototype);
    expect(callOf(ours)).toBeDefined();
    expect(callOf(sdk)).toBeUndefined();
  });

  it('works on the low-level Server too', async () => {
    const calls: RpcCall[] = [];
    const server = new Server({ name: 's', version: '1.0.0' }, { capabilities: {} });
    wrapServer(server, { middleware: [spy(calls)] });
    const client = await connected(server);
    await client.ping();
    expect(calls.map((c) => c.method)).toEqual(['initialize', 'ping']);
    await client.close();
  });

  it('runs a fallback handler set after it, and a method whose handler was removed after it, through the RPC layer', async () => {
    const calls: RpcCall[] = [];
    const answers: RpcResult[] = [];
    const server = new Server({ name: 's', version: '1.0.0' }, { capabilities: {} });
    wrapServer(server, { middleware: [spy(calls, answers)] });
    server.fallbackRequestHandler = async (request) => ({ handledBy: `fallback for ${request.method}` });
    server.removeRequestHandler('ping');
    const client = await connected(server);
    const answer = z.object({ handledBy: z.string() });
    await expect(client.request({ method: 'custom/thing', params: {} }, answer)).resolves.toEqual({
      handledBy: 'fallback for custom/thing',
    });
    await expect(client.request({ method: 'ping' }, answer)).resolves.toEqual({
      handledBy: 'fallback for ping',
    });
    expect(calls.map((c) => c.method)).toEqual(['initialize', 'custom/thing', 'ping']);
    expect(answers.at(-1)?.result).toEqual({ handledBy: 'fallback for ping' });
    await client.close();
  });

  it('lets RPC middleware send the client a notification about the call with call.notify()', async () => {
    const server = new McpServer({ name: 's', version: '1.0.0' }, { capabilities: { logging: {} } });
    server.registerTool('t', {}, async () => ({ content: [] }));
    wrapServer(server, {
      middleware: [
        {
          name: 'notifier',
          async rpc(call, next) {
            if (call.toolName === 't') {
              const { notify } = call;
              await notify({ method: 'notifications/message', params: { level: 'info', data: 'about t' } });
            }
            return next();
          },
        },
      ],
    });
    const client = await connected(server);
    const received: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(n.params.data));
    await client.callTool({ name: 't', arguments: {} });
    await waitFor(() => received.length > 0, 'the notification');
    expect(received).toEqual(['about t']);
    await client.close();
  });

  it('leaves the SDK’s server objects in V8’s fast-properties mode, on both SDK lines', async () => {
    const child = fileURLToPath(new URL('./test-fast-properties.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--allow-natives-syntax', ...typeScriptNodeArgs(child)], {
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      'SDK v1 McpServer.server': true,
      'SDK v1 Server': true,
      'SDK v1 handler map': true,
      'SDK v2 McpServer.server': true,
    });
  });

  it('leaves callOf undefined where no middleware wrapped the server', () => {
    expect(callOf({ signal: new AbortController().signal })).toBeUndefined();
    expect(callOf(undefined)).toBeUndefined();
  });

  it('refuses bad input with a TypeError: no server, no middleware list, or wrapping twice', () => {
    expect(() => wrapServer({}, { middleware: [] })).toThrow(TypeError);
    const server = new McpServer({ name: 's', version: '1.0.0' });
    expect(() => wrapServer(server, {} as never)).toThrow(/middleware must be an array/);
    wrapServer(server, { middleware: [] });
    expect(() => wrapServer(server, { middleware: [] })).toThrow(/already wrapped/);
    expect(() => createKey('')).toThrow(TypeError);
  });
});
