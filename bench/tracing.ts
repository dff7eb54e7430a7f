/**
 * Per-call CPU of the tracing middleware in process, without HTTP: one HTTP request carrying one tools/call
 * through `tracing().http` and `.rpc`, against the same request with no middleware. Three setups: no SDK
 * registered; the SDK as NodeSDK sets it up (AsyncLocalStorage context manager, W3C propagators, always-on
 * sampler, batch span processor, a no-op exporter, metrics collected every second); the same with
 * `httpSpans: false` (one span per call instead of two). Interleaved rounds; median and spread of the deltas.
 *
 *   node --import tsx tracing.ts [--calls 50000] [--rounds 5]
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { HttpContext, RpcCall, RpcResult } from '@mcp-middleware/core';
import { testRpcCall } from '@mcp-middleware/core/testing';
import { tracing } from '@mcp-middleware/tracing-otel';
import { registerSdk } from './stack.js';

type Setup = 'no SDK' | 'SDK' | 'SDK, httpSpans: false';
const SETUPS: Setup[] = ['no SDK', 'SDK', 'SDK, httpSpans: false'];

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    child: { type: 'string' },
  },
});
const CALLS = Number(values.calls);

const answer: RpcResult = { result: { content: [{ type: 'text', text: 'hi' }] } };
const requestInfo = {
  headers: { 'mcp-session-id': 'b6a41f6b', 'mcp-protocol-version': '2025-11-25' },
  url: new URL('http://127.0.0.1/mcp'),
};
const req = new Request('http://127.0.0.1/mcp', { method: 'POST', headers: requestInfo.headers });
const response = new Response(null, { status: 200, headers: { 'content-type': 'text/event-stream' } });

/** What core hands HTTP middleware: a context per request, with its state. */
function makeContext(): HttpContext {
  const state = new Map<string | symbol, unknown>();
  return {
    url: new URL(req.url),
    path: '/mcp',
    clientAddress: '127.0.0.1',
    requestId: 'r-1',
    authInfo: { token: 'opaque', clientId: 'client-42', scopes: [] },
    route: 'mcp',
    isProtected: true,
    sessionId: 'b6a41f6b',
    body: async () => undefined,
    setResponseHeader: () => {},
    onResponseSent: () => {},
    state,
    get: (key) => state.get(key) as never,
    set: (key, value) => void state.set(key, value),
    startedAt: performance.now(),
  };
}

function makeCall(http: HttpContext): RpcCall {
  return testRpcCall({
    id: 7,
    params: { name: 'echo', arguments: { text: 'hi' } },
    authInfo: http.authInfo,
    sessionId: 'b6a41f6b',
    requestInfo,
    http,
    protocolVersion: '2025-11-25',
  });
}

/** CPU µs per request: with the middleware, and without (the same objects, the same awaits). */
async function measure(setup: Setup): Promise<{ with: number; without: number }> {
  const t = tracing({ httpSpans: setup !== 'SDK, httpSpans: false' });
  const server = () => Promise.resolve(answer);
  const once = async (traced: boolean) => {
    const ctx = makeContext();
    const call = makeCall(ctx);
    const next = async () => {
      await (traced ? t.rpc!(call, server) : server());
      return response;
    };
    await (traced ? t.http!(req, ctx, next) : next());
  };
  const run = async (traced: boolean) => {
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await once(traced);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / CALLS;
  };
  await run(false);
  await run(true); // warm up
  const without = await run(false);
  const withIt = await run(true);
  return { with: withIt, without };
}

if (values.child) {
  // Each setup in a fresh process: the SDK's globals and its context manager cannot be unregistered cleanly.
  if (values.child !== 'no SDK') registerSdk(true);
  process.send?.(await measure(values.child as Setup));
  process.exit(0);
}

const deltas = new Map<Setup, number[]>(SETUPS.map((s) => [s, []]));
const bases: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const setup of SETUPS) {
    const child = fork(new URL(import.meta.url).pathname, ['--child', setup, '--calls', String(CALLS)], {
      execArgv: process.execArgv,
    });
    const result = await new Promise<{ with: number; without: number }>((resolve) =>
      child.once('message', resolve),
    );
    await new Promise((r) => child.once('exit', r));
    deltas.get(setup)!.push(result.with - result.without);
    bases.push(result.without);
  }
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
console.log(
  `node ${process.version}, ${CALLS} requests x ${values.rounds} rounds; the bare loop costs ${median(bases).toFixed(1)} µs/request\n`,
);
console.log('setup                      added CPU µs/request: median   [min … max]');
for (const setup of SETUPS) {
  const xs = sorted(deltas.get(setup)!);
  console.log(
    `${setup.padEnd(26)} ${median(xs).toFixed(1).padStart(28)}   [${xs[0]!.toFixed(1)} … ${xs[xs.length - 1]!.toFixed(1)}]`,
  );
}
