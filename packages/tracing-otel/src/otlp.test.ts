import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectClient, startTestServer, waitFor } from '@mcp-middleware/core/testing';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceparent, registerContextManager, tracedServer, w3c } from './test-fixtures.js';
import { tracing } from './tracing.js';

/** OTLP/JSON as a collector receives it (opentelemetry-proto's JSON mapping: ids in hex, typed values). */
interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: OtlpValue }>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number; message?: string };
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{ scope: { name: string; version?: string }; spans: OtlpSpan[] }>;
  }>;
}

/** A minimal OTLP/HTTP trace receiver on loopback: keeps every decoded export request. */
class OtlpReceiver {
  readonly received: Array<{ contentType: string | undefined; body: OtlpExport }> = [];
  readonly server: Server = createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    this.received.push({
      contentType: req.headers['content-type'],
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  spans(): Array<OtlpSpan & { scope: string; resource: Record<string, unknown> }> {
    return this.received.flatMap(({ body }) =>
      body.resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) =>
          ss.spans.map((span) => ({
            ...span,
            scope: ss.scope.name,
            resource: Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue])),
          })),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
  }
}

function attributesOf(span: OtlpSpan): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries(
    span.attributes.map((a) => [
      a.key,
      a.value.stringValue ?? (a.value.intValue === undefined ? a.value.boolValue : Number(a.value.intValue)),
    ]),
  );
}

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
