import { MiddlewareTransport } from '@mcp-middleware/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { newTraceparent, registerContextManager, telemetry, tracedServer, w3c } from './test-fixtures.js';
import { tracing } from './tracing.js';

registerContextManager();
const otel = telemetry();
afterAll(() => otel.shutdown());

describe('without HTTP (the RPC layer over a stdio-like transport)', () => {
  it('records network.transport pipe, parents on _meta, and links nothing', async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const factory = tracedServer();
    const server = await factory({
      sessionId: undefined,
      jsonSchemaValidator: new AjvJsonSchemaValidator(),
      http: undefined as never,
    });
    await server.connect(
      new MiddlewareTransport(serverSide, {
        middleware: [tracing({ tracerProvider: otel.tracerProvider, propagator: w3c, metrics: false })],
      }),
    );
    const client = new Client({ name: 'pipe-client', version: '1.0.0' });
    await client.connect(clientSide);
    const parent = newTraceparent();
    await client.callTool({ name: 'echo', arguments: { text: 'x' }, _meta: { traceparent: parent.header } });
    await client.close();
    const span = otel.span('tools/call echo')!;
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.attributes['network.transport']).toBe('pipe');
    expect(span.attributes['network.protocol.name']).toBeUndefined();
    expect(span.attributes['mcp.session.id']).toBeUndefined();
    expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(span.links).toEqual([]);
    await server.close();
  });
});
