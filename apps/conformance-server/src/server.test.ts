import { generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TOOL_MESSAGE } from './definition.js';
import { type RunningServer, serveBareV1, serveStackV1 } from './serve-v1.js';
import { serveBareV2, serveStackV2 } from './serve-v2.js';

const SCOPE = 'conformance:call';
const granted = generateApiKey({ owner: 'test', scopes: [SCOPE] });
const unscoped = generateApiKey({ owner: 'test-no-scope' });

async function connect(server: RunningServer, key?: string): Promise<Client> {
  const client = new Client({ name: 'conformance-server-test', version: '1.0.0' });
  const headers: Record<string, string> = key ? { 'x-api-key': key } : {};
  await client.connect(new StreamableHTTPClientTransport(server.url, { requestInit: { headers } }));
  return client;
}

describe('the conformance server through the full stack (API keys on)', () => {
  let stack: RunningServer;
  let client: Client;

  beforeAll(async () => {
    stack = await serveStackV1({
      keys: new MemoryKeyStore([granted.record, unscoped.record]),
      toolScopes: [SCOPE],
      signals: false,
      logLevel: 'silent',
    });
    client = await connect(stack, granted.key);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.close();
  });

  it('answers a tool call with the text the conformance scenario expects', async () => {
    const result = await client.callTool({ name: 'test_simple_text' });
    expect(result.content).toEqual([{ type: 'text', text: 'This is a simple text response for testing.' }]);
  });

  it('streams progress 0, 50 and 100 of 100 before the result', async () => {
    const updates: Progress[] = [];
    const result = await client.request(
      { method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {} } },
      CallToolResultSchema,
      { onprogress: (progress) => updates.push(progress) },
    );
    expect(updates.map(({ progress, total }) => ({ progress, total }))).toEqual([
      { progress: 0, total: 100 },
      { progress: 50, total: 100 },
      { progress: 100, total: 100 },
    ]);
    expect(result.isError).toBeFalsy();
  });

  it("sends the intentional tool error verbatim (a ToolError through errors' tool wrapper, not masked)", async () => {
    const result = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(result).toMatchObject({ isError: true, content: [{ type: 'text', text: ERROR_TOOL_MESSAGE }] });
  });

  it('answers the sampling tool with what the client sampled', async () => {
    const sampler = new Client({ name: 'sampler', version: '1.0.0' }, { capabilities: { sampling: {} } });
    sampler.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      role: 'assistant',
      model: 'echo',
      content: { type: 'text', text: `echo: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));
    await sampler.connect(
      new StreamableHTTPClientTransport(stack.url, {
        requestInit: { headers: { 'x-api-key': granted.key } },
      }),
    );
    try {
      const result = await sampler.callTool({ name: 'test_sampling', arguments: { prompt: 'hi' } });
      expect(result.content).toEqual([
        { type: 'text', text: 'LLM response: echo: {"type":"text","text":"hi"}' },
      ]);
    } finally {
      await sampler.close();
    }
  });

  it('refuses a client without a key with 401', async () => {
    await expect(connect(stack)).rejects.toThrow(/an API key is required/);
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(401);
  });

  it('hides and refuses every tool for a key without the scope', async () => {
    const limited = await connect(stack, unscoped.key);
    try {
      expect((await limited.listTools()).tools).toEqual([]);
      await expect(limited.callTool({ name: 'test_simple_text' })).rejects.toThrow(
        /requires scope conformance:call/,
      );
    } finally {
      await limited.close();
    }
  });

  it('serves the health probes beside the MCP endpoint', async () => {
    const response = await fetch(new URL('/livez', stack.url), { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(200);
  });
});

describe('the conformance server bare (the SDK alone)', () => {
  const clients: Client[] = [];
  const lists = async (server: RunningServer) => {
    const client = await connect(server);
    clients.push(client);
    return {
      tools: await client.listTools(),
      resources: await client.listResources(),
      prompts: await client.listPrompts(),
    };
  };
  afterAll(async () => {
    for (const client of clients) await client.close();
  });

  it('lists the same tools, resources and prompts as the full stack', async () => {
    const bare = await serveBareV1();
    const stack = await serveStackV1({ signals: false, logLevel: 'silent' });
    try {
      expect(await lists(stack)).toEqual(await lists(bare));
    } finally {
      await bare.close();
      await stack.close();
    }
  });

  it('offers the same tools, resources and prompts on SDK v2 (a 2025 client through its legacy fallback)', async () => {
    // The two lines differ in decoration (v1 adds `execution.taskSupport`; v2 writes 2020-12 schemas), not in what
    // is offered.
    const offered = async (server: RunningServer) => {
      const { tools, resources, prompts } = await lists(server);
      return {
        tools: tools.tools.map(({ name, description, inputSchema }) => ({
          name,
          description,
          properties: inputSchema.properties,
          required: inputSchema.required,
        })),
        resources: resources.resources,
        prompts: prompts.prompts,
      };
    };
    const v1 = await serveBareV1();
    const v2 = await serveBareV2();
    try {
      expect(await offered(v2)).toEqual(await offered(v1));
      const client = await connect(v2);
      clients.push(client);
      expect((await client.callTool({ name: 'test_simple_text' })).content).toEqual([
        { type: 'text', text: 'This is a simple text response for testing.' },
      ]);
    } finally {
      await v1.close();
      await v2.close();
    }
  });
});

describe('the conformance server on SDK v2 through the full stack', () => {
  it('lists what v2 bare lists, answers tools, and refuses a client without a key with 401', async () => {
    const bare = await serveBareV2();
    const stack = await serveStackV2({
      keys: new MemoryKeyStore([granted.record]),
      signals: false,
      logLevel: 'silent',
    });
    const clients: Client[] = [];
    try {
      const plain = await connect(bare);
      const keyed = await connect(stack, granted.key);
      clients.push(plain, keyed);
      expect((await keyed.listTools()).tools).toEqual((await plain.listTools()).tools);
      expect((await keyed.callTool({ name: 'test_error_handling' })).isError).toBe(true);
      const refused = await fetch(stack.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(refused.status).toBe(401);
    } finally {
      for (const client of clients) await client.close();
      await bare.close();
      await stack.close();
    }
  });
});
