/**
 * An MCP server traced with OpenTelemetry: spans go to any OTLP/HTTP endpoint (a local Jaeger, an OpenTelemetry
 * Collector), named and attributed per the MCP semantic conventions.
 * Run: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node --import tsx examples/traced-server.ts
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { tracing } from '@mcp-middleware/tracing-otel';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';

// The SDK is yours to set up (or use @opentelemetry/sdk-node, which does the same from environment variables).
// The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and sends to its /v1/traces.
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'weather-mcp' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);
trace.setGlobalTracerProvider(provider);

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'weather', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'forecast',
      { description: 'Tomorrow’s weather for a city', inputSchema: { city: z.string() } },
      async ({ city }) =>
        // Spans you start here are children of the `tools/call forecast` span.
        trace.getTracer('weather').startActiveSpan('look up forecast', async (span) => {
          try {
            return { content: [{ type: 'text' as const, text: `Sunny in ${city}` }] };
          } finally {
            span.end();
          }
        }),
    );
    return server;
  },
  // First, so its spans cover what the other middleware do.
  middleware: [tracing({ recordArguments: true, redact: ['city'] })],
});

const node = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.error(`MCP server on ${node.url}mcp`);
// Spans not yet exported are flushed once the server has closed.
await handler.closed;
await provider.shutdown();
