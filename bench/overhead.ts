/**
 * Overhead of core: tools/call throughput and latency of a bare SDK server vs the same server behind
 * createMiddlewareHandler with no middleware and with 5 no-op middleware (HTTP + RPC layers each).
 *
 * The tracing arm (`--modes stack,stack+otel-none,stack+sdk,stack+otel-floor-metric,stack+otel,stack+otel-noctx`, or
 * `pnpm run tracing`) compares the full stack (JSON logs, API key, rate limit, errors) without tracing, with the
 * tracing middleware and no OpenTelemetry SDK registered, with the SDK registered alone, with the least any tracing
 * can do (one span made active and one histogram point: the floor), and with the SDK and the tracing middleware
 * (always-on sampler, batch span processor, a no-op exporter, metrics collected), with and without a context manager.
 *
 * Release 1 in the same run (issue 14's "before and after, same machine, same run"): `r1:bare`, `r1:core` and
 * `r1:stack` run release 1's BUILT packages (commit e9abcba) in servers of their own (`release1-server.mjs`, run
 * from inside a copy of release 1 made by `release1-setup.mjs`), measured exactly as the other arms:
 *
 *   node bench/release1-setup.mjs [dir]      (once; default dir /tmp/mcp-middleware-release1)
 *   node --import tsx overhead.ts --modes bare,r1:bare,core,r1:core,stack,r1:stack [--release1 dir]
 *
 * Each server runs in its own child process; this process is the load generator (keep-alive node:http, fixed
 * concurrency). Modes are interleaved over several rounds and the median round is reported.
 *
 *   (after `npm run build`) node --import tsx overhead.ts [--seconds 4] [--rounds 3] [--concurrency 16]
 */
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { serve as honoServe } from '@hono/node-server';
import { createMiddlewareHandler, type Middleware, serve } from '@mcp-middleware/core';
import { initializeRequest } from '@mcp-middleware/core/testing';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
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

/**
 * SDK v2 arms, in either protocol era (`legacy`: a 2025-11-25 client on v2's stateless path; `modern`: 2026-07-28,
 * per-request metadata): `v2-bare-<era>` is v2's own `createMcpHandler` behind its Node adapter, `v2-core-<era>` the
 * same behind `createMiddlewareHandler({ fetch })`, `v2-noop-<era>` with one no-op middleware (both layers), and
 * `v2-<stack arm>-<era>` with any stack arm (`stack`, `stack-oauth`, `stack-redis`, `only:<package>`).
 */
type V2Mode = `v2-${'bare' | 'core' | 'noop' | StackMode | OnlyMode}-${Era}`;
/**
 * Stateless serving (a server and transport per request, no session): `bare-stateless` is the SDK's own stateless
 * transport behind `@hono/node-server`, `core-stateless` is `createMiddlewareHandler({ sessions: false })`,
 * `stack-stateless` the same with the full stack.
 */
type StatelessMode = 'bare-stateless' | 'core-stateless' | 'stack-stateless';
type Mode = 'bare' | 'core' | 'core-full' | 'core+5' | StackMode | OnlyMode | V2Mode | StatelessMode;

/**
 * Release 1's arms (the "before" of issue 14): release 1's own built packages, served by `release1-server.mjs`
 * inside the directory `release1-setup.mjs` prepared. `r1:bare` is the same bare SDK server as `bare` (release 1's
 * lockfile has the same SDK and @hono/node-server), `r1:core` release 1's `createMcpHandler` with no middleware,
 * `r1:stack` release 1's version of `stack` (see the comment in release1-server.mjs for the differences), and
 * likewise `r1:stack-oauth`, `r1:only:*` (not redis) and `r1:{core,stack}-stateless`: every row of issue 14's table.
 */
// tsx turns source maps on, and Node then scans every function made at run time (zod's and ajv's compiled
// validators, per request where a server is made per request) for a source map: a cost no built server pays.
process.setSourceMapsEnabled(false);

const RELEASE1_MODES = [
  'r1:bare',
  'r1:core',
  'r1:stack',
  'r1:stack-oauth',
  'r1:only:logger',
  'r1:only:apikey',
  'r1:only:oauth',
  'r1:only:limit',
  'r1:only:errors',
  'r1:core-stateless',
  'r1:stack-stateless',
] as const;
type Release1Mode = (typeof RELEASE1_MODES)[number];
const DEFAULT_RELEASE1_DIR = '/tmp/mcp-middleware-release1';
/** Any arm of a run: served by this script (`Mode`) or by release 1's server (`Release1Mode`). */
type Arm = Mode | Release1Mode;

const isRelease1 = (mode: string): mode is Release1Mode => mode.startsWith('r1:');

/**
 * The release-1 server script in `dir`, once `release1-setup.mjs` has extracted, installed and built release 1
 * there and copied the current `release1-server.mjs`; a clear error otherwise.
 */
function release1Server(dir: string): string {
  const setup = `node ${join(import.meta.dirname, 'release1-setup.mjs')}${dir === DEFAULT_RELEASE1_DIR ? '' : ` ${dir}`}`;
  let state: { built?: string } = {};
  try {
    state = JSON.parse(readFileSync(join(dir, '.release1-setup.json'), 'utf8'));
  } catch {}
  const server = join(dir, 'bench', 'release1-server.mjs');
  if (!state.built || !existsSync(server))
    throw new Error(`release 1 is not set up in ${dir} (needed by the r1:* modes): run \`${setup}\` first`);
  if (readFileSync(server, 'utf8') !== readFileSync(join(import.meta.dirname, 'release1-server.mjs'), 'utf8'))
    throw new Error(
      `${server} differs from bench/release1-server.mjs (an older copy): run \`${setup}\` again to copy it`,
    );
  return server;
}

/** The port a child server listens on, and headers every request to it needs (an API key). */
interface Started {
  port: number;
  /** SDK v2 and stateless arms: which era's requests to send (no session). */
  era?: Era;
  headers: Record<string, string>;
}

/** A middleware that does nothing, with both layers. */
const noop = (i: number): Middleware => ({
  name: `noop-${i}`,
  http: (_req, _ctx, next) => next(),
  rpc: (_call, next) => next(),
});

async function startV2(mode: V2Mode): Promise<Started> {
  const era = mode.slice(mode.lastIndexOf('-') + 1) as Era;
  const kind = mode.slice('v2-'.length, mode.lastIndexOf('-'));
  if (era !== 'legacy' && era !== 'modern')
    throw new Error(`unknown mode ${mode}: end it with -legacy or -modern`);
  // fullStack() reads any other name as a stack with tracing: refuse a typo rather than measure the wrong arm.
  if (!['bare', 'core', 'noop'].includes(kind) && !kind.startsWith('stack') && !kind.startsWith('only:'))
    throw new Error(`unknown mode ${mode}: v2-<bare|core|noop|stack…|only:…>-<era>`);
  if (kind === 'bare') {
    // What v2's examples do: its handler (a server per request) behind its Node adapter.
    const sdk = createV2Handler(() => echoServerV2());
    const server = createServer(toNodeHandler(sdk));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, headers: {}, era };
  }
  const { middleware, headers } =
    kind === 'core'
      ? { middleware: [], headers: {} }
      : kind === 'noop'
        ? { middleware: [noop(0)], headers: {} }
        : await fullStack(kind as StackMode | OnlyMode);
  // The SDK's factory runs per request, so `handler` exists by the time it is called.
  const sdk = createV2Handler(() => echoServerV2((s) => handler.wrapServer(s)));
  const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware });
  const { url } = await serve(handler, { port: 0 });
  return { port: Number(url.port), headers, era };
}

async function startStateless(mode: StatelessMode): Promise<Started> {
  if (mode === 'bare-stateless') {
    // The SDK's stateless example: a new server and transport for every request.
    const server = honoServe({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req: Request) => {
        const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        const mcp = echoServer();
        await mcp.connect(transport);
        return transport.handleRequest(req);
      },
    });
    await new Promise((r) => server.once('listening', r));
    return { port: (server.address() as { port: number }).port, headers: {}, era: 'legacy' };
  }
  const { middleware, headers } =
    mode === 'stack-stateless' ? await fullStack('stack') : { middleware: [], headers: {} };
  const handler = createMiddlewareHandler({
    server: ({ jsonSchemaValidator }) => echoServer({ jsonSchemaValidator }),
    middleware,
    sessions: false,
  });
  const { url } = await serve(handler, { port: 0 });
  // No session to open: every request stands alone, as a 2025-11-25 client's would against a stateless server.
  return { port: Number(url.port), headers, era: 'legacy' };
}

async function startServer(mode: Mode): Promise<Started> {
  if (mode.startsWith('v2-')) return startV2(mode as V2Mode);
  if (mode.endsWith('-stateless')) return startStateless(mode as StatelessMode);
  if (mode.startsWith('stack') || mode.startsWith('only:')) {
    const { middleware, headers } = await fullStack(mode as StackMode | OnlyMode);
    const handler = createMiddlewareHandler({
      server: ({ jsonSchemaValidator }) => echoServer({ jsonSchemaValidator }),
      middleware,
    });
    const { url } = await serve(handler, { port: 0 });
    return { port: Number(url.port), headers };
  }
  if (mode === 'bare') {
    // What the SDK's examples do: a session map in front of the web-standard transport.
    const server = honoServe({ port: 0, hostname: '127.0.0.1', fetch: bareSdkFetch() });
    await new Promise((r) => server.once('listening', r));
    return { port: (server.address() as { port: number }).port, headers: {} };
  }
  const handler = createMiddlewareHandler({
    server: ({ jsonSchemaValidator }) => echoServer({ jsonSchemaValidator }),
    // `core-full`: one middleware with no layers, so requests take the full path (no direct session fast path).
    middleware: mode === 'core' ? [] : mode === 'core-full' ? [{ name: 'empty' }] : [0, 1, 2, 3, 4].map(noop),
  });
  const { url } = await serve(handler, { port: 0 });
  return { port: Number(url.port), headers: {} };
}

// ---- load generator ----

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(port: number, body: string, headers: Record<string, string>) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    text: string;
  }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A lean client for the measured phase (`--client raw`, the default): one keep-alive socket per concurrent caller,
 * requests written as prepared bytes and responses framed by hand (Content-Length or the chunked terminator). It
 * spends a fraction of node:http's CPU per request, so on a 2-core machine the server, not the load generator, is
 * the bottleneck: the server always finds work waiting instead of sleeping between requests, and the numbers show
 * its work rather than the cost of waking it. `--client http` keeps node:http for comparison.
 */
class RawConnection {
  #socket: Socket;
  #chunks: Buffer[] = [];
  #size = 0;
  #waiting: { resolve: (text: string) => void; reject: (error: Error) => void } | undefined;
  readonly #head: string;

  private constructor(socket: Socket, port: number, headers: Record<string, string>) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#head =
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
      'accept: application/json, text/event-stream\r\n' +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  static open(port: number, headers: Record<string, string>): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket, port, headers)));
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with the whole response (head and body) once it has arrived. */
  post(body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(`${this.#head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const text =
      this.#chunks.length === 1 ? chunk.toString('latin1') : Buffer.concat(this.#chunks).toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
    const complete = length ? this.#size >= headEnd + 4 + Number(length[1]) : text.endsWith('\r\n0\r\n\r\n');
    if (!complete) return;
    this.#chunks = [];
    this.#size = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve(text);
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }
}

async function openSession(port: number, extra: Record<string, string>) {
  const init = await post(port, JSON.stringify(initializeRequest(0)), extra);
  const sid = init.headers['mcp-session-id'] as string;
  if (!sid) throw new Error(`initialize failed ${init.status}: ${init.text}`);
  const headers = { ...extra, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  await post(port, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  return headers;
}

/** The body of one measured call: `echo` with a short text, with the 2026-07-28 envelope when the era asks for it. */
function echoCall(id: number, era: Era | undefined): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: { text: 'hello' },
      ...(era === 'modern' ? { _meta: MODERN_META } : {}),
    },
  });
}

interface Result {
  rps: number;
  /** Server CPU time (user + system) per call, in microseconds: what the client's share of the cores cannot blur. */
  cpuUs: number;
  /** The load generator's own CPU per call: when it nears the server's, the client is part of what is measured. */
  clientUs: number;
  p50: number;
  p99: number;
}

type Client = 'raw' | 'http';

async function load(
  { port, headers: extra, era }: Started,
  seconds: number,
  concurrency: number,
  client: Client,
  serverCpu: () => Promise<number>,
): Promise<Result> {
  const headers = era ? v2Headers(era, extra) : await openSession(port, extra);
  let id = 1;
  const latencies: number[] = [];
  const bodyOf = () => echoCall(id++, era);
  const connections =
    client === 'raw'
      ? await Promise.all(Array.from({ length: concurrency }, () => RawConnection.open(port, headers)))
      : [];
  // Worker `w` makes one call and returns its latency in ms; every answer is checked.
  const call = async (w: number) => {
    const body = bodyOf();
    const t0 = performance.now();
    if (client === 'raw') {
      const text = await connections[w]!.post(body);
      if (!text.startsWith('HTTP/1.1 200') || !text.includes('hello'))
        throw new Error(`bad answer: ${text.slice(0, 300)}`);
    } else {
      const res = await post(port, body, headers);
      if (res.status !== 200 || !res.text.includes('hello'))
        throw new Error(`bad answer ${res.status}: ${res.text}`);
    }
    return performance.now() - t0;
  };
  // Warm up (JIT, connection pool).
  const warmUntil = performance.now() + 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < warmUntil) await call(w);
    }),
  );
  const cpuBefore = await serverCpu();
  const clientBefore = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) latencies.push(await call(w));
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const cpuUs = (await serverCpu()) - cpuBefore;
  const clientCpu = process.cpuUsage(clientBefore);
  for (const c of connections) c.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    rps: latencies.length / elapsed,
    cpuUs: cpuUs / latencies.length,
    clientUs: (clientCpu.user + clientCpu.system) / latencies.length,
    p50: q(0.5),
    p99: q(0.99),
  };
}

/** Makes exactly `n` calls, spread over `concurrency` connections (the raw client); every answer is checked. */
async function callTimes(
  { port, headers: extra, era }: Started,
  n: number,
  concurrency: number,
): Promise<void> {
  const headers = era ? v2Headers(era, extra) : await openSession(port, extra);
  const connections = await Promise.all(
    Array.from({ length: concurrency }, () => RawConnection.open(port, headers)),
  );
  let id = 1;
  let left = n;
  await Promise.all(
    connections.map(async (connection) => {
      while (left-- > 0) {
        const text = await connection.post(echoCall(id++, era));
        if (!text.startsWith('HTTP/1.1 200') || !text.includes('hello'))
          throw new Error(`bad answer: ${text.slice(0, 300)}`);
      }
    }),
  );
  for (const c of connections) c.close();
}

/**
 * Instructions the server process executes for `warm` + `n` calls (start-up, session and all), counted by valgrind
 * (cachegrind, no cache simulation) with V8 in `--predictable` mode: one thread, no timers deciding when it compiles
 * or collects.
 */
async function serverInstructions(
  script: string,
  childMode: string,
  mode: string,
  warm: number,
  n: number,
  concurrency: number,
): Promise<number> {
  const child = fork(script, ['--child', childMode], {
    execPath: 'valgrind',
    execArgv: valgrindNode(),
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<Started>((resolve, reject) => {
    child.once('error', (error) =>
      reject(
        new Error(`could not run valgrind for ${mode} (Debian: apt-get install valgrind): ${error.message}`),
      ),
    );
    child.once('exit', (code) =>
      reject(
        new Error(`the ${mode} server exited (${code}) before it was listening:\n${stderr.slice(-2000)}`),
      ),
    );
    child.once('message', (m: { started: Started }) => resolve(m.started));
  });
  await callTimes(started, warm, concurrency);
  await callTimes(started, n, concurrency);
  child.kill('SIGINT');
  await exited;
  const refs = instructionsReported(stderr);
  if (refs === undefined)
    throw new Error(`no instruction count from valgrind for ${mode}:\n${stderr.slice(-2000)}`);
  return refs;
}

/**
 * `--instructions`: each server's own work per call, end to end over real HTTP, as instructions instead of time.
 * Each arm's server runs twice under valgrind, serving 1,000 warm-up calls and then 500 or 3,000 more; the
 * difference over 2,500 calls is what one call costs the whole process (HTTP parsing, sockets, JSON, collections,
 * compilation). The machine's load does not move it, so arms run side by side, one per core; runs of one arm agree
 * within a few per cent. The load generator is not counted.
 */
async function countInstructions(
  modes: readonly Arm[],
  release1: string | undefined,
  concurrency: number,
): Promise<void> {
  const warm = 1000;
  const low = 500;
  const high = 3000;
  const jobs = modes.flatMap((mode) => [low, high].map((n) => ({ mode, n })));
  const counted = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, availableParallelism()) }, async () => {
      while (next < jobs.length) {
        const { mode, n } = jobs[next++]!;
        const [script, childMode] =
          release1 && isRelease1(mode)
            ? [release1, mode.slice(3)]
            : [new URL(import.meta.url).pathname, mode];
        // One failed run costs its arm, not the table: the others are still printed.
        const count = await serverInstructions(script, childMode, mode, warm, n, concurrency).catch(
          (error: unknown) => {
            console.error(`${mode} x ${n}: ${error instanceof Error ? error.message : String(error)}`);
            return Number.NaN;
          },
        );
        counted.set(`${mode} ${n}`, count);
      }
    }),
  );
  const perCall = modes.map((mode) => ({
    mode,
    k: (counted.get(`${mode} ${high}`)! - counted.get(`${mode} ${low}`)!) / (high - low) / 1000,
  }));
  const base = perCall[0]!;
  const width = Math.max(16, ...modes.map((m) => m.length));
  console.log(
    `server instructions per tools/call over Streamable HTTP (valgrind, V8 --predictable), concurrency ${concurrency}, ${high - low} calls`,
  );
  console.log(
    `${'mode'.padEnd(width)}  K instructions/call   x ${base.mode}   throughput if CPU-bound, vs ${base.mode}`,
  );
  for (const a of perCall) {
    console.log(
      `${a.mode.padEnd(width)} ${a.k.toFixed(1).padStart(20)} ${(a.k / base.k).toFixed(3).padStart(10)} ${(
        base.k / a.k
      )
        .toFixed(3)
        .padStart(38)}`,
    );
  }
}

/** Pins a process to one core with taskset, where the machine has it and two cores or more; else leaves it. */
function pin(pid: number | undefined, core: number): void {
  if (pid === undefined || availableParallelism() < 2) return;
  spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

async function main() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '16' },
      client: { type: 'string', default: 'raw' },
      child: { type: 'string' },
      modes: { type: 'string', default: process.env['BENCH_MODES'] ?? 'bare,core,core+5' },
      release1: { type: 'string', default: DEFAULT_RELEASE1_DIR },
      instructions: { type: 'boolean', default: false },
    },
  });
  if (values.child) {
    const started = await startServer(values.child as Mode);
    process.once('SIGINT', () => process.exit(0));
    process.on('message', (m) => {
      if (m === 'heap') {
        (globalThis as { gc?: () => void }).gc?.();
        console.error(
          `[${values.child}] heap after gc: ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`,
        );
        return;
      }
      const { user, system } = process.cpuUsage();
      process.send?.({ cpu: user + system });
    });
    process.send?.({ started });
    return;
  }
  // Not under --instructions: its servers run side by side, and children inherit the pinning.
  if (!values.instructions) pin(process.pid, 0);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const concurrency = Number(values.concurrency);
  const client = values.client as Client;
  if (client !== 'raw' && client !== 'http')
    throw new TypeError(`--client must be raw or http, got ${client}`);
  const MODES = values.modes.split(',') as Arm[];
  const unknownRelease1 = MODES.filter((m) => isRelease1(m) && !RELEASE1_MODES.includes(m));
  if (unknownRelease1.length > 0)
    throw new TypeError(`unknown release-1 mode ${unknownRelease1.join(', ')}: ${RELEASE1_MODES.join(', ')}`);
  // Checked before any round, so a missing setup fails at once.
  const release1 = MODES.some(isRelease1) ? release1Server(resolvePath(values.release1)) : undefined;
  if (values.instructions) {
    await countInstructions(MODES, release1, concurrency);
    return;
  }
  const results = Object.fromEntries(MODES.map((m) => [m, [] as Result[]])) as Record<Arm, Result[]>;
  for (let round = 0; round < rounds; round++) {
    for (const mode of MODES) {
      // Release 1's arms run its own server script (plain ESM) with the same Node flags as the others.
      const [script, childMode] =
        release1 && isRelease1(mode) ? [release1, mode.slice(3)] : [new URL(import.meta.url).pathname, mode];
      const child = fork(script, ['--child', childMode], {
        // Server and load generator on cores of their own (see pin()), so they do not blur each other.
        // BENCH_CHILD_ARGS='--cpu-prof' profiles the servers.
        execArgv: [
          ...process.execArgv,
          ...(process.env['BENCH_CHILD_ARGS']?.split(' ').filter(Boolean) ?? []),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      pin(child.pid, 1);
      const started = await new Promise<Started>((resolve, reject) => {
        const early = (code: number | null) =>
          reject(new Error(`the ${mode} server exited (${code}) before it was listening`));
        child.once('exit', early);
        child.once('message', (m: { started: Started }) => {
          child.off('exit', early);
          resolve(m.started);
        });
      });
      const serverCpu = () =>
        new Promise<number>((resolve) => {
          child.once('message', (m: { cpu: number }) => resolve(m.cpu));
          child.send('cpu');
        });
      results[mode].push(await load(started, seconds, concurrency, client, serverCpu));
      if (process.env['BENCH_HEAP']) {
        child.send('heap');
        await new Promise((r) => setTimeout(r, 500));
      }
      // SIGINT, so a --cpu-prof child writes its profile on the way out.
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  }
  const median = (xs: Result[]) => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)]!;
  // Ratios against the first mode listed (the bare SDK by default).
  const bare = median(results[MODES[0]!]);
  const width = Math.max(16, ...MODES.map((m) => m.length));
  console.log(
    `tools/call over Streamable HTTP (SSE answers), ${client} client, concurrency ${concurrency}, ${seconds}s x ${rounds} rounds, median round`,
  );
  console.log(
    `${'mode'.padEnd(width)}  req/s     p50 ms   p99 ms   server CPU µs/call   client µs/call   throughput vs ${MODES[0]}   CPU vs ${MODES[0]}   paired CPU ratio: median [min … max]   CPU ratio per round`,
  );
  for (const mode of MODES) {
    const r = median(results[mode]);
    // Rounds are interleaved: round i of every mode ran back to back, so per-round ratios show the spread, and their
    // median is steadier than the ratio of two medians taken from different rounds.
    const ratios = results[mode].map((x, i) => x.cpuUs / results[MODES[0]!][i]!.cpuUs);
    const sorted = [...ratios].sort((a, b) => a - b);
    const paired = `${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} [${sorted[0]!.toFixed(2)} … ${sorted.at(-1)!.toFixed(2)}]`;
    const perRound = ratios.map((x) => x.toFixed(3)).join(' ');
    console.log(
      `${mode.padEnd(width)} ${r.rps.toFixed(0).padStart(7)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${r.cpuUs.toFixed(0).padStart(18)}   ${r.clientUs.toFixed(0).padStart(14)}   ${(r.rps / bare.rps).toFixed(3).padStart(18)}   ${(r.cpuUs / bare.cpuUs).toFixed(3).padStart(11)}   ${paired.padStart(36)}   ${perRound}`,
    );
  }
  agent.destroy();
}

await main().catch((error) => {
  console.error(error);
  process.exit(1);
});
