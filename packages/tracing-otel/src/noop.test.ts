import { type Middleware, TRACE_IDS } from '@mcp-middleware/core';
import { connectClient, startTestServer } from '@mcp-middleware/core/testing';
import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { newTraceparent, registerContextManager, telemetry, tracedServer, w3c } from './test-fixtures.js';
import { tracing } from './tracing.js';

// This file owns the global tracer provider: nothing is registered until the last test registers one.
registerContextManager();
const otel = telemetry();
afterAll(async () => {
  trace.disable();
  await otel.shutdown();
});

describe('with no OpenTelemetry SDK registered', () => {
  it('passes every call through untouched and starts tracing once a provider is registered later', async () => {
    const seen: unknown[] = [];
    const probe: Middleware = {
      name: 'probe',
      async rpc(call, next) {
        if (call.method === 'tools/call') seen.push(call.state.get(TRACE_IDS));
        return next();
      },
    };
    // Created before the SDK starts, as instrumentation usually is.
    const server = await startTestServer({
      server: tracedServer(),
      middleware: [tracing({ propagator: w3c }), probe],
    });
    try {
      const client = await connectClient(server.url);
      const meta = { traceparent: newTraceparent().header };
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' }, _meta: meta });
      expect(result.content).toEqual([{ type: 'text', text: 'hi' }]);
      expect(seen).toEqual([undefined]);

      trace.setGlobalTracerProvider(otel.tracerProvider);
      await client.callTool({ name: 'echo', arguments: { text: 'again' } });
      expect(otel.spans().map((s) => s.name)).toContain('tools/call echo');
      expect(seen[1]).toMatchObject({ traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      await client.close();
    } finally {
      await server.handler.close();
      await server.close();
    }
  });
});
