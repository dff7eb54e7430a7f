import { connectClient, startTestServer, waitFor } from '@mcp-middleware/core/testing';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceparent, registerContextManager, tracedServer, w3c } from './test-fixtures.js';
import { attributesOf, OtlpReceiver } from './testing.js';
import { tracing } from './tracing.js';

const receiver = new OtlpReceiver();
let url: string;
beforeAll(async () => {
  registerContextManager();
  url = await receiver.start();
});
afterAll(() => receiver.close());

describe('exporting over OTLP/HTTP', () => {
  it('delivers the MCP server span, its attributes and its parent from _meta to an OTLP receiver', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'mcp-otlp-test' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url, timeoutMillis: 5000 }))],
    });
    const server = await startTestServer({
      server: tracedServer(),
      middleware: [tracing({ tracerProvider: provider, propagator: w3c, metrics: false })],
    });
    const parent = newTraceparent();
    try {
      const client = await connectClient(server.url);
      await client.callTool({
        name: 'echo',
        arguments: { text: 'hi' },
        _meta: { traceparent: parent.header },
      });
      await client.callTool({ name: 'fail', arguments: {} });
      await client.close();
      await provider.forceFlush();
      await waitFor(
        () => receiver.spans().some((s) => s.name === 'tools/call fail'),
        'the spans to reach the receiver',
      );
    } finally {
      await server.handler.close();
      await server.close();
      await provider.shutdown();
    }
    expect(receiver.received[0]?.contentType).toMatch(/^application\/json/);
    const echo = receiver.spans().find((s) => s.name === 'tools/call echo')!;
    expect(echo.scope).toBe('@mcp-middleware/tracing-otel');
    expect(echo.resource['service.name']).toBe('mcp-otlp-test');
    expect(echo.kind).toBe(2); // SPAN_KIND_SERVER in OTLP
    expect(echo.traceId).toBe(parent.traceId);
    expect(echo.parentSpanId).toBe(parent.spanId);
    expect(echo.links).toHaveLength(1);
    expect(attributesOf(echo)).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
    });
    const fail = receiver.spans().find((s) => s.name === 'tools/call fail')!;
    expect(attributesOf(fail)['error.type']).toBe('tool_error');
    expect(fail.status?.code).toBe(2); // STATUS_CODE_ERROR
    const http = receiver.spans().find((s) => s.spanId === fail.parentSpanId);
    expect(http?.name).toBe('POST /mcp');
    expect(attributesOf(http!)['http.response.status_code']).toBe(200);
  });
});
