/**
 * OpenTelemetry for the demo, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard variable: the OTLP
 * exporters read it, and OTEL_EXPORTER_OTLP_HEADERS, themselves). Traces and metrics go over OTLP/HTTP to a
 * collector, a local Jaeger, or any OTLP backend; OTEL_SERVICE_NAME names the service.
 */
import { type Tracing, tracing } from '@mcp-middleware/tracing-otel';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Telemetry {
  readonly middleware: Tracing;
  /** Exports what is left and stops the providers. */
  shutdown(): Promise<void>;
}

export function startTelemetry(version: string, env = process.env): Telemetry | undefined {
  if (!env['OTEL_EXPORTER_OTLP_ENDPOINT']) return undefined;
  const resource = resourceFromAttributes({
    'service.name': env['OTEL_SERVICE_NAME'] || 'mcp-middleware-demo',
    'service.version': version,
  });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    middleware: tracing(),
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
