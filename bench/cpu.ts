/**
 * Server CPU per call of each middleware, in-process: the handler's own work for a `tools/call` in a stateful
 * session, with no sockets and no load generator beside it, so the numbers hold on a busy machine far better than
 * throughput does. The adapter's hooks are given as Node's adapter gives them (body bytes, setHeader, onFinished).
 * Each arm runs in a process of its own (tracing arms register OpenTelemetry globally); arms take turns in short
 * batches over many rounds, one at a time, and each is reported as µs per call and against the first arm listed.
 *
 * `--alloc` adds what each arm allocates per call (V8's sampling heap profiler over one more batch, garbage
 * included): unlike time, it does not move with the machine's load, and garbage costs CPU in collections.
 *
 *   node --import tsx cpu.ts [--calls 2000] [--rounds 9] [--arms core,noop,...] [--alloc]
 */
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMiddlewareHandler, type FetchInfo, type Middleware } from '@mcp-middleware/core';
import { initializeRequest } from '@mcp-middleware/core/testing';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { bareSdkFetch, echoServer, fullStack, type OnlyMode, registerSdk, type StackMode } from './stack.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '9' },
    concurrency: { type: 'string', default: '8' },
    child: { type: 'string' },
    alloc: { type: 'boolean', default: false },
    arms: {
      type: 'string',
      default:
        'bare,core,noop,noop5,noop-http,noop-rpc,only:logger,only:apikey,only:oauth,only:limit,only:errors,stack,stack-oauth',
    },
  },
});

const noop: Middleware = { name: 'noop', http: (_req, _ctx, next) => next(), rpc: (_call, next) => next() };
const noopHttp: Middleware = { name: 'noop-http', http: (_req, _ctx, next) => next() };
const noopRpc: Middleware = { name: 'noop-rpc', rpc: (_call, next) => next() };

async function arm(name: string): Promise<{ middleware: Middleware[]; headers: Record<string, string> }> {
  if (name === 'core') return { middleware: [], headers: {} };
  if (name === 'noop') return { middleware: [noop], headers: {} };
  // Five no-ops: (noop5 - noop) / 4 is what one more no-op middleware costs.
  if (name === 'noop5') return { middleware: [noop, noop, noop, noop, noop], headers: {} };
  if (name === 'noop-http') return { middleware: [noopHttp], headers: {} };
  if (name === 'noop-rpc') return { middleware: [noopRpc], headers: {} };
  if (name.startsWith('logger-')) return { middleware: [await loggerArm(name)], headers: {} };
  if (name.startsWith('otel-floor')) {
    const stack = await fullStack('stack');
    return { middleware: [tracingFloor(name), ...stack.middleware], headers: stack.headers };
  }
  return fullStack(name as StackMode | OnlyMode);
}

/**
 * `logger-{sync,batch}[-pipe]`: `jsonLogger()` alone, one write per line (`batchLines: false`) or one per turn,
 * into /dev/null or into a pipe that another process (`cat`) reads, as a container's log collector reads stderr.
 */
async function loggerArm(name: string): Promise<Middleware> {
  let destination: string | number = '/dev/null';
  if (name.endsWith('-pipe')) {
    const cat = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
    cat.unref();
    destination = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  }
  return jsonLogger({ destination, batchLines: name.startsWith('logger-batch') });
}

/**
 * `otel-floor[-noctx|-metric]`: the least any tracing middleware can cost with the SDK registered as NodeSDK does:
 * one span per call with five attributes, made active with `context.with` (not in `-noctx`), plus one histogram
 * point in `-metric`; in front of the same stack as `stack+otel`. What `stack+otel` adds beyond it is ours.
 */
function tracingFloor(name: string): Middleware {
  registerSdk(name !== 'otel-floor-noctx');
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
        return await (name === 'otel-floor-noctx'
          ? next()
          : context.with(trace.setSpan(context.active(), span), next));
      } finally {
        span.end();
        if (name === 'otel-floor-metric') histogram.record(0.001, { 'mcp.method.name': call.method });
      }
    },
  };
}

const encoder = new TextEncoder();

/** One handler and session, and a function that makes one call the way Node's adapter would hand it over. */
async function setUp(name: string) {
  const { middleware, headers } = name === 'bare' ? { middleware: [], headers: {} } : await arm(name);
  // `bare`: the SDK's own transport, which reads the body from the Request (as behind @hono/node-server).
  const bare = name === 'bare' ? bareSdkFetch() : undefined;
  const handler = bare
    ? { fetch: bare }
    : createMiddlewareHandler({
        server: ({ jsonSchemaValidator }) => echoServer({ jsonSchemaValidator }),
        middleware,
      });
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    host: '127.0.0.1',
    ...headers,
  };
  const post = async (body: unknown, extra: Record<string, string>) => {
    // Each request starts in a turn of its own, as one read from a socket does: what middleware defers to the end
    // of a turn (the logger's batched writes, timers) runs as it would in a server.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const bytes = encoder.encode(JSON.stringify(body));
    const finished: Array<(aborted: boolean) => void> = [];
    const responseHeaders = new Map<string, string>();
    const info: FetchInfo = {
      clientAddress: '127.0.0.1',
      readBody: async (max) => (bytes.byteLength > max ? undefined : bytes),
      setHeader: (n, v) => void responseHeaders.set(n, v),
      onFinished: (listener) => void finished.push(listener),
    };
    // The bare SDK reads the body from the Request (as behind @hono/node-server); core gets it from the adapter.
    const req = new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: { ...base, ...extra, 'content-length': String(bytes.byteLength) },
      ...(bare ? { body: bytes } : {}),
    });
    const res = await handler.fetch(req, info);
    const text = await res.text();
    for (const f of finished) f(false);
    return {
      status: res.status,
      text,
      sessionId: res.headers.get('mcp-session-id') ?? responseHeaders.get('mcp-session-id'),
    };
  };
  const init = await post(initializeRequest(0), {});
  if (!init.sessionId) throw new Error(`${name}: initialize failed ${init.status} ${init.text}`);
  const session = { 'mcp-session-id': init.sessionId, 'mcp-protocol-version': '2025-11-25' };
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  let id = 1;
  const call = async () => {
    const res = await post(
      {
        jsonrpc: '2.0',
        id: id++,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hello' } },
      },
      session,
    );
    if (res.status !== 200 || !res.text.includes('hello'))
      throw new Error(`${name}: bad answer ${res.status} ${res.text}`);
  };
  return { call };
}

const calls = Number(values.calls);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

/** Bytes allocated per call over `n` calls, sampled every 256 bytes, counting objects already collected. */
async function allocated(call: () => Promise<void>, n: number): Promise<number> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
  await batch(call, n);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  let bytes = 0;
  const walk = (node: { selfSize: number; children: (typeof node)[] }) => {
    bytes += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return bytes / n;
}

async function batch(call: () => Promise<void>, n: number): Promise<number> {
  let left = n;
  const t0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await call();
    }),
  );
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}

if (values.child) {
  // One arm in this process (tracing arms register OpenTelemetry globally): run a batch whenever asked.
  const { call } = await setUp(values.child);
  process.on('message', async (n: number | 'exit' | { alloc: number }) => {
    // Exiting on its own (not killed) lets `--cpu-prof` write the child's profile.
    if (n === 'exit') process.exit(0);
    if (typeof n === 'object') {
      process.send?.(await allocated(call, n.alloc));
      return;
    }
    process.send?.(await batch(call, n));
  });
  process.send?.('ready');
} else {
  const names = values.arms.split(',');
  const arms = names.map((name) => {
    const child = fork(
      fileURLToPath(import.meta.url),
      ['--child', name, '--concurrency', String(concurrency)],
      {
        // GC on the main thread: helper threads on a 2-core machine made the same batch vary 2-4x; this way a batch
        // is charged the same work with far less spread.
        execArgv: [...process.execArgv, '--single-threaded-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const ready = new Promise((resolve) => child.once('message', resolve));
    const run = async (n: number | { alloc: number }) => {
      await ready;
      return new Promise<number>((resolve) => {
        child.once('message', (us: number) => resolve(us));
        child.send(n);
      });
    };
    return { name, child, run, samples: [] as number[], bytes: undefined as number | undefined };
  });
  // Warm up every arm (JIT), then interleave: every round runs each arm once, in a rotating order, one at a time.
  // The JIT settles after some thousands of calls; fewer left the first rounds of every arm 2-3x slow.
  for (const a of arms) await a.run(5000);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < arms.length; i++) {
      const a = arms[(i + r) % arms.length]!;
      a.samples.push(await a.run(calls));
    }
  }
  if (values.alloc) for (const a of arms) a.bytes = await a.run({ alloc: calls });
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const base = arms[0]!;
  // On a shared machine the fastest round and the paired ratio are the steadiest estimates; the median is shown too.
  const baseMin = Math.min(...base.samples);
  console.log(
    `in-process tools/call, stateful session, ${calls} calls x ${rounds} rounds, concurrency ${concurrency}`,
  );
  console.log(
    `arm              µs/call: min  median     max    min above ${base.name}   x ${base.name} (min)   x ${base.name} (paired)${values.alloc ? '   KB allocated/call' : ''}`,
  );
  for (const a of arms) {
    const min = Math.min(...a.samples);
    console.log(
      `${a.name.padEnd(16)} ${min.toFixed(1).padStart(11)} ${median(a.samples).toFixed(1).padStart(7)} ${Math.max(
        ...a.samples,
      )
        .toFixed(1)
        .padStart(7)}` +
        `${(min - baseMin).toFixed(1).padStart(20)}   ${(min / baseMin).toFixed(3).padStart(10)}` +
        // Each round's ratio to the first arm's batch of the same round, which ran moments before or after it: the
        // machine's slow swings (a busy neighbour, frequency) divide out, and the median drops the odd batch.
        `${median(a.samples.map((us, r) => us / base.samples[r]!))
          .toFixed(3)
          .padStart(17)}` +
        (a.bytes === undefined ? '' : (a.bytes / 1024).toFixed(1).padStart(21)),
    );
  }
  if (process.env.CPU_TRACE)
    for (const a of arms) console.log(a.name, a.samples.map((x) => x.toFixed(0)).join(' '));
  for (const a of arms) a.child.send('exit');
}
