/**
 * The full middleware stack a production server would run, for the tracing arm of overhead.ts: JSON logs to
 * /dev/null, an API key, a per-client rate limit in memory, errors with timeouts; with or without tracing.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiKeyAuth, generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import { oauth } from '@mcp-middleware/auth-oauth';
import type { Middleware } from '@mcp-middleware/core';
import { errors } from '@mcp-middleware/errors';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { MemoryStore, RedisStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { tracing } from '@mcp-middleware/tracing-otel';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import { context, metrics, propagation, SpanKind, trace } from '@opentelemetry/api';
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
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { z } from 'zod';

/** The server every arm serves: one `echo` tool. */
export function echoServer(options: ConstructorParameters<typeof McpServer>[1] = {}): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' }, options);
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

/** A protocol era of SDK v2: `legacy` (2025-11-25, v2's stateless path) or `modern` (2026-07-28, no session). */
export type Era = 'legacy' | 'modern';

/** What a 2026-07-28 client puts in every request's `_meta`: no `initialize`, no session. */
export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** The headers a client of `era` sends with a `tools/call` of `echo`, beside `extra`. */
export function v2Headers(era: Era, extra: Record<string, string>): Record<string, string> {
  return era === 'modern'
    ? { ...extra, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }
    : { ...extra, 'mcp-protocol-version': '2025-11-25' };
}

/** The same server on SDK v2, made per request as v2's factory makes it; `wrap` is core's `handler.wrapServer`. */
export function echoServerV2(wrap: <S extends object>(server: S) => S = (s) => s): V2McpServer {
  const server = new V2McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return wrap(server);
}

/**
 * The bare SDK as its examples serve it: a session map in front of the web-standard transport, which reads the
 * body from the `Request` itself.
 */
export function bareSdkFetch(): (req: Request) => Promise<Response> {
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  return async (req) => {
    const sid = req.headers.get('mcp-session-id');
    const existing = sid ? transports.get(sid) : undefined;
    if (existing) return existing.handleRequest(req);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void transports.set(id, transport),
    });
    await echoServer().connect(transport);
    return transport.handleRequest(req);
  };
}

/**
 * `stack`: no tracing; `stack+otel-none`: the tracing middleware with no SDK registered; `stack+sdk`: the SDK
 * registered (context manager, providers) but no tracing middleware, which is what the SDK alone costs every
 * request; `stack+otel`: the SDK and the tracing middleware; `stack+otel-noctx`: the same without a context manager
 * (the middleware passes its contexts explicitly; only spans started inside tools lose their parent);
 * `stack+otel-mcp`: the SDK and the tracing middleware with `httpSpans: false` (the MCP span only);
 * `stack+otel-floor[-noctx|-metric]`: the SDK and the least any tracing middleware can do (see `tracingFloor`).
 */
export type StackMode =
  | 'stack'
  | 'stack-oauth'
  | 'stack-redis'
  | 'stack+otel-none'
  | 'stack+sdk'
  | 'stack+otel'
  | 'stack+otel-noctx'
  | 'stack+otel-mcp'
  | 'stack+otel-floor'
  | 'stack+otel-floor-noctx'
  | 'stack+otel-floor-metric';

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

/**
 * The least any tracing middleware can cost with the SDK registered as NodeSDK does (`fullStack` registers it, as
 * for every SDK arm): one span per call with five attributes, made active with `context.with` (what lets a tool's
 * own spans nest; not in `-noctx`), ended when the call ends, plus one histogram point in `-metric`. What
 * `stack+otel` costs beyond it is this project's own.
 */
function tracingFloor(variant: 'floor' | 'floor-noctx' | 'floor-metric'): Middleware {
  const tracer = trace.getTracer('floor');
  const histogram = metrics.getMeter('floor').createHistogram('mcp.server.operation.duration');
  return {
    name: 'otel-floor',
    rpc: async (call, next) => {
      const span = tracer.startSpan(`${call.method} echo`, {
        kind: SpanKind.SERVER,
        attributes: {
          'mcp.method.name': call.method,
          'gen_ai.tool.name': 'echo',
          'jsonrpc.request.id': String(call.id),
          'mcp.session.id': call.sessionId ?? '',
          'network.transport': 'tcp',
        },
      });
      try {
        return await (variant === 'floor-noctx'
          ? next()
          : context.with(trace.setSpan(context.active(), span), next));
      } finally {
        span.end();
        if (variant === 'floor-metric') histogram.record(0.001, { 'mcp.method.name': call.method });
      }
    },
  };
}

/**
 * One package alone on core (`only:logger`, `only:apikey`, `only:oauth`, `only:limit`, `only:redis`,
 * `only:errors`, `only:otel`), for issue 14's "each real package alone" line.
 */
export type OnlyMode = `only:${'logger' | 'apikey' | 'oauth' | 'limit' | 'redis' | 'errors' | 'otel'}`;

/** A local issuer (discovery + JWKS on loopback) and one signed token: `oauth()` verifies it once, then caches. */
async function localIssuer(): Promise<{ middleware: Middleware; token: string }> {
  const resource = 'http://127.0.0.1/mcp';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  http.unref();
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  http.on('request', (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server')
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ client_id: 'bench', scope: 'read' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(resource)
    .setSubject('bench')
    .setIssuedAt(now)
    .setJti(crypto.randomUUID())
    .setExpirationTime(now + 3600)
    .sign(privateKey);
  return { middleware: oauth({ resource, authorizationServers: [issuer] }), token };
}

/** A Redis-backed limit on REDIS_URL or 127.0.0.1:6379 (one round trip per request). */
async function redisLimit(): Promise<Middleware> {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  await redis.ping();
  return rateLimit({
    policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
    store: new RedisStore({ client: redis, prefix: `bench:${process.pid}:` }),
  });
}

export async function fullStack(
  mode: StackMode | OnlyMode,
): Promise<{ middleware: Middleware[]; headers: Record<string, string> }> {
  if (
    mode === 'stack+otel' ||
    mode === 'stack+sdk' ||
    mode === 'stack+otel-noctx' ||
    mode === 'stack+otel-mcp' ||
    mode.startsWith('stack+otel-floor') ||
    mode === 'only:otel'
  ) {
    registerSdk(mode !== 'stack+otel-noctx' && mode !== 'stack+otel-floor-noctx');
  }
  const { key, record } = generateApiKey({ owner: 'bench', scopes: ['read'] });
  // A path, as a user would give one: the logger opens it and batches the lines of each event-loop turn.
  const logger = () => jsonLogger({ destination: '/dev/null' });
  const apiKey = () => apiKeyAuth({ store: new MemoryKeyStore([record]) });
  const memoryLimit = () =>
    rateLimit({
      policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
      store: new MemoryStore(),
    });
  const timeouts = () => errors({ timeout: '30s' });
  const keyHeader = { authorization: `Bearer ${key}` };
  if (mode.startsWith('only:')) {
    const part = mode.slice(5);
    if (part === 'oauth') {
      const { middleware, token } = await localIssuer();
      return { middleware: [middleware], headers: { authorization: `Bearer ${token}` } };
    }
    const one = {
      logger,
      apikey: apiKey,
      limit: memoryLimit,
      redis: redisLimit,
      errors: timeouts,
      otel: tracing,
    }[part];
    if (!one) throw new Error(`unknown mode ${mode}`);
    return { middleware: [await one()], headers: part === 'apikey' ? keyHeader : {} };
  }
  if (mode === 'stack-oauth') {
    const { middleware, token } = await localIssuer();
    return {
      middleware: [logger(), middleware, memoryLimit(), timeouts()],
      headers: { authorization: `Bearer ${token}` },
    };
  }
  const middleware: Middleware[] = [
    logger(),
    apiKey(),
    mode === 'stack-redis' ? await redisLimit() : memoryLimit(),
    timeouts(),
  ];
  if (mode.startsWith('stack+otel-floor'))
    middleware.unshift(tracingFloor(mode.slice('stack+otel-'.length) as Parameters<typeof tracingFloor>[0]));
  else if (mode === 'stack+otel-mcp') middleware.unshift(tracing({ httpSpans: false }));
  else if (mode !== 'stack' && mode !== 'stack+sdk' && mode !== 'stack-redis') middleware.unshift(tracing());
  return { middleware, headers: keyHeader };
}

/**
 * The command (after `valgrind`) that runs Node as the `--instructions` modes of cpu.ts and overhead.ts count it:
 * cachegrind with no cache simulation, and V8 in `--predictable` mode (one thread, no timers deciding when it
 * compiles or collects), with this process's own Node flags (tsx).
 */
export function valgrindNode(): string[] {
  return [
    '--tool=cachegrind',
    '--cache-sim=no',
    // V8 writes machine code to the heap as it compiles: valgrind must see it change.
    '--smc-check=all-non-file',
    '--cachegrind-out-file=/dev/null',
    process.execPath,
    '--predictable',
    // BENCH_FIXED_GC=1: heap growth fixed instead of sized from measured GC speed (time). Back-to-back counts of the
    // same code on an idle machine then agreed within ~2 % (other runs still moved ~10 %): for pairing two builds.
    // The heap stays small, so collections weigh more than in a server (counts ~25 % higher): not for goal lines.
    ...(process.env['BENCH_FIXED_GC'] === '1' ? ['--predictable-gc-schedule', '--random-seed=1'] : []),
    ...process.execArgv,
  ];
}

/** The instructions valgrind reports at a process's exit (its `I refs` line), or undefined if it reported none. */
export function instructionsReported(stderr: string): number | undefined {
  const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr);
  return refs ? Number(refs[1]!.replaceAll(',', '')) : undefined;
}
