import { apiKeyAuth, generateApiKey, MemoryKeyStore, parseApiKey } from '@mcp-middleware/auth-apikey';
import { type Middleware, type RpcCall, TRACE_IDS, type TraceIds } from '@mcp-middleware/core';
import {
  connectClient,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import { errors } from '@mcp-middleware/errors';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { rateLimit } from '@mcp-middleware/ratelimit-redis';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { HistogramMetricData, SumMetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  newTraceparent,
  registerContextManager,
  type Seen,
  telemetry,
  tracedServer,
  w3c,
} from './test-fixtures.js';
import { type TracingOptions, tracing } from './tracing.js';

const otel = telemetry();

beforeAll(() => {
  registerContextManager();
  // The user's own code (the `spy` tool) gets its tracer from the global provider, as it would in an app.
  trace.setGlobalTracerProvider(otel.tracerProvider);
});
afterAll(async () => {
  trace.disable();
  await otel.shutdown();
});
beforeEach(() => otel.exporter.reset());

/** What a middleware placed after tracing saw in `call.state`. */
function stateProbe(seen: Array<TraceIds | undefined>): Middleware {
  return {
    name: 'state-probe',
    async rpc(call: RpcCall, next) {
      if (call.method === 'tools/call') seen.push(call.state.get(TRACE_IDS) as TraceIds | undefined);
      return next();
    },
  };
}

interface Fixture {
  server: TestServer;
  client: Client;
  seen: Seen;
  ids: Array<TraceIds | undefined>;
  close(): Promise<void>;
}

const open: Fixture[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});

async function start(
  options: TracingOptions = {},
  extra: { before?: Middleware[]; after?: Middleware[]; headers?: Record<string, string> } = {},
): Promise<Fixture> {
  const seen: Seen = { started: [] };
  const ids: Array<TraceIds | undefined> = [];
  const server = await startTestServer({
    server: tracedServer(seen),
    middleware: [
      ...(extra.before ?? []),
      tracing({ propagator: w3c, meterProvider: otel.meterProvider, ...options }),
      stateProbe(ids),
      ...(extra.after ?? []),
    ],
  });
  const client = await connectClient(server.url, { headers: extra.headers ?? {} });
  const fixture: Fixture = {
    server,
    client,
    seen,
    ids,
    async close() {
      await client.close().catch(() => {});
      await server.handler.close({ drainTimeout: '2s' });
      await server.close();
    },
  };
  open.push(fixture);
  return fixture;
}

const sessionOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId;

async function spanNamed(name: string): Promise<ReadableSpan> {
  await waitFor(() => otel.span(name) !== undefined, `a span named '${name}'`);
  return otel.span(name)!;
}

describe('a tools/call over Streamable HTTP', () => {
  it('makes one SERVER span named "tools/call echo" with the MCP conventions’ attributes', async () => {
    const f = await start();
    await f.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const span = await spanNamed('tools/call echo');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.instrumentationScope.name).toBe('@mcp-middleware/tracing-otel');
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.session.id': sessionOf(f.client),
      'mcp.protocol.version': LATEST_PROTOCOL_VERSION,
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'client.address': '127.0.0.1',
    });
    expect(typeof span.attributes['jsonrpc.request.id']).toBe('string');
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.attributes['rpc.response.status_code']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    // Arguments and results stay off spans unless asked for.
    expect(span.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    expect(span.attributes['gen_ai.tool.call.result']).toBeUndefined();
  });

  it('is the child of the HTTP server span of the POST that carried it', async () => {
    const f = await start();
    await f.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const rpc = await spanNamed('tools/call echo');
    const posts = otel.spans().filter((s) => s.name === 'POST /mcp');
    const carrier = posts.find((s) => s.spanContext().spanId === rpc.parentSpanContext?.spanId);
    expect(carrier).toBeDefined();
    expect(carrier!.kind).toBe(SpanKind.SERVER);
    expect(carrier!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/mcp',
      'http.response.status_code': 200,
    });
    expect(rpc.spanContext().traceId).toBe(carrier!.spanContext().traceId);
    expect(rpc.links).toEqual([]);
    // The HTTP span lasts until the call it carried ended, not until the SSE response's headers went out. (Span
    // durations, not end times: each span anchors its clock to Date.now(), which is only millisecond-precise.)
    expect(hrMs(carrier!.duration)).toBeGreaterThanOrEqual(hrMs(rpc.duration));
  });

  it('names the initialize span "initialize" and records the negotiated protocol version', async () => {
    const f = await start();
    const span = await spanNamed('initialize');
    expect(span.attributes['mcp.method.name']).toBe('initialize');
    expect(span.attributes['mcp.protocol.version']).toBe(LATEST_PROTOCOL_VERSION);
    // The session is created for the initialize request, which is part of it.
    expect(span.attributes['mcp.session.id']).toBe(sessionOf(f.client));
  });

  it('names prompts by prompt and keeps resource URIs out of span names unless asked', async () => {
    const f = await start();
    await f.client.getPrompt({ name: 'summarize' });
    await f.client.readResource({ uri: 'note://42' });
    const prompt = await spanNamed('prompts/get summarize');
    expect(prompt.attributes['gen_ai.prompt.name']).toBe('summarize');
    expect(prompt.attributes['gen_ai.operation.name']).toBeUndefined();
    const read = await spanNamed('resources/read');
    expect(read.attributes['mcp.resource.uri']).toBe('note://42');

    const g = await start({ resourceUriInSpanName: true });
    await g.client.readResource({ uri: 'note://7' });
    await spanNamed('resources/read note://7');
  });

  it('puts the span’s ids in call.state for loggers, under core’s TRACE_IDS key', async () => {
    const f = await start();
    await f.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const span = await spanNamed('tools/call echo');
    expect(f.ids.map(pickIds)).toEqual([
      { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId },
    ]);
  });

  it('gives logging-json lines the trace_id and span_id of the spans they belong to', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = jsonLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    // The logger first, as its README says: it reads the ids once tracing has set them.
    const f = await start({}, { before: [log] });
    await f.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const rpc = await spanNamed('tools/call echo');
    await waitFor(() => lines.some((l) => l['kind'] === 'rpc' && l['tool'] === 'echo'), 'the call line');
    const line = lines.find((l) => l['kind'] === 'rpc' && l['tool'] === 'echo');
    expect(line).toMatchObject({ trace_id: rpc.spanContext().traceId, span_id: rpc.spanContext().spanId });
    await waitFor(() => lines.some((l) => l['kind'] === 'http'), 'an HTTP line');
    const http = lines.find((l) => l['kind'] === 'http' && l['span_id'] === rpc.parentSpanContext?.spanId);
    expect(http?.['trace_id']).toBe(rpc.spanContext().traceId);
  });

  it('records arguments and results only when opted in, with credentials and chosen paths redacted', async () => {
    const f = await start({ recordArguments: true, recordResults: true, redact: ['text'] });
    await f.client.callTool({ name: 'echo', arguments: { text: 'private', apiKey: 'sk-live-123' } });
    const span = await spanNamed('tools/call echo');
    const args = JSON.parse(String(span.attributes['gen_ai.tool.call.arguments']));
    expect(args).toEqual({ text: '[Redacted]', apiKey: '[Redacted]' });
    const result = String(span.attributes['gen_ai.tool.call.result']);
    expect(result).toContain('content');
    expect(JSON.stringify(otel.spans().map((s) => s.attributes))).not.toContain('sk-live-123');
  });
});

describe('trace context', () => {
  it('takes the parent from params._meta and links the HTTP request’s context', async () => {
    const httpParent = newTraceparent();
    const f = await start({}, { headers: { traceparent: httpParent.header } });
    const client = newTraceparent();
    await f.client.callTool({
      name: 'spy',
      arguments: {},
      _meta: { traceparent: client.header, baggage: 'tenant=acme' },
    });
    const rpc = await spanNamed('tools/call spy');
    expect(rpc.spanContext().traceId).toBe(client.traceId);
    expect(rpc.parentSpanContext?.spanId).toBe(client.spanId);
    expect(rpc.parentSpanContext?.isRemote).toBe(true);
    // The link is the HTTP span, itself the child of the HTTP request's traceparent.
    const http = otel.spans().find((s) => s.spanContext().spanId === rpc.links[0]?.context.spanId);
    expect(rpc.links).toHaveLength(1);
    expect(http?.name).toBe('POST /mcp');
    expect(http?.spanContext().traceId).toBe(httpParent.traceId);
    expect(http?.parentSpanContext?.spanId).toBe(httpParent.spanId);
    // The tool runs inside the span, with the client's baggage; its own spans nest under it.
    expect(f.seen.activeSpanId).toBe(rpc.spanContext().spanId);
    expect(f.seen.baggage).toBe('acme');
    const user = await spanNamed('user work');
    expect(user.parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
  });

  it('without _meta, parents on the HTTP context (whose parent is the traceparent header)', async () => {
    const httpParent = newTraceparent();
    const f = await start({}, { headers: { traceparent: httpParent.header } });
    await f.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    const rpc = await spanNamed('tools/call echo');
    expect(rpc.spanContext().traceId).toBe(httpParent.traceId);
    expect(rpc.links).toEqual([]);
  });

  it('with httpSpans: false, parents directly on the traceparent header and makes no HTTP spans', async () => {
    const httpParent = newTraceparent();
    const f = await start({ httpSpans: false }, { headers: { traceparent: httpParent.header } });
    await f.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    const rpc = await spanNamed('tools/call echo');
    expect(rpc.parentSpanContext?.spanId).toBe(httpParent.spanId);
    expect(otel.spans().some((s) => s.name.startsWith('POST'))).toBe(false);
  });

  it('with httpSpans: "auto", annotates the HTTP span of the user’s own instrumentation instead of making one', async () => {
    const ownTracer = otel.tracerProvider.getTracer('user-http-instrumentation');
    const userHttp: Middleware = {
      name: 'user-http',
      http: (_req, _ctx, next) =>
        ownTracer.startActiveSpan('user HTTP span', async (span) => {
          try {
            return await next();
          } finally {
            span.end();
          }
        }),
    };
    const f = await start({}, { before: [userHttp] });
    await f.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    const rpc = await spanNamed('tools/call echo');
    const theirs = otel.spans().filter((s) => s.name === 'user HTTP span');
    expect(theirs.some((s) => s.spanContext().spanId === rpc.parentSpanContext?.spanId)).toBe(true);
    expect(otel.spans().some((s) => s.name === 'POST /mcp')).toBe(false);
  });
});

describe('errors', () => {
  it('marks an isError result with error.type tool_error and an ERROR status', async () => {
    const f = await start();
    const result = await f.client.callTool({ name: 'fail', arguments: {} });
    expect(result.isError).toBe(true);
    const span = await spanNamed('tools/call fail');
    expect(span.attributes['error.type']).toBe('tool_error');
    expect(span.attributes['rpc.response.status_code']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('marks a JSON-RPC error with its code as error.type and rpc.response.status_code', async () => {
    const f = await start();
    await expect(f.client.getPrompt({ name: 'no_such_prompt' })).rejects.toThrow();
    const span = await spanNamed('prompts/get no_such_prompt');
    expect(span.attributes['error.type']).toBe('-32602');
    expect(span.attributes['rpc.response.status_code']).toBe('-32602');
    expect(span.status).toMatchObject({ code: SpanStatusCode.ERROR });
    expect(span.status.message).toMatch(/no_such_prompt/);
  });

  it('ends a timed-out call’s span with -32001 and the timeout message', async () => {
    const f = await start({}, { after: [errors({ timeout: '300ms' })] });
    await expect(f.client.callTool({ name: 'slow', arguments: { ms: 10_000 } })).rejects.toThrow(/timed out/);
    const span = await spanNamed('tools/call slow');
    expect(span.attributes['error.type']).toBe('-32001');
    expect(span.attributes['rpc.response.status_code']).toBe('-32001');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toMatch(/timed out after/);
    await waitFor(() => otel.openSpans.open.size === 0, 'every span to end');
  });

  it('ends a call the client cancelled with error.type cancelled', async () => {
    const f = await start();
    const abort = new AbortController();
    const pending = f.client.callTool({ name: 'slow', arguments: { ms: 10_000 } }, undefined, {
      signal: abort.signal,
    });
    await waitFor(() => f.seen.started.includes('slow'), 'the tool to start');
    abort.abort('user pressed stop');
    await expect(pending).rejects.toThrow();
    const span = await spanNamed('tools/call slow');
    expect(span.attributes['error.type']).toBe('cancelled');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    await waitFor(() => otel.openSpans.open.size === 0, 'every span to end');
  });
});

describe('when the client disconnects mid-call', () => {
  it('leaves no span open once the handler finishes, and none after the session is deleted', async () => {
    const f = await start();
    const session = sessionOf(f.client)!;
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    // A raw POST whose connection is dropped while the tool runs.
    const dropped = new AbortController();
    const response = await postCall(f.server.url, 'gone-1', 400, headers, dropped.signal);
    expect(response.status).toBe(200);
    await waitFor(() => f.seen.started.length === 1, 'the tool to start');
    dropped.abort();
    await waitFor(
      () => otel.spans().some((s) => s.attributes['jsonrpc.request.id'] === 'gone-1'),
      'the abandoned call’s span to end',
    );
    await waitFor(() => otel.openSpans.open.size === 0, 'every span to end');

    // A call that would run for a minute ends when its session is deleted under it.
    const long = new AbortController();
    await postCall(f.server.url, 'gone-2', 60_000, headers, long.signal);
    await waitFor(() => f.seen.started.length === 2, 'the second call to start');
    long.abort();
    const deleted = await fetch(f.server.url, { method: 'DELETE', headers });
    expect(deleted.status).toBe(200);
    await waitFor(
      () => otel.spans().some((s) => s.attributes['jsonrpc.request.id'] === 'gone-2'),
      'the second call’s span to end',
    );
    const second = otel.spans().find((s) => s.attributes['jsonrpc.request.id'] === 'gone-2')!;
    expect(second.status.code).toBe(SpanStatusCode.ERROR);
    await waitFor(() => otel.openSpans.open.size === 0, 'every span to end');
  });
});

/** A raw `tools/call` of the `slow` tool, so the test can drop the connection under it. */
function postCall(url: URL, id: string, ms: number, headers: Record<string, string>, signal: AbortSignal) {
  return fetch(url, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms } },
    }),
  });
}

/** The two fields of `TraceIds` (the middleware hands over the span's whole context). */
function pickIds(ids: TraceIds | undefined) {
  return ids && { traceId: ids.traceId, spanId: ids.spanId };
}

function hrMs([s, ns]: [number, number]): number {
  return s * 1000 + ns / 1e6;
}

function points(metric: unknown) {
  return (metric as HistogramMetricData | SumMetricData | undefined)?.dataPoints ?? [];
}

describe('metrics', () => {
  it('records mcp.server.operation.duration in seconds with the conventions’ attributes', async () => {
    const own = telemetry();
    const f = await start({ meterProvider: own.meterProvider });
    await f.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await f.client.callTool({ name: 'fail', arguments: {} });
    const metric = await own.metric('mcp.server.operation.duration');
    expect(metric?.descriptor.unit).toBe('s');
    const echo = points(metric).find((p) => p.attributes['gen_ai.tool.name'] === 'echo');
    expect(echo?.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
      'mcp.protocol.version': LATEST_PROTOCOL_VERSION,
    });
    const value = echo?.value as { count: number; sum: number };
    expect(value.count).toBe(1);
    expect(value.sum).toBeGreaterThan(0);
    expect(value.sum).toBeLessThan(10); // seconds, not milliseconds
    const fail = points(metric).find((p) => p.attributes['gen_ai.tool.name'] === 'fail');
    expect(fail?.attributes['error.type']).toBe('tool_error');
    await own.shutdown();
  });

  it('keeps unknown prompt names a client made up off the metric’s labels', async () => {
    const own = telemetry();
    const f = await start({ meterProvider: own.meterProvider });
    await expect(f.client.getPrompt({ name: 'made-up-1' })).rejects.toThrow();
    const metric = await own.metric('mcp.server.operation.duration');
    const failed = points(metric).filter((p) => p.attributes['error.type'] === '-32602');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes['gen_ai.prompt.name']).toBeUndefined();
    await own.shutdown();
  });

  it('records mcp.server.session.duration when the client ends its session', async () => {
    const own = telemetry();
    const f = await start({ meterProvider: own.meterProvider });
    await (f.client.transport as StreamableHTTPClientTransport).terminateSession();
    const metric = await own.metric('mcp.server.session.duration');
    expect(points(metric)).toHaveLength(1);
    expect(points(metric)[0]!.attributes).toMatchObject({
      'network.transport': 'tcp',
      'mcp.protocol.version': LATEST_PROTOCOL_VERSION,
    });
    expect((points(metric)[0]!.value as { count: number }).count).toBe(1);
    await own.shutdown();
  });

  it('counts rate-limit decisions by policy and outcome, and marks the HTTP span', async () => {
    const own = telemetry();
    const limits = rateLimit({ policies: [{ name: 'per-client', limit: 5, window: '1m' }] });
    const f = await start({ meterProvider: own.meterProvider }, { after: [limits] });
    let refused = 0;
    for (let i = 0; i < 10 && refused === 0; i++) {
      await f.client.listTools().catch(() => refused++);
    }
    expect(refused).toBe(1);
    const counted = points(await own.metric('mcp_middleware.ratelimit.decisions'));
    const allowed = counted.find((p) => p.attributes['mcp_middleware.ratelimit.decision'] === 'allowed');
    const limited = counted.find((p) => p.attributes['mcp_middleware.ratelimit.decision'] === 'limited');
    expect(allowed?.attributes).toMatchObject({
      'mcp_middleware.ratelimit.policy': 'per-client',
      'mcp_middleware.ratelimit.layer': 'http',
    });
    expect(allowed?.value).toBeGreaterThanOrEqual(3);
    expect(limited?.attributes['mcp_middleware.ratelimit.policy']).toBe('per-client');
    expect(limited?.value).toBe(1);
    const refusedSpan = otel.spans().find((s) => s.attributes['http.response.status_code'] === 429);
    expect(refusedSpan?.attributes).toMatchObject({
      'mcp_middleware.ratelimit.decision': 'limited',
      'mcp_middleware.ratelimit.policy': 'per-client',
    });
    expect(refusedSpan?.status.code).toBe(SpanStatusCode.UNSET);
    const admitted = otel.spans().filter((s) => s.attributes['http.response.status_code'] === 200);
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted.every((s) => s.attributes['mcp_middleware.ratelimit.decision'] === 'allowed')).toBe(true);
    await own.shutdown();
  });

  it('counts auth refusals by reason and never puts the key on a span', async () => {
    const own = telemetry();
    const { key, record } = generateApiKey({ owner: 'alice', scopes: ['read'] });
    const auth = apiKeyAuth({ store: new MemoryKeyStore([record]) });
    const server = await startTestServer({
      server: tracedServer(),
      middleware: [tracing({ propagator: w3c, meterProvider: own.meterProvider }), auth],
    });
    try {
      const missing = await postJsonRpc(server.url, initializeRequest());
      expect(missing.status).toBe(401);
      const wrong = await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${key.slice(0, -4)}AAAA`,
      });
      expect(wrong.status).toBe(401);
      const client = await connectClient(server.url, { headers: { authorization: `Bearer ${key}` } });
      await client.close();
      const refusals = points(await own.metric('mcp_middleware.auth.refusals'));
      const reasons = Object.fromEntries(
        refusals.map((p) => [String(p.attributes['mcp_middleware.auth.reason']), p.value]),
      );
      expect(reasons).toEqual({ missing: 1, invalid_key: 1 });
      const refusedSpans = otel
        .spans()
        .filter((s) => s.attributes['mcp_middleware.auth.outcome'] === 'refused');
      expect(refusedSpans).toHaveLength(2);
      expect(otel.spans().some((s) => s.attributes['mcp_middleware.auth.outcome'] === 'authenticated')).toBe(
        true,
      );
      const everything = JSON.stringify(otel.spans().map((s) => [s.attributes, s.events, s.status]));
      // The secret is base64url and may itself contain '_': take it from the parser, not from split('_').
      const { secret } = parseApiKey(key)!;
      expect(secret.length).toBeGreaterThan(20);
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(key);
    } finally {
      await server.handler.close();
      await server.close();
      await own.shutdown();
    }
  });

  it('counts store failures handed to recordStoreFailure', async () => {
    const own = telemetry();
    const t = tracing({ meterProvider: own.meterProvider });
    t.recordStoreFailure({ policy: 'per-client', outcome: 'open' });
    const failures = points(await own.metric('mcp_middleware.store.failures'));
    expect(failures[0]?.attributes).toEqual({
      'mcp_middleware.store.policy': 'per-client',
      'mcp_middleware.store.outcome': 'open',
    });
    expect(failures[0]?.value).toBe(1);
    await own.shutdown();
  });
});

describe('modes', () => {
  it('propagate: makes no spans, but the handler runs in the client’s context so user spans nest', async () => {
    const f = await start({ mode: 'propagate' });
    const client = newTraceparent();
    await f.client.callTool({ name: 'spy', arguments: {}, _meta: { traceparent: client.header } });
    const user = await spanNamed('user work');
    expect(user.spanContext().traceId).toBe(client.traceId);
    expect(user.parentSpanContext?.spanId).toBe(client.spanId);
    expect(
      otel.spans().filter((s) => s.instrumentationScope.name === '@mcp-middleware/tracing-otel'),
    ).toEqual([]);
    expect(f.ids.map(pickIds)).toEqual([{ traceId: client.traceId, spanId: client.spanId }]);
  });

  it('off: makes no spans and leaves no trace ids', async () => {
    const f = await start({ mode: 'off' });
    await f.client.callTool({
      name: 'echo',
      arguments: { text: 'x' },
      _meta: { traceparent: newTraceparent().header },
    });
    expect(otel.spans()).toEqual([]);
    expect(f.ids).toEqual([undefined]);
  });
});

describe('options', () => {
  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => tracing({ mode: 'loud' as never })).toThrow(/mode/);
    expect(() => tracing({ httpSpans: 'yes' as never })).toThrow(/httpSpans/);
    expect(() => tracing({ recordArguments: 'yes' as never })).toThrow(/recordArguments/);
    expect(() => tracing({ redact: ['a..b'] })).toThrow(/redact/);
    expect(() => tracing({ tracerProvider: 42 as never })).toThrow(/tracerProvider/);
    expect(() => tracing(null as never)).toThrow(TypeError);
  });

  it('follows the global meter provider registered after it was created', async () => {
    const own = telemetry();
    const f = await start({ meterProvider: undefined });
    metrics.setGlobalMeterProvider(own.meterProvider);
    try {
      await f.client.listTools();
      expect(points(await own.metric('mcp.server.operation.duration')).length).toBeGreaterThan(0);
    } finally {
      metrics.disable();
      await own.shutdown();
    }
  });
});
