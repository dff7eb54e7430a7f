/**
 * Test helpers for session records: the server every replica runs (tools that say which replica answered and that
 * sample from the client), Redis connections that fail loudly, and a client whose requests go where a test says.
 */
import type { McpHandlerOptions, ServerFactory } from '@mcp-middleware/core';
import { identifyByHeader, initializeRequest } from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateMessageRequestSchema, CreateMessageResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

// Redis connections and key prefixes: the package's one set of test helpers.
export { connectRedis, deleteKeys, FAST_FAIL, REDIS_URL, uniquePrefix } from './test-redis.js';

/**
 * The server every replica serves: `whoami` (the replica's name and the session id), `ask` (samples from the
 * client and says which replica asked) and `log` (sends a log message at `level`).
 */
export function recordsServer(replica: string): ServerFactory {
  return ({ jsonSchemaValidator, sessionId }) => {
    const server = new McpServer(
      { name: 'records', version: '1.0.0' },
      { jsonSchemaValidator, capabilities: { logging: {} } },
    );
    server.registerTool('whoami', { description: 'Says which replica answers' }, async () => ({
      content: [{ type: 'text', text: `${replica} ${sessionId}` }],
    }));
    server.registerTool(
      'ask',
      { description: 'Samples from the client', inputSchema: { question: z.string() } },
      async ({ question }, extra) => {
        // Sent on the call's own stream (the SDK checks the client's sampling capability first): the standalone
        // GET stream may be held by another replica.
        const answer = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: {
              messages: [{ role: 'user', content: { type: 'text', text: question } }],
              maxTokens: 10,
            },
          },
          CreateMessageResultSchema,
          { timeout: 10_000 },
        );
        const text = answer.content.type === 'text' ? answer.content.text : '?';
        return { content: [{ type: 'text', text: `${replica} asked, client said ${text}` }] };
      },
    );
    server.registerTool(
      'log',
      {
        description: 'Sends a log message unless the level the client set filters it',
        inputSchema: { level: z.enum(['debug', 'error']) },
      },
      async ({ level }, extra) => {
        // The SDK's own filter, as Server.sendLoggingMessage applies it (sent here on the call's stream).
        const low = server.server as unknown as {
          isMessageIgnored(level: string, sessionId?: string): boolean;
        };
        if (low.isMessageIgnored(level, sessionId)) return { content: [{ type: 'text', text: 'filtered' }] };
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level, data: `${level} line` },
        });
        return { content: [{ type: 'text', text: 'sent' }] };
      },
    );
    return server;
  };
}

/** Handler options every test replica shares: the identity middleware and a short touch interval. */
export function recordsOptions(replica: string): McpHandlerOptions {
  return { server: recordsServer(replica), middleware: [identifyByHeader] };
}

export interface RoutedClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** Where each request went: the index of the target, with its method and the JSON-RPC body (if any). */
  readonly log: Array<{ target: number; method: string; body: string | undefined }>;
}

/**
 * An SDK client over real HTTP whose every request goes to `targets[pick(...)]` (same path): a load balancer
 * without affinity, steered by the test. Answers to sampling with `"<question> ok"`.
 */
export async function routedClient(
  targets: readonly URL[],
  pick: (n: number, body: string | undefined) => number,
  headers: Record<string, string> = {},
): Promise<RoutedClient> {
  const log: RoutedClient['log'] = [];
  let n = 0;
  const routedFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const target = pick(n++, body);
    log.push({ target, method: init?.method ?? 'GET', body });
    return fetch(new URL(url.pathname + url.search, targets[target]), init);
  };
  const client = new Client({ name: 'records-test', version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    const first = request.params.messages[0]?.content;
    const question = first && 'text' in first ? first.text : '';
    return { role: 'assistant', model: 'test', content: { type: 'text', text: `${question} ok` } };
  });
  const transport = new StreamableHTTPClientTransport(new URL(targets[0]!), {
    fetch: routedFetch,
    requestInit: { headers },
  });
  await client.connect(transport);
  return { client, transport, log };
}

/** An `initialize` request body from a client that can sample. */
export function initializeBody(): unknown {
  const body = initializeRequest(1) as { params: { capabilities: Record<string, unknown> } };
  body.params.capabilities = { sampling: {} };
  return body;
}

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  return content?.[0]?.text ?? '';
}
