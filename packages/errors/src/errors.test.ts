import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { callOf, wrapServer } from '@mcp-middleware/core';
import {
  connectClient,
  startTestServer,
  type TestServer,
  typeScriptNodeArgs,
  waitFor,
} from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type CallToolResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_ID_META_KEY, errors, type MaskedErrorReport } from './errors.js';
import { FIXTURE_OPTIONS, fixtureServer, SECRET } from './test-fixtures.js';
import { invalidParams, ToolError } from './tool-error.js';

const here = dirname(fileURLToPath(import.meta.url));

/** What a test sees of a running fixture, whatever carries it. */
interface Harness {
  readonly client: Client;
  /** Masked errors as the server reported them: id, source, tool and the original message. */
  reports(): Array<{ errorId: string; source: string; tool: string | undefined; message: string }>;
  /** Tools whose signal aborted, as seen from inside the tool. */
  aborted(): string[];
  /** Reports come from the default printer, which scrubs credentials (a custom `onError` gets the raw error). */
  readonly scrubbed: boolean;
  close(): Promise<void>;
}

async function overHttp(): Promise<Harness> {
  const reports: MaskedErrorReport[] = [];
  const errorsSeen: unknown[] = [];
  const aborted: string[] = [];
  const errs = errors({
    ...FIXTURE_OPTIONS,
    onError: (error, report) => {
      errorsSeen.push(error);
      reports.push(report);
    },
  });
  const server: TestServer = await startTestServer({
    middleware: [errs],
    server: ({ jsonSchemaValidator }) => fixtureServer(errs, (t) => aborted.push(t), jsonSchemaValidator),
  });
  const client = await connectClient(server.url);
  return {
    client,
    reports: () =>
      reports.map((r, i) => ({
        errorId: r.errorId,
        source: r.source,
        tool: r.toolName,
        message: (errorsSeen[i] as Error).message,
      })),
    aborted: () => aborted,
    scrubbed: false,
    close: async () => {
      await client.close();
      await server.handler.close({ drainTimeout: 0 });
      await server.close();
    },
  };
}

async function overStdio(): Promise<Harness> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: typeScriptNodeArgs(resolve(here, 'test-stdio-server.ts')),
    cwd: resolve(here, '..'),
    stderr: 'pipe',
  });
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  createInterface({ input: transport.stderr as PassThrough }).on('line', (line) => {
    raw.push(line);
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not ours (a Node warning): kept in `raw` for failure messages.
    }
  });
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`the stdio fixture did not start: ${error}\n${raw.join('\n')}`);
  }
  return {
    client,
    reports: () =>
      lines
        .filter((l) => l['msg'] === 'masked error')
        .map((l) => ({
          errorId: l['errorId'] as string,
          source: l['source'] as string,
          tool: l['tool'] as string | undefined,
          message: (l['error'] as { message: string }).message,
        })),
    aborted: () => lines.filter((l) => l['probe'] === 'aborted').map((l) => l['tool'] as string),
    scrubbed: true,
    close: () => client.close(),
  };
}

function textOf(result: unknown): string {
  const content = (result as CallToolResult).content;
  expect(content).toHaveLength(1);
  const item = content[0]!;
  if (item.type !== 'text') throw new Error(`expected text content, got ${item.type}`);
  return item.text;
}

async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome))
    throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(McpError);
  return outcome.error as McpError;
}

const ERROR_ID = /\(error id: ([0-9a-f-]{36})\)$/;

describe.each([
  ['Streamable HTTP', overHttp],
  ['stdio', overStdio],
] as const)('over %s', (_transport, start) => {
  let h: Harness;
  beforeAll(async () => {
    h = await start();
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('when a tool throws a ToolError', () => {
    it('answers an isError result with the message verbatim', async () => {
      const result = await h.client.callTool({ name: 'weather', arguments: { city: 'Atlantis' } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe('No weather for Atlantis: it is under water. Try a real city.');
    });

    it('leaves successful calls alone', async () => {
      const result = await h.client.callTool({ name: 'weather', arguments: { city: 'Lisbon' } });
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe('Sunny in Lisbon');
    });
  });

  describe('when a tool throws a ProtocolError', () => {
    it('answers a JSON-RPC -32602 error with its message and data', async () => {
      const err = await rpcError(h.client.callTool({ name: 'book', arguments: { date: '1999-01-01' } }));
      expect(err.code).toBe(-32602);
      expect(err.message).toBe('MCP error -32602: date 1999-01-01 is in the past');
      expect(err.data).toEqual({ field: 'date' });
    });
  });

  describe('when a tool throws the SDK McpError(InvalidParams)', () => {
    it('answers a JSON-RPC -32602 error, without the SDK prefix twice', async () => {
      const err = await rpcError(h.client.callTool({ name: 'sdk_invalid', arguments: {} }));
      expect(err.code).toBe(-32602);
      expect(err.message).toBe('MCP error -32602: limit must be at most 100');
    });
  });

  describe('when the tool does not exist', () => {
    it('answers a JSON-RPC -32602 error naming the tool', async () => {
      const err = await rpcError(h.client.callTool({ name: 'no_such_tool', arguments: {} }));
      expect(err.code).toBe(-32602);
      expect(err.message).toBe('MCP error -32602: Tool no_such_tool not found');
    });
  });

  describe('when the arguments do not match the input schema', () => {
    it('answers a JSON-RPC -32602 error that says what is wrong', async () => {
      const err = await rpcError(h.client.callTool({ name: 'weather', arguments: { city: 42 } }));
      expect(err.code).toBe(-32602);
      expect(err.message).toContain('Input validation error');
      expect(err.message).toContain('city');
    });
  });

  describe('when a tool throws anything else', () => {
    it('shows a generic message whose error id matches the reported error, and no secret or stack', async () => {
      const result = await h.client.callTool({ name: 'crash', arguments: {} });
      expect(result.isError).toBe(true);
      const text = textOf(result);
      const id = ERROR_ID.exec(text)?.[1];
      expect(text).toMatch(/^Internal error \(error id: /);
      expect(result._meta?.[ERROR_ID_META_KEY]).toBe(id);
      const wire = JSON.stringify(result);
      expect(wire).not.toContain('hunter2');
      expect(wire).not.toContain('TypeError');
      expect(wire).not.toMatch(/\bat .*\.ts:\d+/);
      await waitFor(() => h.reports().some((r) => r.errorId === id), 'the masked error to be reported');
      const report = h.reports().find((r) => r.errorId === id)!;
      expect(report).toMatchObject({ source: 'tool', tool: 'crash' });
      expect(report.message).toBe(
        h.scrubbed ? 'cannot connect to db (password=[Redacted]' : `cannot connect to db (${SECRET})`,
      );
    });

    it('gives each failure its own id', async () => {
      const a = textOf(await h.client.callTool({ name: 'crash', arguments: {} }));
      const b = textOf(await h.client.callTool({ name: 'crash', arguments: {} }));
      expect(ERROR_ID.exec(a)?.[1]).not.toBe(ERROR_ID.exec(b)?.[1]);
    });
  });

  describe('when a tool that was not wrapped with tool() throws', () => {
    it('masks the raw exception text the SDK put in the result', async () => {
      const result = await h.client.callTool({ name: 'unwrapped_crash', arguments: {} });
      expect(result.isError).toBe(true);
      const text = textOf(result);
      expect(text).not.toContain('hunter2');
      const id = ERROR_ID.exec(text)?.[1];
      await waitFor(() => h.reports().some((r) => r.errorId === id), 'the masked error to be reported');
      expect(h.reports().find((r) => r.errorId === id)).toMatchObject({
        source: 'server',
        tool: 'unwrapped_crash',
      });
    });
  });

  describe('when a wrapped tool returns an isError result itself', () => {
    it('passes it through', async () => {
      const result = await h.client.callTool({ name: 'declines', arguments: {} });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe('Not today.');
    });
  });

  describe('when a resource handler throws', () => {
    it('answers -32603 with a generic message and an error id, never the exception text', async () => {
      const err = await rpcError(h.client.readResource({ uri: 'config://app' }));
      expect(err.code).toBe(-32603);
      expect(err.message).not.toContain('hunter2');
      const id = (err.data as { errorId: string }).errorId;
      expect(err.message).toBe(`MCP error -32603: Internal error (error id: ${id})`);
      await waitFor(() => h.reports().some((r) => r.errorId === id), 'the masked error to be reported');
    });
  });

  describe('when a tool runs past its timeout', () => {
    it('aborts the tool’s signal and answers -32001 within the timeout plus a margin', async () => {
      const started = performance.now();
      const err = await rpcError(h.client.callTool({ name: 'slow', arguments: { ms: 10_000 } }));
      const elapsed = performance.now() - started;
      expect(err.code).toBe(-32001);
      expect(err.message).toBe("MCP error -32001: Tool 'slow' timed out after 300 ms");
      expect(err.data).toEqual({ reason: 'timeout', timeoutMs: 300 });
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(300 + 1500);
      await waitFor(() => h.aborted().includes('slow'), 'the tool to see its signal abort');
      // The handler's rejection after the abort is no bug: nothing is reported for it.
      expect(h.reports().some((r) => r.message.includes('aborted'))).toBe(false);
    });

    it('answers promptly even when the tool ignores its signal, and the connection stays usable', async () => {
      const started = performance.now();
      const err = await rpcError(h.client.callTool({ name: 'stubborn', arguments: { ms: 3000 } }));
      expect(err.code).toBe(-32001);
      expect(performance.now() - started).toBeLessThan(300 + 1500);
      await waitFor(() => h.aborted().includes('stubborn'), 'the tool’s signal to abort');
      const next = await h.client.callTool({ name: 'weather', arguments: { city: 'Oslo' } });
      expect(textOf(next)).toBe('Sunny in Oslo');
    });

    it('times out overlapping calls each at its own deadline, and answers those that finish in time', async () => {
      const startedFirst = performance.now();
      const first = rpcError(h.client.callTool({ name: 'slow', arguments: { ms: 10_000 } }));
      // A call that ends in time, between the two that will not: it must not disturb either deadline.
      const between = await h.client.callTool({ name: 'slow', arguments: { ms: 150 } });
      expect(textOf(between)).toBe('waited 150');
      const startedSecond = performance.now();
      const second = rpcError(h.client.callTool({ name: 'slow', arguments: { ms: 10_000 } }));
      const firstError = await first;
      const firstElapsed = performance.now() - startedFirst;
      const secondError = await second;
      const secondElapsed = performance.now() - startedSecond;
      expect([firstError.code, secondError.code]).toEqual([-32001, -32001]);
      // The second call started ≥ 150 ms later and gets its full 300 ms, not the first call's deadline.
      expect(firstElapsed).toBeGreaterThanOrEqual(290);
      expect(secondElapsed).toBeGreaterThanOrEqual(290);
      expect(secondElapsed).toBeLessThan(300 + 1500);
    });

    it('lets calls that finish in time through', async () => {
      const result = await h.client.callTool({ name: 'slow', arguments: { ms: 10 } });
      expect(textOf(result)).toBe('waited 10');
    });
  });

  describe('when a tool’s fetch hits a closed port', () => {
    it('answers the ToolError the fetch helper made', async () => {
      const port = await closedPort();
      const result = await h.client.callTool({
        name: 'status',
        arguments: { url: `http://127.0.0.1:${port}/health?key=${SECRET}`, timeoutMs: 2000 },
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(`could not reach 127.0.0.1:${port}: connection refused`);
    });
  });
});

async function closedPort(): Promise<number> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('a wrapped tool served without the middleware', () => {
  it('still masks unexpected errors and keeps ToolError text', async () => {
    const reports: MaskedErrorReport[] = [];
    const errs = errors({ onError: (_e, r) => reports.push(r) });
    const server = fixtureServer(errs, () => {});
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'bare', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      const crash = textOf(await client.callTool({ name: 'crash', arguments: {} }));
      expect(crash).not.toContain('hunter2');
      expect(reports.map((r) => r.errorId)).toEqual([ERROR_ID.exec(crash)?.[1]]);
      expect(reports[0]).toMatchObject({ source: 'tool', call: undefined });
      const tool = textOf(await client.callTool({ name: 'weather', arguments: { city: 'Atlantis' } }));
      expect(tool).toContain('under water');
    } finally {
      await client.close();
    }
  });
});

describe('a whole server wrapped with errs.server()', () => {
  it('treats every tool registered on it as if wrapped with tool(), and never wraps twice', async () => {
    const reports: MaskedErrorReport[] = [];
    const errs = errors({ onError: (_e, r) => reports.push(r) });
    const server = await startTestServer({
      middleware: [errs],
      server: ({ jsonSchemaValidator }) => {
        const mcp = errs.server(new McpServer({ name: 'whole', version: '1.0.0' }, { jsonSchemaValidator }));
        mcp.registerTool('crash', {}, async () => {
          throw new Error(`db said ${SECRET}`);
        });
        mcp.registerTool('refuse', {}, async () => {
          throw new ToolError('Not today.');
        });
        // Wrapped twice: the inner verdict (a protocol error) must survive.
        mcp.registerTool(
          'strict',
          {},
          errs.tool(async () => {
            throw invalidParams('strict says no');
          }),
        );
        mcp.tool('legacy', async () => {
          throw new Error(SECRET);
        });
        return mcp;
      },
    });
    const client = await connectClient(server.url);
    try {
      const crash = textOf(await client.callTool({ name: 'crash', arguments: {} }));
      expect(crash).not.toContain('hunter2');
      expect(reports.map((r) => r.errorId)).toEqual([ERROR_ID.exec(crash)?.[1]]);
      expect(reports[0]).toMatchObject({ source: 'tool', toolName: 'crash' });
      expect(textOf(await client.callTool({ name: 'refuse', arguments: {} }))).toBe('Not today.');
      const strict = await rpcError(client.callTool({ name: 'strict', arguments: {} }));
      expect(strict.code).toBe(-32602);
      const legacy = textOf(await client.callTool({ name: 'legacy', arguments: {} }));
      expect(legacy).not.toContain('hunter2');
      expect(reports.map((r) => r.source)).toEqual(['tool', 'tool']);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('refuses what is not an McpServer', () => {
    expect(() => errors().server({} as never)).toThrow(new TypeError('errors: server() needs an McpServer'));
  });
});

describe('a wrapped tool behind the middleware', () => {
  it('sees in _meta exactly what the client sent, and its call through callOf(extra)', async () => {
    const seen: Array<{ meta: unknown; tool: string | undefined }> = [];
    const errs = errors();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = fixtureServer(errs, () => {});
    server.registerTool(
      'meta',
      { description: 'Shows its _meta' },
      errs.tool(async (extra) => {
        seen.push({ meta: extra._meta, tool: callOf(extra)?.toolName });
        return { content: [{ type: 'text', text: 'ok' }] };
      }),
    );
    await wrapServer(server, { middleware: [errs] }).connect(serverSide);
    const client = new Client({ name: 'client', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      await client.callTool({ name: 'meta', arguments: {}, _meta: { 'example.com/mine': 'x' } });
      expect(seen).toEqual([{ meta: { 'example.com/mine': 'x' }, tool: 'meta' }]);
    } finally {
      await client.close();
    }
  });
});
