/**
 * Helpers for testing middleware through the real pipeline: a real HTTP server on a free loopback port and the
 * SDK's own client. Used by every package's tests; plugin authors can use them too.
 */
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { headerOf } from '../call.js';
import { createMiddlewareHandler, type McpHandler, type McpHandlerOptions } from '../handler.js';
import { type NodeServer, serve } from '../node.js';
import type { Middleware, RpcCall } from '../types.js';

export { type ContractTestApi, rateLimitStoreContract } from './rate-limit-store-contract.js';

export interface TestServer {
  readonly handler: McpHandler;
  readonly node: NodeServer;
  /** The MCP endpoint URL. */
  readonly url: URL;
  /** The server's base URL. */
  readonly baseUrl: URL;
  close(): Promise<void>;
}

/** Starts `createMiddlewareHandler(options)` on 127.0.0.1 with a free port. */
export async function startTestServer(options: McpHandlerOptions): Promise<TestServer> {
  const handler = createMiddlewareHandler(options);
  const node = await serve(handler, { port: 0, hostname: '127.0.0.1' });
  return {
    handler,
    node,
    url: new URL(options.path ?? '/mcp', node.url),
    baseUrl: node.url,
    close: () => node.close(),
  };
}

export interface ConnectOptions {
  /** Extra HTTP headers on every request (an API key, say). */
  headers?: Record<string, string>;
  capabilities?: ClientCapabilities;
  name?: string;
}

/** Connects the SDK `Client` over Streamable HTTP. */
export async function connectClient(url: URL, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client(
    { name: options.name ?? 'test-client', version: '1.0.0' },
    { capabilities: options.capabilities ?? {} },
  );
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: options.headers ?? {} },
  });
  await client.connect(transport);
  return client;
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A JSON-RPC POST as a raw client would send it; returns the raw Response. */
export function postJsonRpc(
  url: URL,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Takes the caller's identity from an `x-who` header (client id = the header), so a test can play several principals. */
export const identifyByHeader: Middleware = {
  name: 'identify',
  async http(req, ctx, next) {
    const who = req.headers.get('x-who');
    if (who) ctx.authInfo = { token: who, clientId: who, scopes: [] };
    return next();
  },
};

/**
 * Starts a JSON POST to `url` that declares a large body and sends only its first bytes, as a client that goes
 * away mid-upload does: destroy the returned socket to abort.
 */
export async function openPartialUpload(url: URL): Promise<Socket> {
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\ncontent-type: application/json\r\n` +
      'accept: application/json, text/event-stream\r\ncontent-length: 100000\r\n\r\n{"jsonrpc":"2.0",',
  );
  return socket;
}

/**
 * Opens a session by hand, asking for `protocolVersion`, and sends `notifications/initialized`. Returns the headers
 * every later request in the session needs (session id, protocol version, and `headers`).
 */
export async function openRawSession(
  url: URL,
  protocolVersion: string,
  headers: Record<string, string> = {},
): Promise<Record<string, string>> {
  const init = initializeRequest() as { params: { protocolVersion: string } };
  init.params.protocolVersion = protocolVersion;
  const res = await postJsonRpc(url, init, headers);
  await res.text();
  const sessionId = res.headers.get('mcp-session-id');
  if (res.status !== 200 || !sessionId)
    throw new Error(`initialize answered ${res.status} with no session id`);
  const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion, ...headers };
  await (await postJsonRpc(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
  return session;
}

/** An `initialize` request body. */
export function initializeRequest(id: number | string = 1): unknown {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1.0.0' },
    },
  };
}

/**
 * An `RpcCall` as core hands it to RPC middleware, for unit tests and benchmarks of an RPC layer: a `tools/call` of
 * `echo` unless `fields` say otherwise, with a working `state`/`get`/`set`; `cancel()` and `notify()` do nothing.
 * `cancelled` follows the given `signal` unless it is given too.
 */
export function testRpcCall(fields: Partial<RpcCall> = {}): RpcCall {
  const state = fields.state ?? new Map<string | symbol, unknown>();
  const signal = fields.signal ?? new AbortController().signal;
  return {
    id: 1,
    method: 'tools/call',
    params: { name: 'echo', arguments: {} },
    toolName: 'echo',
    authInfo: undefined,
    sessionId: undefined,
    requestInfo: undefined,
    http: undefined,
    protocolVersion: undefined,
    startedAt: performance.now(),
    header: (name) => headerOf(fields.requestInfo, name),
    cancel: () => {},
    notify: async () => {},
    get: (key) => state.get(key) as never,
    set: (key, value) => void state.set(key, value),
    ...fields,
    signal,
    cancelled: fields.cancelled ?? signal.aborted,
    state,
  };
}

/**
 * The `node` arguments that run a TypeScript file the way this workspace does: workspace packages from source,
 * through tsx's loader (resolved from the workspace root, where tsx is a dev dependency). For child processes in
 * tests: `spawn(process.execPath, typeScriptNodeArgs(file))`.
 */
export function typeScriptNodeArgs(file: string): string[] {
  let loader: string;
  try {
    loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch (error) {
    throw new Error(
      `tests that start TypeScript child processes need tsx installed (npm test installs it): ${error}`,
    );
  }
  return ['--conditions=mcp-middleware-source', '--import', loader, file];
}

export { fixtureServer, newProbe, type ToolProbe } from './fixture-server.js';
export { collectOutput, type ProcessOutput } from './process-output.js';
export { freePort, RedisServerProcess } from './redis-server.js';
