import {
  callOf,
  createKey,
  type HttpContext,
  type Middleware,
  MiddlewareError,
  type RpcCall,
  type RpcResult,
  TRACE_IDS,
  type TraceIds,
} from '@mcp-middleware/core';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  LoggingLevel,
  RequestId,
  RequestInfo,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import pino, { type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import {
  decideClientLog,
  LOGGING_LEVELS,
  type LoggingServer,
  lowLevelServer,
  PINO_LEVEL,
  sessionFilter,
} from './client-log.js';
import { callSourceOf, type ToolExtraOrContext } from './client-log-v2.js';
import { guardLogger } from './guard.js';
import { directLines, type HttpFields, type LineLevel, type RpcFields, type WriteLine } from './line.js';
import {
  type CallOutcome,
  type ClassifiedCall,
  classifyResult,
  classifyThrown,
  parseTraceparent,
} from './outcome.js';
import { compileRedactPaths, field, MAX_FIELD, type RedactPath, redact, scrubText } from './redact.js';
import { TurnWriter } from './turn-writer.js';

export interface JsonLoggerOptions {
  /**
   * Your own pino logger. Lines go wherever it writes, at its level. Give either this or `destination`/`level`.
   * @default a pino logger writing to `destination` at `level`
   */
  logger?: Logger;
  /**
   * Where lines go when no `logger` is given: a file descriptor, a file path (appended to, its directory made if
   * missing, closed by `close()`), or a pino destination stream. Keep stdout (1) for HTTP-only servers: on a stdio
   * server stdout carries the protocol.
   * @default 2 (stderr)
   */
  destination?: number | string | DestinationStream;
  /**
   * With a descriptor or path `destination`: lines made in one turn of the event loop are written together at the
   * end of the turn, one system call for many lines under load. They are written on `close()` and, synchronously,
   * when the process exits (an uncaught exception included); only a hard kill (SIGKILL, a crash of Node itself)
   * within the turn loses them. `false`: one write per line, as it is made. Streams and loggers you pass in are
   * written to as they are.
   * @default true
   */
  batchLines?: boolean;
  /** The least severe level written when no `logger` is given. @default 'info' */
  level?: LevelWithSilent;
  /** Put each `tools/call`'s arguments (redacted) on its call line. @default false */
  logArguments?: boolean;
  /**
   * Dot paths redacted in logged arguments and in the fields a tool logs, e.g. `'card.number'`, `'users.*.ssn'`
   * (`*` matches any key). Credentials (Authorization, Cookie, API keys, any `token`/`secret`/`password` key) are
   * always redacted.
   * @default []
   */
  redact?: readonly string[];
  /**
   * @deprecated No effect since core's call context (`callOf`) replaced the lookup table; still validated, and
   * removed in the next major version.
   */
  maxTrackedCalls?: number;
}

/** The part of a tool's `extra` (the SDK's `RequestHandlerExtra`) a call logger needs. */
export type ToolExtra = Pick<
  RequestHandlerExtra<ServerRequest, ServerNotification>,
  'requestId' | 'sessionId' | 'requestInfo' | '_meta' | 'sendNotification' | 'authInfo'
>;

/** Extra fields a tool attaches to one log message. Credentials in them are redacted. */
export type LogFields = Record<string, unknown>;

/**
 * A logger bound to one call: each message becomes a JSON line carrying the call's ids and, when the client asked
 * for log messages at that level, a `notifications/message` to the client. The returned promise settles once both
 * are done and never rejects: logging never fails a tool.
 */
export interface CallLogger {
  /** The correlation id: the HTTP request's `x-request-id` (validated or generated), or one made for this call. */
  readonly requestId: string | undefined;
  /** The W3C trace id from `traceparent` (the request's `_meta` or the HTTP header), if one came. */
  readonly traceId: string | undefined;
  log(level: LoggingLevel, message: string, fields?: LogFields): Promise<void>;
  debug(message: string, fields?: LogFields): Promise<void>;
  info(message: string, fields?: LogFields): Promise<void>;
  notice(message: string, fields?: LogFields): Promise<void>;
  warning(message: string, fields?: LogFields): Promise<void>;
  error(message: string, fields?: LogFields): Promise<void>;
  critical(message: string, fields?: LogFields): Promise<void>;
  alert(message: string, fields?: LogFields): Promise<void>;
  emergency(message: string, fields?: LogFields): Promise<void>;
}

export interface JsonLogger extends Middleware {
  readonly name: 'json-logger';
  /**
   * A pino logger writing where the middleware writes, for your own lines (an `onError` hook, say). Everything
   * logged through it, and its children, is redacted like the middleware's own lines: credential keys, `Bearer …`
   * and `password=…` in messages, errors with their stacks and causes, strings capped.
   */
  readonly logger: Logger;
  /**
   * A logger bound to the call a tool is handling. Pass the tool's `extra` (SDK v1) or `ctx` (SDK v2) and the
   * server the tool is registered on. What reaches the client: on 2025 requests the level from
   * `logging/setLevel` (or one in the request's `_meta`); on 2026-07-28 requests only the request's own `_meta`
   * log level, and nothing without one.
   */
  forCall(extra: ToolExtraOrContext, server: LoggingServer): CallLogger;
  /** Flushes the logger and forgets tracked calls. */
  close(): Promise<void>;
}

/** What the RPC layer knows about a call in flight, for `forCall` to find. */
interface CallEntry {
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
  readonly method: string | undefined;
  readonly tool: string | undefined;
  readonly rpcId: RequestId;
  readonly clientId: string | undefined;
  readonly sessionId: string | undefined;
  /** The call, whose state holds the ids of its span when a tracing middleware made one (core's `TRACE_IDS`). */
  readonly call?: Pick<RpcCall, 'get'>;
}

/** The ids of the active span, when a tracing middleware put them in the state: `trace_id` and `span_id` on lines. */
function spanIds(ctx: Pick<HttpContext, 'get'>): TraceIds | undefined {
  return ctx.get(TRACE_IDS);
}

/** The same for a call, read with `call.get()`: reading `call.state` would make a map for every call that has none. */
function callSpanIds(call: Pick<RpcCall, 'get'> | undefined): TraceIds | undefined {
  return call?.get(TRACE_IDS);
}

/** `trace_id` and `span_id` of the active span, as bindings of a call's logger. */
function spanFields(call: Pick<RpcCall, 'get'> | undefined): Record<string, string> {
  const ids = callSpanIds(call);
  return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

function header(info: RequestInfo | undefined, name: string): string | undefined {
  const value = info?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isPinoLogger(value: unknown): value is Logger {
  const v = value as Partial<Logger> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.info === 'function' &&
    typeof v.child === 'function' &&
    typeof v.isLevelEnabled === 'function'
  );
}

/** Aborted by the client (it went away mid-upload or mid-stream): the client's doing, not a server fault. */
function httpLevel(status: number, aborted: boolean): LineLevel {
  if (aborted) return 'info';
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

function rpcLevel(outcome: CallOutcome, errorCode: number | undefined): LineLevel {
  if (outcome === 'ok' || outcome === 'cancelled') return 'info';
  return errorCode === -32603 ? 'error' : 'warn';
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The `error="…"` of a `WWW-Authenticate` challenge: why auth failed, with no credential in it. */
function authErrorOf(response: Response): string | undefined {
  const challenge = response.headers.get('www-authenticate');
  const match = challenge ? /\berror="([^"]{1,64})"/.exec(challenge) : null;
  return match?.[1];
}

/** The trace context of a call: `_meta.traceparent` (per message, so stdio has one too) before the HTTP header. */
function traceOf(call: RpcCall) {
  const meta = (call.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  return parseTraceparent(meta?.['traceparent']) ?? parseTraceparent(call.header('traceparent'));
}

/**
 * Structured JSON logs for an MCP server: one line per HTTP request and one per JSON-RPC call, with credentials
 * redacted, written with pino to stderr by default; and `forCall(extra, server)`, a logger bound to a call that
 * writes the same kind of line and sends `notifications/message` to the client at the level it asked for.
 * Put it first in the middleware list so its lines include what the others refused.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): JsonLogger {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('jsonLogger: options must be an object');
  }
  if (options.logger !== undefined) {
    if (!isPinoLogger(options.logger)) throw new TypeError('jsonLogger: logger must be a pino logger');
    if (options.destination !== undefined || options.level !== undefined) {
      throw new TypeError(
        'jsonLogger: give either logger, or destination/level for a logger made here, not both',
      );
    }
  }
  const destination = options.destination ?? 2;
  if (
    typeof destination === 'number'
      ? !Number.isInteger(destination) || destination < 0
      : typeof destination === 'string'
        ? destination.trim() === ''
        : typeof (destination as { write?: unknown })?.write !== 'function'
  ) {
    throw new TypeError(
      'jsonLogger: destination must be a file descriptor number, a file path or a stream with write()',
    );
  }
  const level = options.level ?? 'info';
  if (level !== 'silent' && !Object.hasOwn(pino.levels.values, level)) {
    throw new TypeError(
      `jsonLogger: level must be one of ${Object.keys(pino.levels.values).join(', ')}, silent; got ${String(level)}`,
    );
  }
  const logArguments = options.logArguments ?? false;
  if (typeof logArguments !== 'boolean') throw new TypeError('jsonLogger: logArguments must be a boolean');
  const paths: readonly RedactPath[] = compileRedactPaths(options.redact ?? [], 'jsonLogger: redact');
  const maxTrackedCalls = options.maxTrackedCalls ?? 10_000;
  if (!Number.isInteger(maxTrackedCalls) || maxTrackedCalls < 1) {
    throw new TypeError(`jsonLogger: maxTrackedCalls must be a whole number >= 1, got ${maxTrackedCalls}`);
  }

  const batchLines = options.batchLines ?? true;
  if (typeof batchLines !== 'boolean') throw new TypeError('jsonLogger: batchLines must be a boolean');

  // A file named by path is ours to close; descriptors and streams belong to the caller.
  const file =
    options.logger === undefined && typeof destination === 'string'
      ? pino.destination({ dest: destination, sync: true, mkdir: true })
      : undefined;
  const own =
    file ??
    (options.logger === undefined && typeof destination === 'number'
      ? pino.destination({ fd: destination, sync: true })
      : undefined);
  const base: Logger =
    options.logger ??
    pino({ level }, own ? (batchLines ? new TurnWriter(own) : own) : (destination as DestinationStream));

  let closed = false;
  // Each call's entry, for forCall: the tool finds it through core's call context (`callOf(extra)`).
  const ENTRY = createKey<CallEntry>('logging-json/call');
  const lookup = (extra: ToolExtraOrContext): CallEntry | undefined => callOf(extra)?.get(ENTRY);

  // Lines the middleware writes go straight to `base` (their fields are bounded and scrubbed here, field by field);
  // the logger handed to users redacts whatever it is given.
  const logger = guardLogger(base, paths);
  // A logger made here writes the middleware's two lines itself, byte for byte as pino would (see line.ts); a
  // logger of the user's own gets them as objects, through its serializers, formatters, hooks and transports.
  const write: WriteLine =
    (options.logger === undefined ? directLines(base) : undefined) ??
    ((lvl, line) => base[lvl](line, line.kind));

  function writeCall(call: RpcCall, entry: CallEntry, classified: ClassifiedCall): void {
    const lvl = rpcLevel(classified.outcome, classified.errorCode);
    if (!base.isLevelEnabled(lvl)) return;
    const line: RpcFields = {
      kind: 'rpc',
      method: entry.method,
      tool: entry.tool,
      rpcId: entry.rpcId,
      outcome: classified.outcome,
      durationMs: round(performance.now() - call.startedAt),
      clientId: entry.clientId,
      sessionId: entry.sessionId,
      requestId: entry.requestId,
      traceId: entry.traceId,
    };
    const ids = callSpanIds(call);
    if (ids) {
      line.trace_id = ids.traceId;
      line.span_id = ids.spanId;
    }
    if (classified.errorCode !== undefined) {
      line.errorCode = classified.errorCode;
      line.errorMessage = scrubText(classified.errorMessage ?? '');
    }
    if (logArguments && call.method === 'tools/call') {
      line.args = redact((call.params as { arguments?: unknown } | undefined)?.arguments, paths);
    }
    write(lvl, line);
  }

  /**
   * Builds a request's line as its response leaves the middleware and writes it once the response was sent (or the
   * client went away): SSE responses end long after their headers. The listener holds the line alone: one that held
   * the request, its context and its response counted 45-75 K instructions more per call, nearly all of it collection
   * work (docs/benchmarks.md, fifteenth pass).
   */
  function logWhenSent(req: Request, ctx: HttpContext, status: number, response: Response | undefined): void {
    // A client that goes away lowers the level to info, the least an HTTP line has: nothing to keep if this is off.
    if (closed || !base.isLevelEnabled(httpLevel(status, false))) return;
    const userAgent = req.headers.get('user-agent');
    const startedAt = ctx.startedAt;
    const line: HttpFields = {
      kind: 'http',
      method: field(req.method),
      // The path only: a query string may carry a token.
      path: field(ctx.path),
      status,
      durationMs: 0,
      client: ctx.clientAddress,
      requestId: field(ctx.requestId),
      sessionId: field(ctx.sessionId ?? response?.headers.get('mcp-session-id') ?? undefined),
      clientId: field(ctx.authInfo?.clientId),
      traceId: parseTraceparent(req.headers.get('traceparent'))?.traceId,
      userAgent: userAgent ? scrubText(userAgent, MAX_FIELD) : undefined,
    };
    const ids = spanIds(ctx);
    if (ids) {
      line.trace_id = ids.traceId;
      line.span_id = ids.spanId;
    }
    if (response && (status === 401 || status === 403)) line.authError = authErrorOf(response);
    ctx.onResponseSent((aborted) => {
      const lvl = httpLevel(status, aborted);
      // A stream that ends after close() (an SSE GET cut by the shutdown) has nowhere to log to any more.
      if (closed || !base.isLevelEnabled(lvl)) return;
      line.durationMs = round(performance.now() - startedAt);
      if (aborted) line.aborted = true;
      write(lvl, line);
    });
  }

  function forCall(extraOrCtx: ToolExtraOrContext, server: LoggingServer): CallLogger {
    const source = callSourceOf(extraOrCtx);
    if (source === undefined) {
      throw new TypeError("jsonLogger.forCall: pass the handler's `extra` (SDK v1) or `ctx` (SDK v2)");
    }
    if (typeof server !== 'object' || server === null) {
      throw new TypeError('jsonLogger.forCall: pass the McpServer (or Server) the handler is registered on');
    }
    const { extra } = source;
    // Without the RPC layer (or after a middleware answered early) only what `extra` carries is known.
    const entry: CallEntry = lookup(extraOrCtx) ?? {
      requestId: undefined,
      traceId: parseTraceparent(extra._meta?.['traceparent'])?.traceId,
      method: undefined,
      tool: undefined,
      rpcId: field(extra.requestId),
      clientId: extra.authInfo?.clientId,
      sessionId: extra.sessionId,
    };
    // Bound fields are serialised once, here, not per message.
    const bound = base.child({
      kind: 'tool',
      method: entry.method,
      tool: entry.tool,
      rpcId: entry.rpcId,
      clientId: entry.clientId,
      sessionId: entry.sessionId,
      requestId: entry.requestId,
      traceId: entry.traceId,
      ...spanFields(entry.call),
    });
    const low = lowLevelServer(server);
    // The key the SDK's logging/setLevel handler stores the session's level under.
    const sessionKey = extra.sessionId || header(extra.requestInfo, 'mcp-session-id') || undefined;
    const filter = sessionFilter(low, sessionKey);

    const toClient = async (level: LoggingLevel, message: string, fields: LogFields | undefined) => {
      const params = {
        level,
        ...(entry.tool === undefined ? {} : { logger: entry.tool }),
        data: fields === undefined ? message : { message, ...fields },
      };
      try {
        if (!filter && !source.perRequestEra) {
          // An SDK without the internals read above: its public method still applies the session's level.
          await low.sendLoggingMessage(params, sessionKey);
          return;
        }
        const decision = decideClientLog(level, {
          declared: filter?.declared ?? true,
          requestLevel: source.requestLevel,
          sessionIgnores: filter?.ignores(level) ?? false,
          perRequestEra: source.perRequestEra,
        });
        if (decision.ok) await extra.sendNotification({ method: 'notifications/message', params });
      } catch {
        // The client went away or the transport failed: a log message must not fail the tool.
      }
    };

    const log = (level: LoggingLevel, message: string, fields?: LogFields): Promise<void> => {
      const text = scrubText(String(message));
      const safe = fields === undefined ? undefined : (redact(fields, paths) as LogFields);
      const pinoLevel = PINO_LEVEL[level] ?? 'info';
      if (bound.isLevelEnabled(pinoLevel)) {
        bound[pinoLevel](safe === undefined ? { mcpLevel: level } : { mcpLevel: level, data: safe }, text);
      }
      return toClient(level, text, safe);
    };

    const callLogger = { requestId: entry.requestId, traceId: entry.traceId, log } as CallLogger;
    for (const level of LOGGING_LEVELS) {
      (callLogger as unknown as Record<string, unknown>)[level] = (message: string, fields?: LogFields) =>
        log(level, message, fields);
    }
    return callLogger;
  }

  return {
    name: 'json-logger',
    logger,
    forCall,

    async http(req, ctx, next) {
      let response: Response;
      try {
        response = await next();
      } catch (error) {
        // The handler turns this into a response after us: log the status it will send, once it was sent (or the
        // client went away, as one that aborts an upload does).
        logWhenSent(req, ctx, MiddlewareError.is(error) ? error.status : 500, undefined);
        throw error;
      }
      // Core tells when the response was sent, from the adapter's own event; the response is passed on untouched.
      logWhenSent(req, ctx, response.status, response);
      return response;
    },

    async rpc(call, next) {
      // Every field a client can choose is capped: a 900 KB method name must not become a 900 KB line.
      const entry: CallEntry = {
        requestId: field(call.http?.requestId) ?? crypto.randomUUID(),
        traceId: traceOf(call)?.traceId,
        method: field(call.method),
        tool: field(call.toolName),
        rpcId: field(call.id),
        clientId: field(call.authInfo?.clientId),
        sessionId: field(call.sessionId),
        call,
      };
      call.set(ENTRY, entry);
      let answer: RpcResult;
      try {
        answer = await next();
      } catch (error) {
        writeCall(call, entry, classifyThrown(error));
        throw error;
      }
      writeCall(call, entry, classifyResult(answer, call.cancelled));
      return answer;
    },

    async close() {
      closed = true;
      // A destination that never calls back must not hold up shutdown.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        timer.unref?.();
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        try {
          base.flush(done);
        } catch {
          done();
        }
      });
      file?.end();
    },
  };
}
