/**
 * Per-call cost of jsonLogger's RPC-call line vs a raw pino `info` with the same fields, both written to
 * /dev/null through the same pino destination: sync (one write per line, jsonLogger's default) and buffered
 * (4 KiB writes, so the cost is the serialisation rather than the syscall). A third row runs the middleware with
 * logging silenced, to separate its bookkeeping (ids, trace parsing, call tracking, one await) from the line.
 *
 * The modes are interleaved over several rounds; the median round is reported.
 *
 *   node --import tsx logging.ts [--calls 200000] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import type { HttpContext, RpcCall, RpcResult } from '@mcp-middleware/core';
import { testRpcCall } from '@mcp-middleware/core/testing';
import { jsonLogger } from '@mcp-middleware/logging-json';
import pino from 'pino';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);

type Sink = 'sync' | 'buffered';
const devNull = (sink: Sink) =>
  sink === 'sync'
    ? pino.destination({ dest: '/dev/null', sync: true })
    : pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 });

const requestInfo = {
  headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  url: new URL('http://127.0.0.1/mcp'),
};
const http = { requestId: '6f1c3a52-8a0e-4c1e-9a43-3f3c1d2b7e10', startedAt: 0 } as unknown as HttpContext;
const authInfo = { token: 'opaque', clientId: 'client-42', scopes: [] };
const answer: RpcResult = { result: { content: [{ type: 'text', text: 'hi' }] } };
const next = () => Promise.resolve(answer);

/** One tools/call as core hands it to RPC middleware. */
function makeCall(): RpcCall {
  return testRpcCall({
    id: 7,
    params: { name: 'echo', arguments: { text: 'hi' } },
    authInfo,
    sessionId: 'b6a41f6b-39f1-4d91-b941-1f0354588cbb',
    requestInfo,
    http,
    protocolVersion: '2025-11-25',
  });
}

async function ours(sink: Sink, level: 'info' | 'silent'): Promise<number> {
  const log = jsonLogger({ destination: devNull(sink), level });
  const call = makeCall();
  const rpc = log.rpc!.bind(log);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await rpc(call, next);
  const ns = Number(process.hrtime.bigint() - started) / CALLS;
  await log.close();
  return ns;
}

async function rawPino(sink: Sink): Promise<number> {
  const destination = devNull(sink);
  const logger = pino({ level: 'info' }, destination);
  const call = makeCall();
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    // The same fields our line carries, with the values already at hand (what a hand-written logger would do).
    logger.info(
      {
        kind: 'rpc',
        method: call.method,
        tool: call.toolName,
        rpcId: call.id,
        outcome: 'ok',
        durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
        clientId: authInfo.clientId,
        sessionId: call.sessionId,
        requestId: http.requestId,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      },
      'rpc',
    );
  }
  const ns = Number(process.hrtime.bigint() - started) / CALLS;
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return ns;
}

const modes: Record<string, () => Promise<number>> = {
  'raw pino info, sync': () => rawPino('sync'),
  'jsonLogger, sync': () => ours('sync', 'info'),
  'raw pino info, buffered': () => rawPino('buffered'),
  'jsonLogger, buffered': () => ours('buffered', 'info'),
  'jsonLogger, silenced': () => ours('buffered', 'silent'),
};
const results = new Map<string, number[]>(Object.keys(modes).map((m) => [m, []]));

// Warm up every path before measuring.
for (const run of Object.values(modes)) await run();
for (let round = 0; round < ROUNDS; round++) {
  for (const [mode, run] of Object.entries(modes)) results.get(mode)!.push(await run());
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const of = (mode: string) => median(results.get(mode)!);
console.log(
  `node ${process.version}, ${CALLS} calls x ${ROUNDS} rounds, median round, destination /dev/null\n`,
);
console.log('mode                        ns/op   vs raw pino (same destination)');
for (const mode of Object.keys(modes)) {
  const raw = of(mode.endsWith('sync') ? 'raw pino info, sync' : 'raw pino info, buffered');
  console.log(`${mode.padEnd(26)} ${of(mode).toFixed(0).padStart(7)}   ${(of(mode) / raw).toFixed(2)}x`);
}
