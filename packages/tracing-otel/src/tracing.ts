import {
  compileRedactPaths,
  ERROR_CODES,
  type HttpContext,
  type Key,
  type Middleware,
  MiddlewareError,
  type RedactPath,
  type RpcCall,
  type RpcResult,
  redact,
  scrubText,
  TRACE_IDS,
  type TraceIds,
} from '@mcp-middleware/core';
import {
  type Attributes,
  type Context,
  context,
  createNoopMeter,
  type Histogram,
  type Link,
  type MeterProvider,
  metrics,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { authRefusalReason, parseRateLimit, policyNames, rpcRefusal } from './outcomes.js';
import {
  ATTR,
  type CallEnd,
  callAttributes,
  DURATION_BUCKETS,
  endOfAnswer,
  endOfThrown,
  METRIC,
  protocolVersionOf,
  spanNameOf,
  targetOf,
} from './semconv.js';
import { Tally, type TallyCounter } from './tally.js';

/** What the middleware does: full traces and metrics, only carry the client's context, or nothing. */
export type TracingMode = 'trace' | 'propagate' | 'off';

export interface TracingOptions {
  /**
   * `'trace'`: a server span per JSON-RPC request (and per HTTP request, see `httpSpans`) plus metrics.
   * `'propagate'`: no spans or metrics; the context from `_meta` (or the HTTP headers) becomes the active context
   * for the handler, so your own spans nest under the client's trace. `'off'`: does nothing.
   * @default 'trace'
   */
  mode?: TracingMode;
  /** Where spans come from. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
  /** Where metrics go. @default the global meter provider (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider;
  /** Reads trace context from `_meta` and HTTP headers. @default the global propagator (`propagation`) */
  propagator?: TextMapPropagator;
  /**
   * A server span per HTTP request. `'auto'`: only when no span is active already (no HTTP instrumentation of
   * yours made one); the outcomes of auth, rate limits and health probes then go on yours.
   * @default 'auto'
   */
  httpSpans?: 'auto' | boolean;
  /** Record the metrics (`mcp.server.operation.duration`, `mcp.server.session.duration`, counters). @default true */
  metrics?: boolean;
  /** Put each tool call's arguments, redacted, on its span (`gen_ai.tool.call.arguments`). @default false */
  recordArguments?: boolean;
  /** Put each successful tool result, redacted, on its span (`gen_ai.tool.call.result`). @default false */
  recordResults?: boolean;
  /**
   * Dot paths redacted in recorded arguments and results, e.g. `'card.number'` (`*` matches any key), on top of
   * credentials (any `token`/`secret`/`password`/API key field), which are always redacted.
   * @default []
   */
  redact?: readonly string[];
  /** Use `mcp.resource.uri` as the span name's target for resource requests (high cardinality). @default false */
  resourceUriInSpanName?: boolean;
}

/** A store failure to count, as `rateLimit({ onStoreError })` reports it. */
export interface StoreFailure {
  readonly policy?: string;
  /** What the middleware did about it: `'open'`, `'closed'` or `'local'`. */
  readonly outcome?: string;
}

export interface Tracing extends Middleware {
  readonly name: 'tracing-otel';
  /**
   * Counts a store failure (`mcp_middleware.store.failures`) and notes it on the active span. Hand it to the
   * rate limiter: `rateLimit({ onStoreError: (error, event) => tracing.recordStoreFailure(event) })`.
   */
  recordStoreFailure(event?: StoreFailure): void;
  /**
   * Records the duration of sessions still open (the handler is closing) and flushes the tracer and meter
   * providers (`forceFlush`, at most 5 s), so the last spans are exported before the process exits.
   */
  close(): Promise<void>;
}

const INSTRUMENTATION = '@mcp-middleware/tracing-otel';
/** The instrumentation scope's version: keep it the package's. */
const VERSION = '0.1.0';
/** Sessions remembered for `mcp.server.session.duration`; past it the oldest is recorded as ended when last seen. */
const MAX_SESSIONS = 10_000;
/** Distinct tool and prompt names labelled on metrics; past it they count as `_OTHER` (a client picks names). */
const MAX_METRIC_TARGETS = 1000;
const MAX_RECORDED_CHARS = 8192;
/** Distinct `RateLimit-Policy` values whose counters are kept at hand (a limiter has a handful). */
const MAX_POLICY_SETS = 64;
/** Longest `close()` waits for providers to export what they buffered. */
const FLUSH_TIMEOUT_MS = 5000;

const metaGetter: TextMapGetter<Record<string, unknown>> = {
  get(carrier, key) {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
  keys(carrier) {
    return Object.keys(carrier);
  },
};

const headersGetter: TextMapGetter<Headers> = {
  get(carrier, key) {
    return carrier.get(key) ?? undefined;
  },
  keys(carrier) {
    return [...carrier.keys()];
  },
};

type HeaderRecord = Record<string, string | string[] | undefined>;
const recordGetter: TextMapGetter<HeaderRecord> = {
  get(carrier, key) {
    return carrier[key];
  },
  keys(carrier) {
    return Object.keys(carrier);
  },
};

/** What the HTTP layer leaves for the calls its request carries. */
class HttpEntry {
  /** MCP spans open under this request: our HTTP span ends once the response is out and this is 0. */
  calls = 0;
  responded = false;
  /** The `RateLimit-Policy` (else `RateLimit`) header an admitting rate limiter set, seen as it was set. */
  rateLimitPolicy: string | undefined = undefined;
  rateLimit: string | undefined = undefined;
  constructor(
    /** The context calls take as parent (or link): our HTTP span's, the ambient one, or the extracted headers. */
    readonly context: Context,
    /** Our HTTP span, when we made one; it ends when the response is out and every call it carried has ended. */
    readonly span: Span | undefined,
    /** Where outcomes go: our span, or the user's HTTP instrumentation span. */
    readonly annotate: Span | undefined,
  ) {}
}

interface SessionRecord {
  readonly start: number;
  lastSeen: number;
  protocolVersion: string | undefined;
}

/** The span's own context serves as its `TraceIds`; a recording span's ids are valid by construction. */
function idsOf(span: Span | undefined): TraceIds | undefined {
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  return span.isRecording() || trace.isSpanContextValid(sc) ? sc : undefined;
}

function headerOf(headers: Headers | Readonly<Record<string, string>>, name: string): string | null {
  return headers instanceof Headers ? headers.get(name) : (headers[name] ?? null);
}

/** The SDK provider behind the API's global proxy, or the provider itself. */
function delegateOf(provider: TracerProvider): unknown {
  const proxy = provider as Partial<{ getDelegate(): TracerProvider }>;
  return typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : provider;
}

/** Calls `forceFlush()` on whichever providers have one (the SDK's do; the API's no-ops do not), within a bound. */
async function flush(providers: readonly unknown[], timeoutMs: number): Promise<void> {
  const flushing = providers.map((p) => {
    const f = (p as Partial<{ forceFlush(): Promise<void> }> | undefined)?.forceFlush;
    return typeof f === 'function' ? f.call(p).catch(() => {}) : undefined;
  });
  if (!flushing.some((f) => f !== undefined)) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(flushing),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref?.();
    }),
  ]);
  clearTimeout(timer);
}

type ErrorData = { reason?: unknown } | undefined;
const REFUSALS = new Set([401, 403, 429]);

/** The `error.data` of a JSON-RPC error response, read from a copy of the body. */
function errorDataOf(response: Response): Promise<ErrorData> {
  return response
    .clone()
    .json()
    .then((body: { error?: { data?: ErrorData } }) => body?.error?.data)
    .catch(() => undefined);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function recordedJson(value: unknown, paths: readonly RedactPath[]): string {
  const text = JSON.stringify(redact(value, paths)) ?? 'null';
  return text.length > MAX_RECORDED_CHARS ? `${text.slice(0, MAX_RECORDED_CHARS)}…[truncated]` : text;
}

function checkBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`tracing: ${name} must be a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * OpenTelemetry for an MCP server: one server span per JSON-RPC request following the MCP semantic conventions,
 * parented on the trace context the client put in `params._meta` (with the HTTP request's context as a link), an
 * HTTP server span when nothing else makes one, and the conventions' duration metrics plus counters for rate-limit
 * decisions, auth refusals and store failures. Depends only on `@opentelemetry/api`: with no SDK registered it
 * costs next to nothing. Put it first in the middleware list, so its spans cover what the others do.
 */
export function tracing(options: TracingOptions = {}): Tracing {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('tracing: options must be an object');
  const mode = options.mode ?? 'trace';
  if (mode !== 'trace' && mode !== 'propagate' && mode !== 'off') {
    throw new TypeError(`tracing: mode must be 'trace', 'propagate' or 'off', got ${String(mode)}`);
  }
  const httpSpans = options.httpSpans ?? 'auto';
  if (httpSpans !== 'auto' && typeof httpSpans !== 'boolean') {
    throw new TypeError(`tracing: httpSpans must be 'auto', true or false, got ${String(httpSpans)}`);
  }
  const withMetrics = checkBoolean(options.metrics, 'metrics') ?? true;
  const recordArguments = checkBoolean(options.recordArguments, 'recordArguments') ?? false;
  const recordResults = checkBoolean(options.recordResults, 'recordResults') ?? false;
  const resourceUriInName = checkBoolean(options.resourceUriInSpanName, 'resourceUriInSpanName') ?? false;
  const paths = compileRedactPaths(options.redact ?? [], 'tracing: redact');
  for (const name of ['tracerProvider', 'meterProvider', 'propagator'] as const) {
    const value = options[name] as unknown;
    if (value !== undefined && (typeof value !== 'object' || value === null)) {
      throw new TypeError(`tracing: ${name} must be an object`);
    }
  }
  const propagator: TextMapPropagator = options.propagator ?? propagation;

  if (mode === 'off') {
    return { name: 'tracing-otel', recordStoreFailure() {}, async close() {} };
  }

  // The tracer is looked up until a provider is registered (instrumentation is often created before the SDK
  // starts), then kept. Without one, every layer passes straight through.
  let tracer: Tracer | undefined;
  const liveTracer = (): Tracer | undefined => {
    if (tracer) return tracer;
    const provider = options.tracerProvider ?? trace.getTracerProvider();
    const proxy = provider as Partial<{ getDelegateTracer: TracerProvider['getTracer'] }>;
    const found =
      typeof proxy.getDelegateTracer === 'function'
        ? proxy.getDelegateTracer(INSTRUMENTATION, VERSION)
        : provider.getTracer(INSTRUMENTATION, VERSION);
    if (found) tracer = found;
    return found;
  };

  // Metrics: the global meter provider has no proxy, so instruments are made from whichever provider is current
  // and remade if it changes. The no-op meter's instruments are shared singletons: comparing to one tells "none".
  const noopHistogram = createNoopMeter().createHistogram('noop');
  interface Instruments {
    readonly provider: MeterProvider;
    readonly live: boolean;
    readonly operation: Histogram;
    readonly session: Histogram;
    readonly rateLimit: Tally;
    readonly authRefusals: Tally;
    readonly storeFailures: Tally;
    /** The allowed-decision counters of each `RateLimit-Policy` value seen (see `countAdmitted`). */
    readonly admitted: Map<string, TallyCounter[]>;
  }
  let instruments: Instruments | undefined;
  const liveInstruments = (): Instruments | undefined => {
    if (!withMetrics || mode !== 'trace') return undefined;
    const provider = options.meterProvider ?? metrics.getMeterProvider();
    if (instruments?.provider !== provider) {
      const meter = provider.getMeter(INSTRUMENTATION, VERSION);
      const operation = meter.createHistogram(METRIC.OPERATION_DURATION, {
        description: 'MCP request duration as observed on the receiver, until the result or error is sent.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
      instruments = {
        provider,
        live: operation !== noopHistogram,
        operation,
        session: meter.createHistogram(METRIC.SESSION_DURATION, {
          description: 'The duration of the MCP session as observed on the MCP server.',
          unit: 's',
          advice: { explicitBucketBoundaries: DURATION_BUCKETS },
        }),
        rateLimit: new Tally(meter, METRIC.RATELIMIT_DECISIONS, {
          description: 'Rate-limit decisions, by outcome and policy.',
          unit: '{decision}',
        }),
        authRefusals: new Tally(meter, METRIC.AUTH_REFUSALS, {
          description: 'Requests refused by authentication or authorization, by reason.',
          unit: '{request}',
        }),
        storeFailures: new Tally(meter, METRIC.STORE_FAILURES, {
          description: 'Failures of a shared store (e.g. Redis for rate limits), by policy and outcome.',
          unit: '{failure}',
        }),
        admitted: new Map(),
      };
    }
    return instruments.live ? instruments : undefined;
  };

  // Keys are per factory: two tracing middleware in one handler do not read each other's entries.
  const HTTP: Key<HttpEntry> = Symbol('tracing-otel/http');
  const sessions = new Map<string, SessionRecord>();
  const metricTargets = new Set<string>();

  const metricTarget = (name: string): string => {
    if (metricTargets.has(name)) return name;
    if (metricTargets.size >= MAX_METRIC_TARGETS) return '_OTHER';
    metricTargets.add(name);
    return name;
  };

  function endSession(id: string, record: SessionRecord, at: number, errorType?: string): void {
    sessions.delete(id);
    const inst = liveInstruments();
    if (!inst) return;
    const attributes: Attributes = { [ATTR.NETWORK_TRANSPORT]: 'tcp', [ATTR.NETWORK_PROTOCOL]: 'http' };
    if (record.protocolVersion) attributes[ATTR.PROTOCOL_VERSION] = record.protocolVersion;
    if (errorType) attributes[ATTR.ERROR_TYPE] = errorType;
    inst.session.record(Math.max(0, at - record.start) / 1000, attributes);
  }

  /** Session start (an `initialize` answered with a session id), activity, and end (DELETE, or unknown now). */
  function trackSession(req: Request, ctx: HttpContext, status: number, headers: Headers | undefined): void {
    const now = performance.now();
    const id = ctx.sessionId;
    if (id === undefined) {
      const created = status === 200 ? headers?.get('mcp-session-id') : null;
      if (!created) return;
      if (sessions.size >= MAX_SESSIONS) {
        const [oldId, oldest] = sessions.entries().next().value as [string, SessionRecord];
        endSession(oldId, oldest, oldest.lastSeen);
      }
      sessions.set(created, { start: ctx.startedAt, lastSeen: now, protocolVersion: undefined });
      return;
    }
    const record = sessions.get(id);
    if (!record) return;
    if (status === 404) {
      // Expired or closed by the server: it ended when it was last used.
      endSession(id, record, record.lastSeen);
      return;
    }
    record.lastSeen = now;
    record.protocolVersion ??= req.headers.get('mcp-protocol-version') ?? undefined;
    if (req.method === 'DELETE' && status < 300) endSession(id, record, now);
  }

  function rateLimitCounter(
    inst: Instruments,
    policy: string,
    outcome: 'allowed' | 'limited',
    layer: 'http' | 'rpc',
  ): TallyCounter {
    return inst.rateLimit.counter(`${policy}\u0000${outcome}\u0000${layer}`, () => ({
      [ATTR.RATELIMIT_POLICY]: policy,
      [ATTR.RATELIMIT_DECISION]: outcome,
      [ATTR.RATELIMIT_LAYER]: layer,
    }));
  }

  function countRateLimit(policy: string, outcome: 'allowed' | 'limited', layer: 'http' | 'rpc'): void {
    const inst = liveInstruments();
    if (inst) rateLimitCounter(inst, policy, outcome, layer).count++;
  }

  /**
   * Counts an admitted request for each policy it names. A limiter formats its `RateLimit-Policy` once per policy
   * set, so that string keys the counters to bump: no parsing or lookups per request.
   */
  function countAdmitted(inst: Instruments, entry: HttpEntry): void {
    const policyHeader = entry.rateLimitPolicy;
    let counters = policyHeader === undefined ? undefined : inst.admitted.get(policyHeader);
    if (counters === undefined) {
      const names = policyNames(policyHeader ?? entry.rateLimit ?? '');
      counters = names.map((policy) => rateLimitCounter(inst, policy, 'allowed', 'http'));
      if (policyHeader !== undefined && inst.admitted.size < MAX_POLICY_SETS) {
        inst.admitted.set(policyHeader, counters);
      }
    }
    for (const counter of counters) counter.count++;
  }

  function countAuthRefusal(reason: string, layer: 'http' | 'rpc'): void {
    liveInstruments()?.authRefusals.add(`${reason}\u0000${layer}`, () => ({
      [ATTR.AUTH_REASON]: reason,
      [ATTR.AUTH_LAYER]: layer,
    }));
  }

  /** Reads what auth, rate limits and health probes decided from the response, and records it. */
  function observeHttp(
    inst: Instruments | undefined,
    entry: HttpEntry,
    ctx: HttpContext,
    status: number,
    headers: Headers | Readonly<Record<string, string>>,
    data: { reason?: unknown } | undefined,
  ): void {
    const span = entry.annotate;
    // Headers are read only where they can matter: most responses are a 200 from the MCP endpoint.
    const reason =
      status === 401 || status === 403
        ? authRefusalReason(status, headerOf(headers, 'www-authenticate'), data?.reason)
        : undefined;
    if (reason !== undefined && ctx.isProtected) {
      span?.setAttributes({ [ATTR.AUTH_OUTCOME]: 'refused', [ATTR.AUTH_REASON]: reason });
      countAuthRefusal(reason, 'http');
    } else if (ctx.authInfo) {
      span?.setAttribute(ATTR.AUTH_OUTCOME, 'authenticated');
    }
    if (status === 429) {
      const refusal = rpcRefusal(ERROR_CODES.rate_limited.rpc, data);
      const refused = refusal?.kind === 'rate_limited' ? refusal.policy : undefined;
      const items = parseRateLimit(headerOf(headers, 'ratelimit'));
      for (const item of items) {
        countRateLimit(item.policy, item.policy === refused ? 'limited' : 'allowed', 'http');
      }
      if (refused !== undefined && !items.some((i) => i.policy === refused)) {
        countRateLimit(refused, 'limited', 'http');
      }
      span?.setAttribute(ATTR.RATELIMIT_DECISION, 'limited');
      if (refused !== undefined) span?.setAttribute(ATTR.RATELIMIT_POLICY, refused);
    } else if (entry.rateLimitPolicy !== undefined || entry.rateLimit !== undefined) {
      if (inst) countAdmitted(inst, entry);
      span?.setAttribute(ATTR.RATELIMIT_DECISION, 'allowed');
    }
    if (ctx.route === 'route' && headerOf(headers, 'content-type')?.startsWith('application/health+json')) {
      span?.setAttribute(ATTR.HEALTH_STATUS, status < 300 ? 'pass' : 'fail');
    }
  }

  function endHttpSpan(entry: HttpEntry): void {
    // isRecording: not ended already (a call can outlive a response that ended the span: a stream cut short).
    if (entry.responded && entry.calls === 0 && entry.span?.isRecording()) entry.span.end();
  }

  function httpStatus(span: Span | undefined, status: number): void {
    if (!span) return;
    span.setAttribute(ATTR.HTTP_STATUS, status);
    // Server spans: 4xx is the client's doing, only 5xx is an error here.
    if (status >= 500) {
      span.setAttribute(ATTR.ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }

  /** An HTTP server span for `req`. */
  function startHttpSpan(tracer: Tracer, req: Request, ctx: HttpContext, parent: Context): Span {
    // Neither needs the URL parsed: the path is core's, the scheme is the URL's first word.
    const pathname = ctx.path;
    const route = ctx.route === 'not-found' ? undefined : pathname;
    const attributes: Attributes = {
      [ATTR.HTTP_METHOD]: req.method,
      [ATTR.URL_PATH]: pathname,
      [ATTR.URL_SCHEME]: req.url.slice(0, req.url.indexOf(':')),
      [ATTR.NETWORK_PROTOCOL]: 'http',
    };
    if (route !== undefined) attributes[ATTR.HTTP_ROUTE] = route;
    if (ctx.clientAddress) attributes[ATTR.CLIENT_ADDRESS] = ctx.clientAddress;
    return tracer.startSpan(
      route === undefined ? req.method : `${req.method} ${route}`,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
  }

  /** The end of an HTTP request: outcomes, status and session, read from the response. */
  function settleHttp(
    inst: Instruments | undefined,
    entry: HttpEntry,
    req: Request,
    ctx: HttpContext,
    status: number,
    headers: Headers | Readonly<Record<string, string>>,
    data: ErrorData,
  ): void {
    observeHttp(inst, entry, ctx, status, headers, data);
    httpStatus(entry.span, status);
    if (inst) trackSession(req, ctx, status, headers instanceof Headers ? headers : undefined);
  }

  // With nothing registered, each layer is a plain function that hands `next()`'s promise straight back.
  function http(req: Request, ctx: HttpContext, next: () => Promise<Response>): Promise<Response> {
    const live = mode === 'trace' ? liveTracer() : undefined;
    const inst = liveInstruments();
    if (mode === 'trace' && !live && !inst) return next();
    return tracedHttp(live, inst, req, ctx, next);
  }

  async function tracedHttp(
    live: Tracer | undefined,
    inst: Instruments | undefined,
    req: Request,
    ctx: HttpContext,
    next: () => Promise<Response>,
  ): Promise<Response> {
    const ambient = context.active();
    const ambientSpan = trace.getSpan(ambient);
    // Ours to represent: no span is active (no HTTP instrumentation of the user's), or we were told to.
    const own = ambientSpan === undefined || httpSpans === true;
    let base = own ? propagator.extract(ambient, req.headers, headersGetter) : ambient;
    let span: Span | undefined;
    if (live && own && httpSpans !== false) {
      span = startHttpSpan(live, req, ctx, base);
      base = trace.setSpan(base, span);
    }
    const annotate = span ?? (ambientSpan?.isRecording() ? ambientSpan : undefined);
    const entry = new HttpEntry(base, span, annotate);
    ctx.set(HTTP, entry);
    const ids = idsOf(span ?? ambientSpan) ?? idsOf(trace.getSpan(base));
    if (ids) ctx.set(TRACE_IDS, ids);

    // Rate-limit headers of admitted requests go straight to the outgoing message: watch them being set.
    if (mode === 'trace') {
      const setHeader = ctx.setResponseHeader;
      ctx.setResponseHeader = (name, value) => {
        const lower = name.toLowerCase();
        if (lower === 'ratelimit-policy') entry.rateLimitPolicy = value;
        else if (lower === 'ratelimit') entry.rateLimit = value;
        setHeader(name, value);
      };
    }

    let response: Response;
    try {
      // Nothing to make active when there is no span of ours and no context in the headers.
      response = base === ambient ? await next() : await context.with(base, next);
    } catch (error) {
      const status = MiddlewareError.is(error) ? error.status : 500;
      if (mode === 'trace') {
        settleHttp(
          inst,
          entry,
          req,
          ctx,
          status,
          MiddlewareError.is(error) ? error.headers : {},
          MiddlewareError.is(error) ? (error.data as ErrorData) : undefined,
        );
      }
      entry.responded = true;
      if (entry.span?.isRecording()) entry.span.end();
      throw error;
    }
    if (mode === 'trace') {
      const status = response.status;
      // Refusal bodies are small and rare: their JSON-RPC error data names the reason and the refusing policy.
      const data = REFUSALS.has(status) ? await errorDataOf(response) : undefined;
      settleHttp(inst, entry, req, ctx, status, response.headers, data);
    }
    entry.responded = true;
    endHttpSpan(entry);
    return response;
  }

  function rpc(call: RpcCall, next: () => Promise<RpcResult>): Promise<RpcResult> {
    const live = mode === 'trace' ? liveTracer() : undefined;
    const inst = liveInstruments();
    if (mode === 'trace' && !live && !inst) return next();
    return tracedRpc(live, inst, call, next);
  }

  async function tracedRpc(
    live: Tracer | undefined,
    inst: Instruments | undefined,
    call: RpcCall,
    next: () => Promise<RpcResult>,
  ): Promise<RpcResult> {
    // Read with get(): a call whose request this middleware did not see has no map to make.
    const entry = call.http?.get(HTTP);
    const transportContext =
      entry?.context ??
      (call.requestInfo
        ? propagator.extract(context.active(), call.requestInfo.headers as HeaderRecord, recordGetter)
        : context.active());
    const meta = (call.params as Record<string, unknown> | undefined)?.['_meta'];
    // The client's context from _meta is the parent; the transport's (HTTP) context becomes a link.
    const parent = isRecord(meta) ? propagator.extract(transportContext, meta, metaGetter) : transportContext;
    const parentSpanContext = trace.getSpanContext(parent);
    const transportSpanContext = trace.getSpanContext(transportContext);

    if (mode === 'propagate' || !live) {
      const ids = idsOf(trace.getSpan(parent));
      if (ids) call.set(TRACE_IDS, ids);
      const answer = await context.with(parent, next);
      if (inst) recordOperation(inst, call, classify(call, answer), answer);
      return answer;
    }

    const links: Link[] = [];
    if (
      transportSpanContext !== undefined &&
      transportSpanContext !== parentSpanContext &&
      trace.isSpanContextValid(transportSpanContext)
    ) {
      links.push({ context: transportSpanContext });
    }
    const attributes = callAttributes(call);
    const span = live.startSpan(
      spanNameOf(call.method, targetOf(call, resourceUriInName)),
      { kind: SpanKind.SERVER, attributes, links },
      parent,
    );
    const ids = idsOf(span);
    if (ids) call.set(TRACE_IDS, ids);
    if (entry?.span) entry.calls++;
    if (recordArguments && call.method === 'tools/call' && span.isRecording()) {
      const args = (call.params as { arguments?: unknown } | undefined)?.arguments;
      span.setAttribute(ATTR.TOOL_ARGUMENTS, recordedJson(args ?? {}, paths));
    }
    let answer: RpcResult | undefined;
    let end: CallEnd = {};
    try {
      answer = await context.with(trace.setSpan(parent, span), next);
      end = classify(call, answer);
      if (span.isRecording()) {
        if (call.method === 'initialize' && answer.result) {
          const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
          if (typeof version === 'string') span.setAttribute(ATTR.PROTOCOL_VERSION, version);
        }
        if (recordResults && end.errorType === undefined && call.method === 'tools/call') {
          span.setAttribute(ATTR.TOOL_RESULT, recordedJson(answer.result, paths));
        }
      }
      return answer;
    } catch (error) {
      end = endOfThrown(error);
      throw error;
    } finally {
      finishSpan(span, end);
      if (inst) recordOperation(inst, call, end, answer);
      if (entry?.span) {
        entry.calls--;
        endHttpSpan(entry);
      }
    }
  }

  /** Classifies the answer and counts RPC-layer refusals (per-tool limits, scopes). */
  function classify(call: RpcCall, answer: RpcResult): CallEnd {
    const end = endOfAnswer(answer, call.cancelled);
    if (answer.error !== undefined) {
      const refusal = rpcRefusal(answer.error.code, answer.error.data);
      if (refusal?.kind === 'rate_limited') countRateLimit(refusal.policy ?? '_OTHER', 'limited', 'rpc');
      else if (refusal?.kind === 'auth') countAuthRefusal(refusal.reason, 'rpc');
    }
    return end;
  }

  function finishSpan(span: Span, end: CallEnd): void {
    if (end.errorType !== undefined) {
      span.setAttribute(ATTR.ERROR_TYPE, end.errorType);
      if (end.statusCode !== undefined) span.setAttribute(ATTR.RPC_STATUS, end.statusCode);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(end.message === undefined ? {} : { message: scrubText(end.message) }),
      });
    }
    span.end();
  }

  function recordOperation(
    inst: Instruments,
    call: RpcCall,
    end: CallEnd,
    answer: RpcResult | undefined,
  ): void {
    const attributes: Attributes = {
      [ATTR.METHOD]: call.method,
      [ATTR.NETWORK_TRANSPORT]: call.requestInfo || call.http ? 'tcp' : 'pipe',
    };
    // An unknown tool or prompt (-32602) is a name the client made up: keep it off the metric's labels.
    const known = end.statusCode !== '-32602';
    const name = (call.params as { name?: unknown } | undefined)?.name;
    if (call.method === 'tools/call') {
      attributes[ATTR.OPERATION] = 'execute_tool';
      if (typeof name === 'string' && known) attributes[ATTR.TOOL] = metricTarget(name);
    } else if (call.method === 'prompts/get' && typeof name === 'string' && known) {
      attributes[ATTR.PROMPT] = metricTarget(name);
    }
    const version =
      call.method === 'initialize'
        ? (answer?.result as { protocolVersion?: unknown } | undefined)?.protocolVersion
        : protocolVersionOf(call);
    if (typeof version === 'string') attributes[ATTR.PROTOCOL_VERSION] = version;
    if (end.errorType !== undefined) attributes[ATTR.ERROR_TYPE] = end.errorType;
    if (end.statusCode !== undefined) attributes[ATTR.RPC_STATUS] = end.statusCode;
    inst.operation.record((performance.now() - call.startedAt) / 1000, attributes);
  }

  return {
    name: 'tracing-otel',
    http,
    rpc,
    recordStoreFailure(event: StoreFailure = {}) {
      const attributes: Attributes = {};
      if (typeof event.policy === 'string') attributes[ATTR.STORE_POLICY] = event.policy.slice(0, 64);
      if (typeof event.outcome === 'string') attributes[ATTR.STORE_OUTCOME] = event.outcome.slice(0, 16);
      liveInstruments()?.storeFailures.add(
        `${attributes[ATTR.STORE_POLICY] ?? ''}\u0000${attributes[ATTR.STORE_OUTCOME] ?? ''}`,
        () => attributes,
      );
      trace.getActiveSpan()?.addEvent('mcp_middleware.store.failure', attributes);
    },
    async close() {
      const now = performance.now();
      for (const [id, record] of [...sessions]) endSession(id, record, now);
      // The handler closes on shutdown, and the process often exits right after (health's drain does): export
      // what is buffered now, within a bound.
      const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
      const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
      await flush([delegateOf(tracerProvider), meterProvider], FLUSH_TIMEOUT_MS);
    },
  };
}
