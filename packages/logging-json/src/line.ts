import { tracingChannel } from 'node:diagnostics_channel';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import pino, { type Logger } from 'pino';
import type { CallOutcome } from './outcome.js';

// The middleware's own two lines, `kind: "rpc"` and `kind: "http"`, written straight to the destination of the
// logger jsonLogger made instead of through `logger.info(fields, msg)`: pino's generic serializer (hooks, mixin,
// serializer and stringifier look-ups for every key, every key escaped) is the dominant cost of a line, and these
// two shapes are fixed. The bytes are pino's own: the level/time/pid/hostname head and the end come from the logger,
// strings are escaped by a copy of pino's `asString`, nested values go through pino's own `stringify`. Anything that
// would make pino write something else (a mixin, hooks, a log formatter, serializers or redaction on these keys, a
// nested key, a message prefix, a stream that wants metadata, a subscriber to pino's `asJson` diagnostics channel)
// keeps the lines on pino.

/** The levels the middleware's lines use. */
export type LineLevel = 'info' | 'warn' | 'error';

/**
 * One JSON-RPC call, built by jsonLogger in this order and written in it, `undefined` values left out (as pino leaves
 * them out). A logger of the caller's own gets this object as it is.
 */
export interface RpcFields {
  readonly kind: 'rpc';
  readonly method: string | undefined;
  readonly tool: string | undefined;
  readonly rpcId: RequestId;
  readonly outcome: CallOutcome;
  readonly durationMs: number;
  readonly clientId: string | undefined;
  readonly sessionId: string | undefined;
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
  trace_id?: string;
  span_id?: string;
  errorCode?: number;
  errorMessage?: string;
  args?: unknown;
}

/**
 * One HTTP request, built by jsonLogger in this order and written in it, `undefined` values left out (as pino leaves
 * them out). A logger of the caller's own gets this object as it is.
 */
export interface HttpFields {
  readonly kind: 'http';
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Set when the response was sent. */
  durationMs: number;
  readonly client: string | undefined;
  readonly requestId: string;
  readonly sessionId: string | undefined;
  readonly clientId: string | undefined;
  readonly traceId: string | undefined;
  readonly userAgent: string | undefined;
  trace_id?: string;
  span_id?: string;
  authError?: string | undefined;
  aborted?: true;
}

export type LineFields = RpcFields | HttpFields;

/** Writes one line of the middleware's own, at a level the caller already checked is enabled. */
export type WriteLine = (level: LineLevel, fields: LineFields) => void;

/** Every key a line can carry after `kind`, in the order jsonLogger builds them (and the writers below write them). */
const RPC_NAMES = [
  'method',
  'tool',
  'rpcId',
  'outcome',
  'durationMs',
  'clientId',
  'sessionId',
  'requestId',
  'traceId',
  'trace_id',
  'span_id',
  'errorCode',
  'errorMessage',
  'args',
] as const satisfies readonly (keyof RpcFields)[];
const HTTP_NAMES = [
  'method',
  'path',
  'status',
  'durationMs',
  'client',
  'requestId',
  'sessionId',
  'clientId',
  'traceId',
  'userAgent',
  'trace_id',
  'span_id',
  'authError',
  'aborted',
] as const satisfies readonly (keyof HttpFields)[];

/** Every key the two lines can carry, and the message key: none may have a serializer or stringifier of its own. */
const KEYS: readonly string[] = ['kind', ...new Set<string>([...RPC_NAMES, ...HTTP_NAMES])];

/** Where pino's `stream.write()` goes, and whether it asks for the line's level and object first (multistream). */
interface Stream {
  write(line: string): void;
  [key: symbol]: unknown;
}

/** The pieces of a pino logger that make its lines, read once; undefined when its lines are not plain. */
interface Pieces {
  readonly stream: Stream;
  readonly time: () => string;
  readonly chindings: string;
  readonly heads: Readonly<Record<LineLevel, string>>;
  readonly tails: Readonly<Record<LineFields['kind'], string>>;
  readonly stringify: (value: unknown) => string | undefined;
}

/**
 * A string as pino writes it (a copy of its `asString`): `JSON.stringify` for a string over 100 characters or with a
 * control character; otherwise quoted with only `"` and `\` escaped (so a lone surrogate stays as it is, where
 * `JSON.stringify` would write `\udXXX`).
 */
export function pinoString(text: string): string {
  if (text.length > 100) return JSON.stringify(text);
  let quotes = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 32) return JSON.stringify(text);
    if (code === 34 || code === 92) quotes = true;
  }
  return quotes ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
}

function piecesOf(logger: Logger): Pieces | undefined {
  const symbols = pino.symbols as unknown as Readonly<Record<string, symbol | undefined>>;
  const own = logger as unknown as Record<symbol, unknown>;
  const read = (name: string): unknown => {
    const key = symbols[name];
    if (typeof key !== 'symbol') throw new Error(`pino has no ${name}`);
    return own[key];
  };
  try {
    const stream = read('streamSym') as Stream | undefined;
    const hooks = read('hooksSym') as { logMethod?: unknown; streamWrite?: unknown } | undefined;
    const formatters = read('formattersSym') as { log?: unknown } | undefined;
    const serializers = read('serializersSym') as Record<string, unknown> | undefined;
    const stringifiers = read('stringifiersSym') as Record<string | symbol, unknown> | undefined;
    const wildcard = symbols['wildcardFirstSym'];
    const messageKey = read('messageKeySym');
    const errorKey = read('errorKeySym');
    const time = read('timeSym');
    const chindings = read('chindingsSym');
    const end = read('endSym');
    const cache = read('lsCacheSym') as Record<number, unknown> | undefined;
    const stringify = read('stringifySym');
    const stringifySafe = read('stringifySafeSym');
    if (
      typeof stream?.write !== 'function' ||
      stream[Symbol.for('pino.metadata')] === true ||
      read('mixinSym') ||
      !hooks ||
      hooks.logMethod ||
      hooks.streamWrite ||
      !formatters ||
      formatters.log ||
      read('nestedKeySym') ||
      typeof read('msgPrefixSym') === 'string' ||
      !serializers ||
      !stringifiers ||
      typeof wildcard !== 'symbol' ||
      stringifiers[wildcard] ||
      typeof messageKey !== 'string' ||
      typeof time !== 'function' ||
      typeof chindings !== 'string' ||
      typeof end !== 'string' ||
      typeof cache !== 'object' ||
      cache === null ||
      typeof stringify !== 'function' ||
      typeof stringifySafe !== 'function'
    ) {
      return undefined;
    }
    for (const key of [...KEYS, messageKey]) {
      if (serializers[key] || stringifiers[key] || (key === errorKey && serializers['err'])) return undefined;
    }
    const head = (level: LineLevel) => cache[logger.levels.values[level] ?? Number.NaN];
    const heads = { info: head('info'), warn: head('warn'), error: head('error') };
    if (typeof heads.info !== 'string' || typeof heads.warn !== 'string' || typeof heads.error !== 'string') {
      return undefined;
    }
    // pino quotes the message key as it is, unescaped.
    const tail = (msg: string) => `,"${messageKey}":${pinoString(msg)}${end}`;
    return {
      stream,
      time: () => (time as (this: Logger) => string).call(logger),
      chindings,
      heads: heads as Record<LineLevel, string>,
      tails: { rpc: tail('rpc'), http: tail('http') },
      stringify: (value) =>
        (stringify as (value: unknown, safe: unknown) => string | undefined)(value, stringifySafe),
    };
  } catch {
    return undefined;
  }
}

/**
 * The line writer for a logger jsonLogger made, or undefined when that logger's lines are not plain (pino then
 * writes them). Level filtering stays with the caller (`logger.isLevelEnabled`).
 */
export function directLines(logger: Logger): WriteLine | undefined {
  const pieces = piecesOf(logger);
  if (pieces === undefined) return undefined;
  const { stream, time, chindings, heads, tails, stringify } = pieces;
  // pino traces each line's serialisation on this channel; a subscriber may look at (or change) the fields.
  const asJson = tracingChannel('pino_asJson');

  /** A value as pino's `asJson` writes it; undefined when pino leaves the key out. */
  const json = (value: unknown): string | undefined => {
    switch (typeof value) {
      case 'string':
        return pinoString(value);
      case 'number':
        return Number.isFinite(value) ? String(value) : 'null';
      case 'boolean':
        return String(value);
      case 'undefined':
      case 'function':
        return undefined;
      default:
        return stringify(value);
    }
  };
  /** `line` with `,"key":value` added, or as it was when pino leaves the key out. */
  const add = (line: string, prefix: string, value: unknown): string => {
    const text = json(value);
    return text === undefined ? line : line + prefix + text;
  };
  // One writer per shape, each field read by name: a loop over key names made every read a megamorphic keyed load.
  const rpcBody = (f: RpcFields): string => {
    let line = ',"kind":"rpc"';
    line = add(line, ',"method":', f.method);
    line = add(line, ',"tool":', f.tool);
    line = add(line, ',"rpcId":', f.rpcId);
    line = add(line, ',"outcome":', f.outcome);
    line = add(line, ',"durationMs":', f.durationMs);
    line = add(line, ',"clientId":', f.clientId);
    line = add(line, ',"sessionId":', f.sessionId);
    line = add(line, ',"requestId":', f.requestId);
    line = add(line, ',"traceId":', f.traceId);
    line = add(line, ',"trace_id":', f.trace_id);
    line = add(line, ',"span_id":', f.span_id);
    line = add(line, ',"errorCode":', f.errorCode);
    line = add(line, ',"errorMessage":', f.errorMessage);
    return add(line, ',"args":', f.args);
  };
  const httpBody = (f: HttpFields): string => {
    let line = ',"kind":"http"';
    line = add(line, ',"method":', f.method);
    line = add(line, ',"path":', f.path);
    line = add(line, ',"status":', f.status);
    line = add(line, ',"durationMs":', f.durationMs);
    line = add(line, ',"client":', f.client);
    line = add(line, ',"requestId":', f.requestId);
    line = add(line, ',"sessionId":', f.sessionId);
    line = add(line, ',"clientId":', f.clientId);
    line = add(line, ',"traceId":', f.traceId);
    line = add(line, ',"userAgent":', f.userAgent);
    line = add(line, ',"trace_id":', f.trace_id);
    line = add(line, ',"span_id":', f.span_id);
    line = add(line, ',"authError":', f.authError);
    return add(line, ',"aborted":', f.aborted);
  };

  return (level, fields) => {
    if (asJson.hasSubscribers !== false) {
      logger[level](fields, fields.kind);
      return;
    }
    const head = heads[level] + time() + chindings;
    stream.write(
      fields.kind === 'rpc' ? head + rpcBody(fields) + tails.rpc : head + httpBody(fields) + tails.http,
    );
  };
}
