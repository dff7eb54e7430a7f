import { tracingChannel } from 'node:diagnostics_channel';
import {
  type HttpContext,
  MiddlewareError,
  type RpcCall,
  type RpcResult,
  TRACE_IDS,
} from '@mcp-middleware/core';
import { testRpcCall } from '@mcp-middleware/core/testing';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from './json-logger.js';
import { directLines, type HttpFields, type LineLevel, pinoString, type RpcFields } from './line.js';
import { capture } from './test-fixtures.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Both clocks a line reads, pinned: pino's `time` (Date.now) and the duration (performance.now). */
function pinClocks(now = 1_767_225_600_123, elapsed = 12.3456) {
  vi.spyOn(Date, 'now').mockReturnValue(now);
  vi.spyOn(performance, 'now').mockReturnValue(elapsed);
}

/** Strings that need every kind of care: quotes, backslashes, control characters, unicode, lone surrogates. */
const AWKWARD = [
  '',
  'plain',
  'say "hi"',
  'back\\slash \\" both',
  'tab\there, newline\n, nul\u0000, bell\u0007, unit separator\u001f, del\u007f',
  'line separator\u2028 paragraph separator\u2029',
  'é ü 中文 😀',
  'lone high \ud800 here',
  'lone low \udc00',
  '\udbff',
  `${'a'.repeat(99)}"`,
  `${'b'.repeat(101)}`,
  `${'long with lone surrogate '.repeat(5)}\ud83d`,
  `${'long with quotes " and \\ '.repeat(5)}`,
  `</script><!-- ${'x'.repeat(300)}`,
];

describe('pinoString', () => {
  it('escapes a string exactly as pino does, short or long, with lone surrogates kept as pino keeps them', () => {
    const out = capture();
    const logger = pino({ base: null, timestamp: false }, out.stream);
    for (const text of AWKWARD) logger.info({ s: text });
    expect(out.raw).toEqual(AWKWARD.map((text) => `{"level":30,"s":${pinoString(text)}}\n`));
  });

  it('matches pino on random strings of any code unit, any length', () => {
    // A fixed seed: the same strings every run.
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const units = [
      0, 1, 9, 10, 13, 31, 32, 34, 39, 47, 60, 92, 127, 128, 0x2028, 0xd800, 0xdbff, 0xdc00, 0xfffe,
    ];
    const texts: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 130);
      let text = '';
      for (let j = 0; j < length; j++) {
        text +=
          random() < 0.5
            ? String.fromCharCode(97 + Math.floor(random() * 26))
            : String.fromCharCode(units[Math.floor(random() * units.length)] ?? 0);
      }
      texts.push(text);
    }
    const out = capture();
    const logger = pino({ base: null, timestamp: false }, out.stream);
    for (const text of texts) logger.info({ s: text });
    expect(out.raw).toEqual(texts.map((text) => `{"level":30,"s":${pinoString(text)}}\n`));
  });
});

/** The line `directLines` writes and the one pino writes for the same fields, each to a destination of its own. */
function bothWays(options: LoggerOptions, level: LineLevel, fields: RpcFields | HttpFields) {
  const direct = capture();
  const viaPino = capture();
  const write = directLines(pino(options, direct.stream));
  expect(write, 'the direct writer').toBeDefined();
  write?.(level, fields);
  pino(options, viaPino.stream)[level](fields, fields.kind);
  return { direct: direct.raw, pino: viaPino.raw };
}

const RPC: RpcFields = {
  kind: 'rpc',
  method: 'tools/call',
  tool: 'echo',
  rpcId: 7,
  outcome: 'ok',
  durationMs: 0.123,
  clientId: 'client-42',
  sessionId: 'b6a41f6b-39f1-4d91-b941-1f0354588cbb',
  requestId: '6f1c3a52-8a0e-4c1e-9a43-3f3c1d2b7e10',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

const HTTP: HttpFields = {
  kind: 'http',
  method: 'POST',
  path: '/mcp',
  status: 200,
  durationMs: 1.5,
  client: '127.0.0.1',
  requestId: 'req-1',
  sessionId: undefined,
  clientId: undefined,
  traceId: undefined,
  userAgent: 'node',
};

describe('directLines', () => {
  it('writes the bytes pino writes with its default options (time, pid, hostname, newline)', () => {
    pinClocks();
    const { direct, pino: expected } = bothWays({}, 'info', RPC);
    expect(direct).toEqual(expected);
    expect(direct[0]).toMatch(/^\{"level":30,"time":1767225600123,"pid":\d+,"hostname":".*","kind":"rpc",/);
  });

  it('matches pino for every value a field can hold, optional fields present or absent', () => {
    pinClocks();
    const variants: Array<[LineLevel, RpcFields | HttpFields]> = [];
    for (const text of AWKWARD) {
      variants.push([
        'warn',
        { ...RPC, method: text, tool: text, rpcId: text, errorCode: -32000, errorMessage: text },
      ]);
      variants.push([
        'error',
        { ...HTTP, method: text, path: text, client: text, userAgent: text, authError: text },
      ]);
    }
    const numbers = [
      0,
      -0,
      1,
      -1,
      1.5,
      -2.75e-7,
      1e21,
      2 ** 53 + 2,
      Number.MAX_VALUE,
      Number.NaN,
      Infinity,
      -Infinity,
    ];
    for (const n of numbers) {
      variants.push(['info', { ...RPC, rpcId: n, durationMs: n, errorCode: n }]);
      variants.push(['info', { ...HTTP, status: n, durationMs: n }]);
    }
    variants.push([
      'info',
      { ...RPC, method: undefined, tool: undefined, clientId: undefined, traceId: undefined },
    ]);
    variants.push(['info', { ...RPC, trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) }]);
    variants.push(['info', { ...RPC, trace_id: undefined, span_id: undefined, args: undefined }]);
    variants.push([
      'info',
      { ...HTTP, trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), authError: undefined },
    ]);
    variants.push(['info', { ...HTTP, aborted: true }]);
    const nested: unknown[] = [
      { text: 'hi "there"\n', n: 1.5, nan: Number.NaN, no: undefined, list: [1, 'two', null, undefined] },
      { deep: { er: { still: ['\u2028', '\ud800', 'é'] } }, when: new Date(0), big: 10n },
      [],
      {},
      null,
      'a string',
      42,
      true,
      10n,
      Symbol('not JSON'),
      () => 'not JSON',
      { toJSON: () => 'custom' },
      { toJSON: () => undefined },
    ];
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    nested.push(cyclic);
    for (const args of nested) variants.push(['info', { ...RPC, args }]);

    for (const [level, fields] of variants) {
      const { direct, pino: expected } = bothWays({}, level, fields);
      expect(direct).toEqual(expected);
    }
  });

  it('takes its head, end and message key from the logger, whatever they are', () => {
    pinClocks();
    const options: LoggerOptions[] = [
      { crlf: true },
      { timestamp: pino.stdTimeFunctions.isoTime },
      { timestamp: false },
      { base: { service: 'svc "x"', pid: 1 } },
      { base: null, name: 'named' },
      { messageKey: 'message' },
      { messageKey: 'odd "key\\' },
      { formatters: { level: (label) => ({ severity: label.toUpperCase() }) } },
      { customLevels: { audit: 35 } },
    ];
    for (const option of options) {
      const { direct, pino: expected } = bothWays(option, 'warn', { ...HTTP, status: 404 });
      expect(direct).toEqual(expected);
    }
  });

  it('leaves the lines to pino when pino would write something else', () => {
    const multistream = pino.multistream([{ stream: capture().stream }]);
    const loggers: Array<[string, Logger]> = [
      ['a mixin', pino({ mixin: () => ({ extra: 1 }) }, capture().stream)],
      [
        'a logMethod hook',
        pino({ hooks: { logMethod: (args, method) => method(...args) } }, capture().stream),
      ],
      ['a streamWrite hook', pino({ hooks: { streamWrite: (line) => line } }, capture().stream)],
      ['a log formatter', pino({ formatters: { log: (object) => object } }, capture().stream)],
      ['a serializer on a line key', pino({ serializers: { tool: () => 'x' } }, capture().stream)],
      ['a serializer on the message key', pino({ serializers: { msg: () => 'x' } }, capture().stream)],
      ['redaction of a line key', pino({ redact: ['clientId'] }, capture().stream)],
      ['a wildcard redaction', pino({ redact: ['*.secret'] }, capture().stream)],
      ['a nested key', pino({ nestedKey: 'payload' }, capture().stream)],
      ['a message prefix', pino({ msgPrefix: '[mcp] ' }, capture().stream)],
      ['an error key that is a line key', pino({ errorKey: 'args' }, capture().stream)],
      ['a stream that wants each line’s metadata', pino({}, multistream)],
    ];
    for (const [label, logger] of loggers) expect(directLines(logger), label).toBeUndefined();
  });

  it('hands the line to pino while someone subscribes to pino’s asJson diagnostics channel', () => {
    pinClocks();
    const seen: unknown[] = [];
    const handlers = {
      start: (message: unknown) => void seen.push((message as { arguments: unknown[] }).arguments[0]),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: () => {},
      error: () => {},
    };
    const channel = tracingChannel('pino_asJson');
    channel.subscribe(handlers);
    try {
      const { direct, pino: expected } = bothWays({}, 'info', RPC);
      expect(direct).toEqual(expected);
      // The subscriber saw the direct writer's line too, not only pino's own.
      expect(seen).toEqual([RPC, RPC]);
    } finally {
      channel.unsubscribe(handlers);
    }
  });
});

/** A `tools/call` as core hands it to RPC middleware. */
function makeCall(over: Partial<RpcCall> = {}): RpcCall {
  return testRpcCall({
    id: 7,
    params: { name: 'echo', arguments: { text: 'hi' } },
    authInfo: { token: 'opaque-token-value', clientId: 'client-42', scopes: [] },
    sessionId: 'b6a41f6b-39f1-4d91-b941-1f0354588cbb',
    requestInfo: { headers: {} },
    http: { requestId: '6f1c3a52-8a0e-4c1e-9a43-3f3c1d2b7e10' } as HttpContext,
    startedAt: 10,
    ...over,
  });
}

interface HttpCase {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  ctx?: Partial<HttpContext>;
  /** The response `next()` gives, or what it throws. */
  status?: number;
  responseHeaders?: Record<string, string>;
  throws?: unknown;
  aborted?: boolean;
}

const headersOf = (values: Record<string, string> = {}) => ({
  get: (name: string) => values[name] ?? null,
});

/** Runs one HTTP request through the middleware's http layer and reports its end. */
async function runHttp(log: ReturnType<typeof jsonLogger>, c: HttpCase): Promise<void> {
  let sent: ((aborted: boolean) => void) | undefined;
  const ctx = {
    url: { pathname: c.path ?? '/mcp' },
    clientAddress: '127.0.0.1',
    requestId: 'req-1',
    authInfo: undefined,
    sessionId: undefined,
    state: new Map(),
    startedAt: 10,
    onResponseSent: (listener: (aborted: boolean) => void) => {
      sent = listener;
    },
    ...c.ctx,
    get(this: { state: Map<symbol, unknown> }, key: symbol) {
      return this.state.get(key);
    },
  } as unknown as HttpContext;
  const req = { method: c.method ?? 'POST', headers: headersOf(c.headers) } as unknown as Request;
  const next = async () => {
    if (c.throws !== undefined) throw c.throws;
    return { status: c.status ?? 200, headers: headersOf(c.responseHeaders) } as unknown as Response;
  };
  await log.http?.(req, ctx, next).catch(() => undefined);
  sent?.(c.aborted ?? false);
}

describe('jsonLogger’s own lines', () => {
  const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('are byte for byte what pino writes for the same calls and requests', async () => {
    pinClocks();
    const direct = capture();
    const viaPino = capture();
    const options = { logArguments: true, redact: ['card.number'] };
    // A logger made here writes the lines itself; one of the caller's own gets them through pino.
    const mine = jsonLogger({ ...options, destination: direct.stream, level: 'debug' });
    const theirs = jsonLogger({ ...options, logger: pino({ level: 'debug' }, viaPino.stream) });
    // Proof that the lines did not go through pino's level methods on the logger made here.
    const base = Object.getPrototypeOf(mine.logger) as Logger;
    const pinoCalls = ['info', 'warn', 'error'].map((level) => vi.spyOn(base, level as LineLevel));

    const calls: Array<[RpcCall, () => Promise<RpcResult>]> = [];
    const ok = async (): Promise<RpcResult> => ({ result: { content: [] } });
    for (const text of AWKWARD) {
      calls.push([
        makeCall({
          id: text,
          method: text,
          toolName: text,
          sessionId: text,
          authInfo: { token: 't', clientId: text, scopes: [] },
          http: { requestId: text } as HttpContext,
          params: { name: text, arguments: { text, nested: { card: { number: '4111' } } } },
        }),
        async () => ({ error: { code: -32603, message: `failed: ${text} Bearer abc.def password=hunter2` } }),
      ]);
    }
    for (const id of [0, -1, 1.5, -2.75e-7, 1e21, Number.NaN, Infinity]) {
      calls.push([makeCall({ id }), ok]);
      calls.push([makeCall({ id, startedAt: id }), ok]);
    }
    const withSpan = makeCall({ requestInfo: { headers: { traceparent: TRACEPARENT } } });
    withSpan.state.set(TRACE_IDS, { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16) });
    calls.push([withSpan, ok]);
    const emptySpan = makeCall();
    emptySpan.state.set(TRACE_IDS, {});
    calls.push([emptySpan, ok]);
    calls.push([
      makeCall({ params: { name: 'echo', arguments: { x: 1 }, _meta: { traceparent: TRACEPARENT } } }),
      ok,
    ]);
    calls.push([makeCall({ params: { name: 'echo' } }), ok]);
    calls.push([makeCall({ params: { name: 'echo', arguments: 'not an object' as never } }), ok]);
    calls.push([makeCall({ method: 'tools/list', toolName: undefined, params: {} }), ok]);
    calls.push([makeCall({ authInfo: undefined, sessionId: undefined }), ok]);
    calls.push([makeCall(), async () => ({ result: { content: [], isError: true } })]);
    calls.push([makeCall(), async () => ({ error: { code: -32003, message: 'Forbidden' } })]);
    calls.push([makeCall(), async () => ({ error: { code: -32001, message: 'Request timed out' } })]);
    calls.push([
      makeCall({ cancelled: true }),
      async () => ({ error: { code: -32001, message: 'Request cancelled', data: { reason: 'cancelled' } } }),
    ]);
    calls.push([
      makeCall(),
      async () => {
        throw new MiddlewareError('rate_limited', 'Too many requests "now"');
      },
    ]);
    calls.push([
      makeCall(),
      async () => {
        throw new Error('secret internals');
      },
    ]);

    const requests: HttpCase[] = [
      {},
      { headers: { traceparent: TRACEPARENT, 'user-agent': 'curl/8.5 "quoted" \\ é' } },
      { headers: { 'user-agent': `ua ${'y'.repeat(400)}` } },
      { status: 202, responseHeaders: { 'mcp-session-id': 'from-response' } },
      { status: 401, responseHeaders: { 'www-authenticate': 'Bearer error="invalid_token\\x", realm="r"' } },
      { status: 403 },
      { status: 404, ctx: { clientAddress: undefined } },
      { throws: new MiddlewareError('payload_too_large', 'too big') },
      { throws: new Error('boom') },
      { aborted: true },
      { ctx: { state: new Map([[TRACE_IDS, { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16) }]]) } },
      { ctx: { startedAt: Number.NaN } },
      {
        ctx: {
          sessionId: 'session-1',
          authInfo: { token: 't', clientId: 'client "7"', scopes: [] },
          requestId: 'req \u2028 x',
        },
      },
    ];
    for (const text of AWKWARD) {
      requests.push({
        method: text,
        path: text,
        headers: { 'user-agent': text },
        ctx: { clientAddress: text },
      });
    }

    for (const log of [mine, theirs]) {
      for (const [call, next] of calls) await log.rpc?.(call, next).catch(() => undefined);
      for (const request of requests) await runHttp(log, request);
    }
    expect(direct.raw).toHaveLength(calls.length + requests.length);
    expect(direct.raw).toEqual(viaPino.raw);
    for (const spy of pinoCalls) expect(spy).not.toHaveBeenCalled();
    // The secrets in arguments, error messages and auth info stayed out, as before.
    const text = direct.raw.join('');
    for (const secret of ['4111', 'hunter2', 'abc.def', 'opaque-token-value', 'secret internals']) {
      expect(text).not.toContain(secret);
    }
  });

  it('read a call’s span ids with call.get(), so a call nobody stored anything in gets no state map', async () => {
    const out = capture();
    const log = jsonLogger({ destination: out.stream, level: 'info' });
    const plain = makeCall();
    Object.defineProperty(plain, 'state', {
      get: () => {
        throw new Error('call.state was read');
      },
    });
    await log.rpc?.(plain, async () => ({ result: { content: [] } }));
    const traced = makeCall();
    traced.set(TRACE_IDS, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    await log.rpc?.(traced, async () => ({ result: { content: [] } }));
    expect(out.lines().map((l) => [l['kind'], l['trace_id'], l['span_id']])).toEqual([
      ['rpc', undefined, undefined],
      ['rpc', 'a'.repeat(32), 'b'.repeat(16)],
    ]);
  });

  it('follow the level the logger was made with', async () => {
    const out = capture();
    const log = jsonLogger({ destination: out.stream, level: 'warn' });
    await log.rpc?.(makeCall(), async () => ({ result: { content: [] } }));
    await log.rpc?.(makeCall(), async () => ({ error: { code: -32603, message: 'Internal error' } }));
    await runHttp(log, {});
    await runHttp(log, { status: 404 });
    expect(out.lines().map((l) => [l['kind'], l['level']])).toEqual([
      ['rpc', 50],
      ['http', 40],
    ]);
  });
});
