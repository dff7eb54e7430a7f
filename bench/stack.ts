/**
 * The full middleware stack a production server would run, for the tracing arm of overhead.ts: JSON logs to
 * /dev/null, an API key, a per-client rate limit in memory, errors with timeouts; with or without tracing.
 */
import { apiKeyAuth, generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import type { Middleware } from '@mcp-middleware/core';
import { errors } from '@mcp-middleware/errors';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { MemoryStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { tracing } from '@mcp-middleware/tracing-otel';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import pino from 'pino';

/**
 * `stack`: no tracing; `stack+otel-none`: the tracing middleware with no SDK registered; `stack+sdk`: the SDK
 * registered (context manager, providers) but no tracing middleware, which is what the SDK alone costs every
 * request; `stack+otel`: the SDK and the tracing middleware; `stack+otel-noctx`: the same without a context manager
 * (the middleware passes its contexts explicitly; only spans started inside tools lose their parent).
 */
export type StackMode = 'stack' | 'stack+otel-none' | 'stack+sdk' | 'stack+otel' | 'stack+otel-noctx';

/** Exports nothing, successfully: the cost measured is the instrumentation and the SDK, not a network. */
const noopSpanExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};
const noopMetricExporter: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** Registers the SDK the way NodeSDK does: context manager, W3C propagators, tracer and meter providers. */
export function registerSdk(contextManager: boolean): void {
  if (contextManager) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor(noopSpanExporter)],
    }),
  );
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      readers: [
        new PeriodicExportingMetricReader({ exporter: noopMetricExporter, exportIntervalMillis: 1000 }),
      ],
    }),
  );
}

export async function fullStack(
  mode: StackMode,
): Promise<{ middleware: Middleware[]; headers: Record<string, string> }> {
  if (mode === 'stack+otel' || mode === 'stack+sdk' || mode === 'stack+otel-noctx') {
    registerSdk(mode !== 'stack+otel-noctx');
  }
  const { key, record } = generateApiKey({ owner: 'bench', scopes: ['read'] });
  const middleware: Middleware[] = [
    jsonLogger({ destination: pino.destination({ dest: '/dev/null', sync: true }) }),
    apiKeyAuth({ store: new MemoryKeyStore([record]) }),
    rateLimit({
      policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
      store: new MemoryStore(),
    }),
    errors({ timeout: '30s' }),
  ];
  if (mode !== 'stack' && mode !== 'stack+sdk') middleware.unshift(tracing());
  return { middleware, headers: { authorization: `Bearer ${key}` } };
}
