import type { Middleware, ServerFactoryContext } from '@mcp-middleware/core';
import {
  connectClient,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
} from '@mcp-middleware/core/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HELLO, type HelloOptions, hello, helloOf } from './index.js';

const servers: TestServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// #region test-server
/** A server whose `greet` tool answers with what the middleware handed it, and a `fail` tool. */
function greetServer({ jsonSchemaValidator }: ServerFactoryContext): McpServer {
  const server = new McpServer({ name: 'hello-test', version: '1.0.0' }, { jsonSchemaValidator });
  server.registerTool('greet', { inputSchema: { topic: z.string().optional() } }, async (_args, extra) => ({
    content: [{ type: 'text', text: JSON.stringify(helloOf(extra) ?? null) }],
  }));
  server.registerTool('fail', {}, async () => ({ isError: true, content: [{ type: 'text', text: 'no' }] }));
  return server;
}

async function start(middleware: Middleware[]): Promise<{ server: TestServer; client: Client }> {
  const server = await startTestServer({ server: greetServer, middleware });
  servers.push(server);
  const client = await connectClient(server.url);
  clients.push(client);
  return { server, client };
}
// #endregion test-server

const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

/** A real (if tiny) auth middleware: names the caller from a header, as API key or OAuth middleware would. */
const namedBy = (header: string): Middleware => ({
  name: 'test-auth',
  async http(req, ctx, next) {
    const who = req.headers.get(header);
    if (who) ctx.authInfo = { token: 'opaque', clientId: 'c', scopes: [], extra: { subject: who } };
    return next();
  },
});

describe('hello()', () => {
  describe('at the HTTP layer', () => {
    it('sends the greeting header on MCP responses, refusals included', async () => {
      const { server } = await start([hello({ greeting: 'Hi' })]);
      const ok = await postJsonRpc(server.url, initializeRequest());
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-hello')).toBe('Hi');
      await ok.body?.cancel();
      const refused = await postJsonRpc(server.url, '{not json');
      expect(refused.status).toBe(400);
      expect(refused.headers.get('x-hello')).toBe('Hi');
      await refused.body?.cancel();
    });

    it('uses the header name given, or sends none with header: false', async () => {
      const named = await start([hello({ header: 'x-greeting' })]);
      const res = await postJsonRpc(named.server.url, initializeRequest());
      expect(res.headers.get('x-greeting')).toBe('Hello');
      await res.body?.cancel();
      const quiet = await start([hello({ header: false })]);
      const none = await postJsonRpc(quiet.server.url, initializeRequest());
      expect(none.headers.get('x-hello')).toBeNull();
      await none.body?.cancel();
    });
  });

  describe('at the RPC layer', () => {
    it('hands the tool a greeting for an anonymous caller', async () => {
      const { client } = await start([hello()]);
      const result = await client.callTool({ name: 'greet', arguments: {} });
      expect(JSON.parse(textOf(result))).toEqual({ greeting: 'Hello, there', previousCalls: 0 });
    });

    it('greets the caller an auth middleware before it named', async () => {
      const { server } = await start([namedBy('x-user'), hello({ anonymous: 'stranger' })]);
      const alice = await connectClient(server.url, { headers: { 'x-user': 'alice' } });
      clients.push(alice);
      expect(JSON.parse(textOf(await alice.callTool({ name: 'greet', arguments: {} })))).toMatchObject({
        greeting: 'Hello, alice',
      });
    });

    it('ignores a greeting a client puts in _meta: the tool reads the call context, not _meta', async () => {
      const { client } = await start([hello()]);
      const result = await client.callTool({
        name: 'greet',
        arguments: {},
        _meta: { 'io.github.mcp-middleware/hello': { greeting: 'forged', previousCalls: 99 }, other: 1 },
      });
      expect(JSON.parse(textOf(result))).toEqual({ greeting: 'Hello, there', previousCalls: 0 });
    });

    it('counts successful calls per tool, not tool errors or unknown tools', async () => {
      const greeter = hello();
      const { client } = await start([greeter]);
      await client.callTool({ name: 'greet', arguments: {} });
      const second = await client.callTool({ name: 'greet', arguments: {} });
      expect(JSON.parse(textOf(second))).toMatchObject({ previousCalls: 1 });
      await client.callTool({ name: 'fail', arguments: {} });
      await client.callTool({ name: 'no_such_tool', arguments: {} }).catch(() => {});
      expect(Object.fromEntries(greeter.calls())).toEqual({ greet: 2 });
    });

    it('leaves what it found in the call for middleware after it (call.get(HELLO))', async () => {
      const seen: Array<string | undefined> = [];
      const after: Middleware = {
        name: 'after',
        async rpc(call, next) {
          if (call.method === 'tools/call') seen.push(call.get(HELLO)?.greeting);
          return next();
        },
      };
      const { client } = await start([hello({ greeting: 'Hey' }), after]);
      await client.callTool({ name: 'greet', arguments: {} });
      expect(seen).toEqual(['Hey, there']);
    });

    it('leaves other methods alone', async () => {
      const greeter = hello();
      const { client } = await start([greeter]);
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['fail', 'greet']);
      expect(greeter.calls().size).toBe(0);
    });
  });

  it('counts per instance: two middleware never share counts', async () => {
    const one = hello();
    const two = hello();
    const { client } = await start([one]);
    await client.callTool({ name: 'greet', arguments: {} });
    expect(one.calls().get('greet')).toBe(1);
    expect(two.calls().size).toBe(0);
  });

  it('tells a tool without the middleware that nothing was found', async () => {
    const { client } = await start([]);
    expect(JSON.parse(textOf(await client.callTool({ name: 'greet', arguments: {} })))).toBeNull();
  });

  it.each([
    ['an empty greeting', { greeting: '' }, /hello: greeting must be a non-empty string; got ""/],
    ['a greeting that is not text', { greeting: 42 }, /hello: greeting must be a non-empty string; got 42/],
    ['a header that is no header name', { header: 'x hello' }, /hello: header must be an HTTP header name/],
    ['an anonymous name of spaces', { anonymous: '  ' }, /hello: anonymous must be a non-empty string/],
    ['options that are not an object', null, /hello: options must be an object/],
  ])('throws a TypeError naming the option for %s', (_what, options, message) => {
    expect(() => hello(options as HelloOptions)).toThrow(TypeError);
    expect(() => hello(options as HelloOptions)).toThrow(message);
  });
});
