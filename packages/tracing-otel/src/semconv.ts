import { ERROR_CODES, MiddlewareError, type RpcCall, type RpcResult } from '@mcp-middleware/core';
import type { Attributes } from '@opentelemetry/api';

/**
 * Attribute and metric names from the OpenTelemetry semantic conventions for MCP (semantic-conventions-genai
 * v0.1.0, `docs/gen-ai/mcp.md`, status Development), and this project's own under `mcp_middleware.*`.
 */
export const ATTR = {
  METHOD: 'mcp.method.name',
  TOOL: 'gen_ai.tool.name',
  PROMPT: 'gen_ai.prompt.name',
  RESOURCE_URI: 'mcp.resource.uri',
  OPERATION: 'gen_ai.operation.name',
  REQUEST_ID: 'jsonrpc.request.id',
  PROTOCOL_VERSION: 'mcp.protocol.version',
  SESSION_ID: 'mcp.session.id',
  NETWORK_TRANSPORT: 'network.transport',
  NETWORK_PROTOCOL: 'network.protocol.name',
  CLIENT_ADDRESS: 'client.address',
  ERROR_TYPE: 'error.type',
  RPC_STATUS: 'rpc.response.status_code',
  TOOL_ARGUMENTS: 'gen_ai.tool.call.arguments',
  TOOL_RESULT: 'gen_ai.tool.call.result',
  HTTP_METHOD: 'http.request.method',
  HTTP_ROUTE: 'http.route',
  HTTP_STATUS: 'http.response.status_code',
  URL_PATH: 'url.path',
  URL_SCHEME: 'url.scheme',
  RATELIMIT_DECISION: 'mcp_middleware.ratelimit.decision',
  RATELIMIT_POLICY: 'mcp_middleware.ratelimit.policy',
  RATELIMIT_LAYER: 'mcp_middleware.ratelimit.layer',
  AUTH_OUTCOME: 'mcp_middleware.auth.outcome',
  AUTH_REASON: 'mcp_middleware.auth.reason',
  AUTH_LAYER: 'mcp_middleware.auth.layer',
  HEALTH_STATUS: 'mcp_middleware.health.status',
  STORE_POLICY: 'mcp_middleware.store.policy',
  STORE_OUTCOME: 'mcp_middleware.store.outcome',
} as const;

export const METRIC = {
  OPERATION_DURATION: 'mcp.server.operation.duration',
  SESSION_DURATION: 'mcp.server.session.duration',
  RATELIMIT_DECISIONS: 'mcp_middleware.ratelimit.decisions',
  AUTH_REFUSALS: 'mcp_middleware.auth.refusals',
  STORE_FAILURES: 'mcp_middleware.store.failures',
} as const;

/** The conventions' advised histogram buckets for MCP durations, in seconds. */
export const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** The 2026-07-28 protocol carries the version in each request's `_meta` instead of a header. */
const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

type Params = Record<string, unknown> | undefined;

function stringParam(params: Params, name: string): string | undefined {
  const value = params?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The low-cardinality target of a request: the tool or prompt name. Resource URIs only when asked. */
export function targetOf(
  call: Pick<RpcCall, 'method' | 'params'>,
  resourceUriInName: boolean,
): string | undefined {
  const params = call.params as Params;
  switch (call.method) {
    case 'tools/call':
    case 'prompts/get':
      return stringParam(params, 'name');
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return resourceUriInName ? stringParam(params, 'uri') : undefined;
    default:
      return undefined;
  }
}

/** `{mcp.method.name} {target}`, or the method alone when there is no target. */
export function spanNameOf(method: string, target: string | undefined): string {
  return target === undefined ? method : `${method} ${target}`;
}

/** The protocol version a call runs under: the 2026 `_meta` key, else the `mcp-protocol-version` header. */
export function protocolVersionOf(call: Pick<RpcCall, 'params' | 'requestInfo'>): string | undefined {
  const meta = (call.params as Params)?.['_meta'] as Params;
  const fromMeta = stringParam(meta, PROTOCOL_VERSION_META);
  if (fromMeta !== undefined) return fromMeta;
  const header = call.requestInfo?.headers['mcp-protocol-version'];
  return typeof header === 'string' ? header : undefined;
}

/**
 * The attributes a server span starts with (samplers see them). `transport` follows the conventions: `tcp` for
 * HTTP, `pipe` for stdio.
 */
export function callAttributes(call: RpcCall): Attributes {
  const params = call.params as Params;
  const attributes: Attributes = {
    [ATTR.METHOD]: call.method,
    [ATTR.REQUEST_ID]: String(call.id),
    [ATTR.NETWORK_TRANSPORT]: call.requestInfo || call.http ? 'tcp' : 'pipe',
  };
  if (call.requestInfo || call.http) attributes[ATTR.NETWORK_PROTOCOL] = 'http';
  if (call.method === 'tools/call') {
    const tool = stringParam(params, 'name');
    if (tool !== undefined) attributes[ATTR.TOOL] = tool;
    attributes[ATTR.OPERATION] = 'execute_tool';
  } else if (call.method === 'prompts/get') {
    const prompt = stringParam(params, 'name');
    if (prompt !== undefined) attributes[ATTR.PROMPT] = prompt;
  } else if (
    call.method === 'resources/read' ||
    call.method === 'resources/subscribe' ||
    call.method === 'resources/unsubscribe'
  ) {
    const uri = stringParam(params, 'uri');
    if (uri !== undefined) attributes[ATTR.RESOURCE_URI] = uri;
  }
  const version = protocolVersionOf(call);
  if (version !== undefined) attributes[ATTR.PROTOCOL_VERSION] = version;
  if (call.sessionId) attributes[ATTR.SESSION_ID] = call.sessionId;
  const address = call.http?.clientAddress;
  if (address) attributes[ATTR.CLIENT_ADDRESS] = address;
  return attributes;
}

/**
 * How a call ended, in the conventions' terms. `errorType` is set if and only if the call failed: the JSON-RPC
 * error code as a string, `tool_error` for an `isError` result, `cancelled` when the client (or a middleware)
 * cancelled it and no deadline answered first.
 */
export interface CallEnd {
  readonly errorType?: string;
  /** The JSON-RPC error code as a string, when the answer was an error. */
  readonly statusCode?: string;
  /** The JSON-RPC error message, for the span status. */
  readonly message?: string;
}

const CANCELLED_MESSAGE = 'Request cancelled';
const REQUEST_TIMEOUT: number = ERROR_CODES.timeout.rpc;

export function endOfAnswer(answer: RpcResult, aborted: boolean): CallEnd {
  if (answer.error === undefined) {
    return (answer.result as { isError?: unknown }).isError === true ? { errorType: 'tool_error' } : {};
  }
  const { code, message } = answer.error;
  const statusCode = String(code);
  if (aborted && code === REQUEST_TIMEOUT && message === CANCELLED_MESSAGE) {
    return { errorType: 'cancelled', statusCode, message };
  }
  return { errorType: statusCode, statusCode, message };
}

/** A middleware threw: its own code when it is a `MiddlewareError`, else what the client gets, -32603. */
export function endOfThrown(error: unknown): CallEnd {
  const code = MiddlewareError.is(error) ? error.rpcCode : ERROR_CODES.internal.rpc;
  const message = MiddlewareError.is(error) ? error.message : 'Internal error';
  return { errorType: String(code), statusCode: String(code), message };
}
