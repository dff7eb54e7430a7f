/**
 * Server CPU per call of each middleware, in-process: the handler's own work for a `tools/call` in a stateful
 * session, with no sockets and no load generator beside it, so the numbers hold on a busy machine far better than
 * throughput does. The adapter's hooks are given as Node's adapter gives them (body bytes, setHeader, onFinished).
 * Each arm runs in a process of its own (tracing arms register OpenTelemetry globally); arms take turns in short
 * batches over many rounds, one at a time, and each is reported as µs per call and against the first arm listed.
 *
 * `--alloc` adds what each arm allocates per call (V8's sampling heap profiler over one more batch, garbage
 * included): unlike time, it does not move with the machine's load, and garbage costs CPU in collections.
 * `--alloc --alloc-sites` also prints where each arm's garbage comes from (function and two callers).
 *
 * `--instructions` counts instead of timing: each arm runs under valgrind (`cachegrind`, no cache simulation) with
 * V8 in `--predictable` mode (one thread, no timers deciding when it compiles or collects), twice, with 1,000 and
 * with 11,000 calls after the same warm-up, each run ending with a full collection; the difference over 10,000
 * calls is the instructions one call costs, every collection of its garbage and compilation included. Arms run side
 * by side and agree within ~5 % inside one run; separate runs of the same code have differed by up to ~10 % per arm,
 * so compare arms counted in the same run. Needs `valgrind` (Debian: `apt-get install valgrind`); about a minute per
 * run.
 *
 * Arms: `bare` (the SDK's own server), `core`, `noop`, `stack`, `only:<package>`, `logger-*`, `otel-floor*`; any of
 * them with `-stateless` (a server per request, no session); and `v2-<arm>` on SDK v2 in the 2026-07-28 era
 * (`v2-<arm>-legacy`: the 2025-11-25 era), where `v2-bare` is v2's own `createMcpHandler` and the others sit in
 * front of it with `createMiddlewareHandler({ fetch })`.
 *
 *   node --import tsx cpu.ts [--calls 2000] [--rounds 9] [--arms core,noop,...] [--alloc]
 *   node --import tsx cpu.ts --instructions [--arms bare,core,noop,stack]
 */
import { execFile, fork, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMiddlewareHandler, type FetchInfo, type Middleware } from '@mcp-middleware/core';
import { initializeRequest } from '@mcp-middleware/core/testing';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { createMcpHandler as createV2Handler } from '@modelcontextprotocol/server';
import {
  bareSdkFetch,
  type Era,
  echoServer,
  echoServerV2,
  fullStack,
  instructionsReported,
  MODERN_META,
  type OnlyMode,
  type StackMode,
  v2Headers,
  valgrindNode,
} from './stack.js';

// tsx turns source maps on, and Node then scans every function made at run time (zod's and ajv's compiled
// validators, per request where a server is made per request) for a source map: a cost no built server pays.
process.setSourceMapsEnabled(false);

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '9' },
    concurrency: { type: 'string', default: '8' },
    child: { type: 'string' },
    count: { type: 'string' },
    alloc: { type: 'boolean', default: false },
    'alloc-sites': { type: 'boolean', default: false },
    instructions: { type: 'boolean', default: false },
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
  // `otel-floor[-noctx|-metric]`: the least any tracing can cost, before the same stack (`tracingFloor` in stack.ts).
  if (name.startsWith('otel-floor')) return fullStack(`stack+${name}` as StackMode);
  return fullStack(name as StackMode | OnlyMode);
}

/**
 * `logger-{sync,batch}[-pipe]`: `jsonLogger()` alone, one write per line (`batchLines: false`) or one per turn,
 * into /dev/null or into a pipe that another process (`cat`) reads, as a container's log collector reads stderr.
 * `logger-silent`: level `silent`, so only the middleware's bookkeeping runs (no line is built or written).
 */
async function loggerArm(name: string): Promise<Middleware> {
  let destination: string | number = '/dev/null';
  if (name.endsWith('-pipe')) {
    const cat = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
    cat.unref();
    destination = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  }
  if (name === 'logger-silent') return jsonLogger({ destination, level: 'silent' });
  return jsonLogger({ destination, batchLines: name.startsWith('logger-batch') });
}

const encoder = new TextEncoder();

/** One handler and session, and a function that makes one call the way Node's adapter would hand it over. */
async function setUp(name: string) {
  // `v2-<arm>[-legacy]`: the arm on SDK v2, in the 2026-07-28 era (or the 2025-11-25 one): no session either way.
  const era: Era | undefined = name.startsWith('v2-')
    ? name.endsWith('-legacy')
      ? 'legacy'
      : 'modern'
    : undefined;
  if (era) name = name.slice('v2-'.length, era === 'legacy' ? -'-legacy'.length : undefined);
  // `<arm>-stateless`: the same arm with `sessions: false` (a server and transport per request, no initialize).
  const stateless = era !== undefined || name.endsWith('-stateless');
  if (!era && stateless) name = name.slice(0, -'-stateless'.length);
  if (!era && stateless && name === 'bare')
    throw new TypeError('bare-stateless: use overhead.ts for the SDK’s own stateless server');
  const { middleware, headers } = name === 'bare' ? { middleware: [], headers: {} } : await arm(name);
  // `bare`: the SDK's own transport (v2: its own handler), which reads the body from the Request (as behind
  // @hono/node-server, or v2's Node adapter).
  const v2Bare = era && name === 'bare' ? createV2Handler(() => echoServerV2()) : undefined;
  const bare: ((req: Request) => Promise<Response>) | undefined = v2Bare
    ? (req) => v2Bare.fetch(req)
    : name === 'bare'
      ? bareSdkFetch()
      : undefined;
  const handler: { fetch: (req: Request, info?: FetchInfo) => Promise<Response> } = bare
    ? { fetch: bare }
    : era
      ? v2Handler(middleware)
      : createMiddlewareHandler({
          server: ({ jsonSchemaValidator }) => echoServer({ jsonSchemaValidator }),
          middleware,
          ...(stateless ? { sessions: false } : {}),
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
      headers: {
        ...(era ? v2Headers(era, base) : base),
        ...extra,
        'content-length': String(bytes.byteLength),
      },
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
  // v2: the era's headers are on every request already (`base`).
  let session: Record<string, string> = era ? {} : { 'mcp-protocol-version': '2025-11-25' };
  if (!stateless) {
    const init = await post(initializeRequest(0), {});
    if (!init.sessionId) throw new Error(`${name}: initialize failed ${init.status} ${init.text}`);
    session = { 'mcp-session-id': init.sessionId, 'mcp-protocol-version': '2025-11-25' };
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  }
  let id = 1;
  const call = async () => {
    const res = await post(
      {
        jsonrpc: '2.0',
        id: id++,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { text: 'hello' },
          ...(era === 'modern' ? { _meta: MODERN_META } : {}),
        },
      },
      session,
    );
    if (res.status !== 200 || !res.text.includes('hello'))
      throw new Error(`${name}: bad answer ${res.status} ${res.text}`);
  };
  return { call };
}

/** Core in front of SDK v2's own handler, whose factory wraps each server it makes in the handler's RPC layer. */
function v2Handler(middleware: Middleware[]) {
  // The SDK calls the factory per request, so `handler` exists by then.
  const sdk = createV2Handler(() => echoServerV2((server) => handler.wrapServer(server)));
  const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware });
  return handler;
}

const calls = Number(values.calls);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

interface HeapNode {
  selfSize: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children: HeapNode[];
}

/** `--alloc-sites`: where an arm's garbage comes from, bytes per call by function and its two callers. */
function printAllocationSites(head: HeapNode, n: number): void {
  const sites = new Map<string, number>();
  const visit = (node: HeapNode, callers: string[]) => {
    const f = node.callFrame;
    const url = f.url.replace(/.*node_modules\//, '').replace(/^file:\/\/.*?\/(packages|bench)\//, '$1/');
    const here = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber}`;
    const key = [here, ...callers.slice(0, 2)].join(' < ');
    if (node.selfSize > 0) sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child, [here, ...callers]);
  };
  visit(head, []);
  console.error(`allocation sites of ${values.child} (bytes per call, sampled):`);
  for (const [site, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.error(`${(bytes / n).toFixed(0).padStart(7)}  ${site}`);
  }
}

/** Bytes allocated per call over `n` calls, sampled every 256 bytes, counting objects already collected. */
async function allocated(call: () => Promise<void>, n: number, sites: boolean): Promise<number> {
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
  if (sites) printAllocationSites(profile.head, n);
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

if (values.child && values.count) {
  // Under valgrind (`--instructions`): warm up, make `count` calls, exit. No IPC.
  // A full collection after the warm-up and after the calls: each count then holds every collection its calls'
  // garbage needs, not whichever major collections happen to fall inside the window.
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const { call } = await setUp(values.child);
  await batch(call, 5000);
  gc();
  await batch(call, Number(values.count));
  gc();
  process.exit(0);
} else if (values.child) {
  // One arm in this process (tracing arms register OpenTelemetry globally): run a batch whenever asked.
  const { call } = await setUp(values.child);
  process.on('message', async (n: number | 'exit' | { alloc: number; sites: boolean }) => {
    // Exiting on its own (not killed) lets `--cpu-prof` write the child's profile.
    if (n === 'exit') process.exit(0);
    if (typeof n === 'object') {
      process.send?.(await allocated(call, n.alloc, n.sites));
      return;
    }
    process.send?.(await batch(call, n));
  });
  process.send?.('ready');
} else if (values.instructions) {
  await countInstructions(values.arms.split(','));
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
    const run = async (n: number | { alloc: number; sites: boolean }) => {
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
  if (values.alloc)
    for (const a of arms) a.bytes = await a.run({ alloc: calls, sites: values['alloc-sites'] });
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
  for (const a of arms) a.child.send('exit');
}

/** Instructions a run of `arm` with `count` measured calls executes, all of it (start-up included), under valgrind. */
function instructionsOf(arm: string, count: number): Promise<number> {
  const args = [
    ...valgrindNode(),
    '--expose-gc',
    fileURLToPath(import.meta.url),
    '--child',
    arm,
    '--count',
    String(count),
    '--concurrency',
    String(concurrency),
  ];
  return new Promise((resolve, reject) => {
    execFile('valgrind', args, { maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      const refs = instructionsReported(stderr);
      if (error || refs === undefined) {
        const why =
          (error as NodeJS.ErrnoException | null)?.code === 'ENOENT' ? 'valgrind is not installed' : stderr;
        reject(new Error(`cpu.ts --instructions: ${arm} x ${count}: ${error?.message ?? ''}\n${why}`));
        return;
      }
      resolve(refs);
    });
  });
}

async function countInstructions(names: string[]): Promise<void> {
  const low = 1000;
  const high = 11_000;
  const jobs = names.flatMap((name) => [
    { name, count: low },
    { name, count: high },
  ]);
  const counted = new Map<string, number>();
  let next = 0;
  // Instruction counts do not depend on what else runs: use every core.
  await Promise.all(
    Array.from({ length: Math.max(1, availableParallelism()) }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        counted.set(`${job.name} ${job.count}`, await instructionsOf(job.name, job.count));
      }
    }),
  );
  const perCall = names.map((name) => ({
    name,
    k: (counted.get(`${name} ${high}`)! - counted.get(`${name} ${low}`)!) / (high - low) / 1000,
  }));
  const base = perCall[0]!;
  console.log(`instructions per in-process tools/call (valgrind, V8 --predictable), ${high - low} calls`);
  console.log(`arm              K instructions/call   above ${base.name}   x ${base.name}`);
  for (const a of perCall) {
    console.log(
      `${a.name.padEnd(16)} ${a.k.toFixed(1).padStart(20)} ${(a.k - base.k).toFixed(1).padStart(10)} ${(
        a.k / base.k
      )
        .toFixed(3)
        .padStart(8)}`,
    );
  }
}
