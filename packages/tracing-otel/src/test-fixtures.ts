import type { ServerFactory } from '@mcp-middleware/core';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';

/** Spans nest through async calls only with a context manager, as the Node SDK registers one. */
export function registerContextManager(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

export const w3c = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

/** Counts spans started and not yet ended: none may stay open after a call, whatever happened to it. */
export class OpenSpans implements SpanProcessor {
  readonly open = new Set<Span>();
  onStart(span: Span): void {
    this.open.add(span);
  }
  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** A real SDK tracer provider exporting to memory, and a meter provider read on demand. */
export function telemetry() {
  const exporter = new InMemorySpanExporter();
  const openSpans = new OpenSpans();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [openSpans, new SimpleSpanProcessor(exporter)],
  });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    openSpans,
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    span: (name: string) => exporter.getFinishedSpans().find((s) => s.name === name),
    /** Collects now and returns the metric named `name`. */
    async metric(name: string): Promise<MetricData | undefined> {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** A W3C traceparent with fresh random ids. */
export function newTraceparent(): { header: string; traceId: string; spanId: string } {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  const traceId = hex(16);
  const spanId = hex(8);
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

export interface Seen {
  /** What the `spy` tool saw as active span and baggage. */
  activeSpanId?: string;
  activeTraceId?: string;
  baggage?: string;
  started: string[];
}

/**
 * A server with what the conventions distinguish: tools (one failing with `isError`, one that waits until
 * cancelled, one that starts its own span), a prompt and a resource.
 */
export function tracedServer(seen: Seen = { started: [] }): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'traced', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'echo',
      { description: 'Echoes its text', inputSchema: { text: z.string(), apiKey: z.string().optional() } },
      async ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    server.registerTool('fail', { description: 'Reports a failure' }, async () => ({
      content: [{ type: 'text', text: 'the weather service is down' }],
      isError: true,
    }));
    server.registerTool(
      'slow',
      { description: 'Waits ms milliseconds, or until cancelled', inputSchema: { ms: z.number() } },
      async ({ ms }, extra) => {
        seen.started.push('slow');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: `waited ${ms}` }] };
      },
    );
    server.registerTool('spy', { description: 'Starts its own span and reports the context' }, async () => {
      const active = trace.getActiveSpan()?.spanContext();
      seen.activeSpanId = active?.spanId;
      seen.activeTraceId = active?.traceId;
      seen.baggage = propagation.getActiveBaggage()?.getEntry('tenant')?.value;
      trace.getTracer('user-code').startActiveSpan('user work', (span) => span.end());
      return { content: [{ type: 'text', text: 'seen' }] };
    });
    server.registerPrompt('summarize', { description: 'A prompt' }, () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'Summarize.' } }],
    }));
    server.registerResource(
      'note',
      new ResourceTemplate('note://{id}', { list: undefined }),
      { description: 'A note' },
      async (uri) => ({ contents: [{ uri: uri.href, text: 'a note' }] }),
    );
    return server;
  };
}
