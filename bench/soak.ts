/**
 * Soak: mixed good and hostile traffic against the demo (API keys, limits in a Redis this script starts on a spare
 * port), with that Redis killed and restarted mid-run. Loopback only; about SOAK_SECONDS (60) of traffic plus a few
 * seconds to start and stop.
 *
 * Prints requests by outcome per traffic kind, good clients' latency (p50/p99), the demo's RSS at start and end,
 * what it wrote to stderr, and whether any good client was refused when it should not have been.
 *
 * Run: node --import tsx soak.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { generateApiKey } from '@mcp-middleware/auth-apikey';
import { freePort, RedisServerProcess, typeScriptNodeArgs } from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 60);
const OUTAGE_AT_MS = SECONDS * 350;
const OUTAGE_MS = SECONDS * 200;
const GOOD_CLIENTS = 4;
const RATE_LIMIT_PER_MINUTE = 600;
const MAX_SESSIONS = 300;
const DEMO_MAIN = fileURLToPath(new URL('../apps/demo/src/main.ts', import.meta.url));

// ---- bookkeeping ----------------------------------------------------------------------------------------------

const outcomes = new Map<string, Map<string, number>>();
function count(kind: string, outcome: string): void {
  let byOutcome = outcomes.get(kind);
  if (!byOutcome) {
    byOutcome = new Map();
    outcomes.set(kind, byOutcome);
  }
  byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
}
const goodLatencies: number[] = [];
const wrongful: string[] = [];
const timeline: string[] = [];
const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
const mark = (what: string) => timeline.push(`${elapsed()}s ${what}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: string; cause?: { code?: string } };
  if (typeof e.code === 'number') return e.code > 0 ? `http ${e.code}` : `rpc ${e.code}`;
  return e.cause?.code ?? e.message?.slice(0, 60) ?? String(error);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ---- the system under test ------------------------------------------------------------------------------------

const keys = {
  good: Array.from({ length: GOOD_CLIENTS }, (_, i) =>
    generateApiKey({ owner: `good-${i}`, scopes: ['records:read'] }),
  ),
  // Two keys between them open more sessions than the whole table holds (MAX_SESSIONS): only the per-principal
  // share keeps the good clients' initialize from getting 503.
  sessionFlooders: [1, 2].map((i) => generateApiKey({ owner: `flooder-${i}`, scopes: ['records:read'] })),
  batcher: generateApiKey({ owner: 'batcher', scopes: ['records:read'] }),
  prober: generateApiKey({ owner: 'prober', scopes: ['records:read'] }),
};
const allKeys = [...keys.good, ...keys.sessionFlooders, keys.batcher, keys.prober];

const redis = await RedisServerProcess.start();
const port = await freePort();
const base = new URL(`http://127.0.0.1:${port}`);
const mcpUrl = new URL('/mcp', base);

const stderr = {
  json: 0,
  other: 0,
  otherSamples: [] as string[],
  errorSamples: [] as string[],
  byLevel: new Map<number, number>(),
};
const demo: ChildProcess = spawn(process.execPath, typeScriptNodeArgs(DEMO_MAIN), {
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    API_KEYS: allKeys.map((k) => k.key).join(','),
    RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    // A table the two flooders could fill many times over without the per-principal share (30 each).
    MAX_SESSIONS: String(MAX_SESSIONS),
    LOG_LEVEL: 'info',
    // As in compose.yaml: a published name besides loopback. Probes come by IP and must still be answered.
    ALLOWED_HOSTS: `127.0.0.1:${port},demo.example.com:${port}`,
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const listening = new Promise<void>((resolve, reject) => {
  let buffer = '';
  demo.stderr!.setEncoding('utf8');
  demo.stderr!.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.includes('listening on')) resolve();
      if (line.startsWith('{')) {
        stderr.json++;
        const level = (JSON.parse(line) as { level?: number }).level ?? 0;
        stderr.byLevel.set(level, (stderr.byLevel.get(level) ?? 0) + 1);
        if (level >= 50 && stderr.errorSamples.length < 5) stderr.errorSamples.push(line.slice(0, 300));
      } else if (line.trim() !== '' && !line.startsWith(' ') && !line.includes('listening on')) {
        stderr.other++;
        if (stderr.otherSamples.length < 5) stderr.otherSamples.push(line.slice(0, 160));
      }
      newline = buffer.indexOf('\n');
    }
  });
  demo.once('exit', (code) => reject(new Error(`the demo exited early (${code})`)));
  setTimeout(() => reject(new Error('the demo did not start in 30 s')), 30_000).unref();
});
await listening;
mark('demo listening');
const rssStart = rssMb(demo.pid!);
const stopAt = performance.now() + SECONDS * 1000;
const running = () => performance.now() < stopAt;

// ---- traffic --------------------------------------------------------------------------------------------------

const jsonHeaders = (key?: string, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(key ? { 'x-api-key': key } : {}),
  ...extra,
});

async function post(body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(mcpUrl, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

const initialize = (version = '2025-11-25') => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'soak', version: '1' } },
});

async function rawSession(key: string, version: string): Promise<Record<string, string> | undefined> {
  const res = await post(initialize(version), jsonHeaders(key));
  await res.text();
  const id = res.headers.get('mcp-session-id');
  if (!id) return undefined;
  const headers = jsonHeaders(key, { 'mcp-session-id': id, 'mcp-protocol-version': version });
  await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).text();
  return headers;
}

async function connectGood(key: string): Promise<Client> {
  const client = new Client({ name: 'soak-good', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { 'x-api-key': key } } }),
  );
  return client;
}

/** A well-behaved client: a call every 200 ms, a fresh session every 8 s. Every refusal is a wrongful one. */
async function goodClient(i: number): Promise<void> {
  const key = keys.good[i]!.key;
  let client: Client | undefined;
  let since = 0;
  while (running()) {
    if (!client || performance.now() - since > 8000) {
      await client?.close().catch(() => {});
      client = undefined;
      try {
        client = await connectGood(key);
        since = performance.now();
        count('good: initialize', 'ok');
      } catch (error) {
        count('good: initialize', describe(error));
        wrongful.push(`${elapsed()}s good-${i} initialize: ${describe(error)}`);
        await sleep(500);
        continue;
      }
    }
    const t0 = performance.now();
    try {
      await client.callTool({ name: 'get_record', arguments: { id: 'rec-1001' } });
      goodLatencies.push(performance.now() - t0);
      count('good: tools/call', 'ok');
    } catch (error) {
      count('good: tools/call', describe(error));
      wrongful.push(`${elapsed()}s good-${i} call: ${describe(error)}`);
    }
    await sleep(200);
  }
  await client?.close().catch(() => {});
}

/** Loops `body` until the end, `pause` ms apart, counting what it returns (or throws) under `kind`. */
async function loop(kind: string, pause: number, body: () => Promise<string>): Promise<void> {
  while (running()) {
    try {
      count(kind, await body());
    } catch (error) {
      count(kind, describe(error));
    }
    await sleep(pause);
  }
}

const floodAs = (key: string) => async () => {
  const res = await post(initialize(), jsonHeaders(key));
  await res.text();
  return `http ${res.status}`;
};

const hostile = [
  // Two keys opening sessions as fast as the rate limit lets them (two at a time each), never closing them.
  ...keys.sessionFlooders.flatMap(({ key }) =>
    [0, 1].map(() => loop('hostile: session flood', 0, floodAs(key))),
  ),
  // Batches of 50 calls: refused under 2025-11-25, charged per message under 2025-03-26.
  loop('hostile: batch of 50 (2025-03-26)', 100, async () => {
    const session = await rawSession(keys.batcher.key, '2025-03-26');
    if (!session) return 'no session';
    const batch = Array.from({ length: 50 }, (_, i) => ({
      jsonrpc: '2.0',
      id: i + 1,
      method: 'tools/call',
      params: { name: 'get_record', arguments: { id: 'rec-1002' } },
    }));
    const res = await post(batch, session);
    await res.text();
    return `http ${res.status}`;
  }),
  loop('hostile: batch (2025-11-25)', 500, async () => {
    const session = await rawSession(keys.batcher.key, '2025-11-25');
    if (!session) return 'no session';
    const res = await post([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }], session);
    await res.text();
    return `http ${res.status}`;
  }),
  loop('hostile: bad API keys', 20, async () => {
    const res = await post(
      initialize(),
      jsonHeaders(`mcpk_bogus${Math.random().toString(36).slice(2, 10)}_x`),
    );
    await res.text();
    return `http ${res.status}`;
  }),
  // 2 MB bodies, then the next request on the same keep-alive pool.
  loop('hostile: 2 MB body, then reuse', 250, async () => {
    const res = await post(new Uint8Array(2 * 1024 * 1024).fill(0x20), jsonHeaders(keys.prober.key));
    await res.text();
    const next = await fetch(new URL('/livez', base));
    await next.text();
    return `http ${res.status}, next ${next.status}`;
  }),
  // The same request id twice in one session while the first is in flight: the first must still be answered.
  loop('hostile: duplicate id', 1500, async () => {
    const session = await rawSession(keys.prober.key, '2025-11-25');
    if (!session) return 'no session';
    const call = {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'get_record', arguments: { id: 'rec-1003' } },
    };
    const slow = { ...call, params: { name: 'long_task', arguments: { steps: 1, stepMs: 300 } } };
    const first = post(slow, session);
    await sleep(50);
    const second = await post(call, session);
    await second.text();
    const firstBody = await (await first).text();
    return `second ${second.status}, first ${firstBody.includes('"id":7') ? 'answered' : 'UNANSWERED'}`;
  }),
  loop('hostile: wrong param types', 300, async () => {
    const session = await rawSession(keys.prober.key, '2025-11-25');
    if (!session) return 'no session';
    const res = await post(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 42, arguments: [] } },
      session,
    );
    const text = await res.text();
    return /"code":(-?\d+)/.exec(text)?.[1] ? `rpc ${/"code":(-?\d+)/.exec(text)![1]}` : `http ${res.status}`;
  }),
  loop('hostile: 400 KB tool name', 500, async () => {
    const session = await rawSession(keys.prober.key, '2025-11-25');
    if (!session) return 'no session';
    const res = await post(
      {
        jsonrpc: '2.0',
        id: 'i'.repeat(100_000),
        method: 'tools/call',
        params: { name: 'n'.repeat(400_000) },
      },
      session,
    );
    const text = await res.text();
    return /"code":(-?\d+)/.exec(text)?.[1] ? `rpc ${/"code":(-?\d+)/.exec(text)![1]}` : `http ${res.status}`;
  }),
  // Uploads abandoned halfway.
  loop('hostile: aborted upload', 300, async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
        `accept: application/json, text/event-stream\r\nx-api-key: ${keys.prober.key}\r\n` +
        'content-length: 100000\r\n\r\n{"jsonrpc":"2.0",',
    );
    await sleep(50);
    socket.destroy();
    return 'aborted';
  }),
  // Probes addressed by IP while ALLOWED_HOSTS names the published host.
  loop('probe: /livez by pod IP', 1000, async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        new URL('/livez', base),
        { headers: { host: `10.0.0.5:${port}` }, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    return `http ${status}`;
  }),
  loop('probe: /readyz', 500, async () => {
    const res = await fetch(new URL('/readyz', base));
    await res.text();
    return `http ${res.status}`;
  }),
];

/** 20 connections that send half their headers and then nothing; reopened when the server cuts them off. */
async function slowloris(): Promise<void> {
  const open = new Set<Socket>();
  const openOne = () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    socket.once('close', () => {
      open.delete(socket);
      count('hostile: slowloris', 'cut off by the server');
    });
    socket.write(`GET /livez HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-slow: 1\r\n`);
    open.add(socket);
  };
  while (running()) {
    while (open.size < 20) openOne();
    await sleep(250);
  }
  for (const socket of open) {
    socket.removeAllListeners('close');
    socket.destroy();
  }
}

const rssSamples: string[] = [];
async function sampleRss(): Promise<void> {
  while (running()) {
    await sleep(10_000);
    rssSamples.push(`${elapsed()}s ${rssMb(demo.pid!).toFixed(0)} MB`);
  }
}

async function redisOutage(): Promise<void> {
  await sleep(OUTAGE_AT_MS);
  await redis.stop();
  mark('Redis killed (SIGKILL)');
  await sleep(OUTAGE_MS);
  await redis.start();
  mark('Redis restarted');
}

await Promise.all([
  ...Array.from({ length: GOOD_CLIENTS }, (_, i) => goodClient(i)),
  ...hostile,
  slowloris(),
  redisOutage(),
  sampleRss(),
]);
mark('traffic stopped');
const rssEnd = rssMb(demo.pid!);
const exited = new Promise((resolve) => demo.once('exit', resolve));
demo.kill('SIGTERM');
await exited;
await redis.destroy();

// ---- report ---------------------------------------------------------------------------------------------------

const total = [...outcomes.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0);
console.log(
  `soak: ${SECONDS} s of traffic against the demo (API keys, Redis limits, ${RATE_LIMIT_PER_MINUTE}/min per client, ` +
    `${MAX_SESSIONS} sessions at most)`,
);
console.log(`\ntimeline:\n  ${timeline.join('\n  ')}`);
console.log(`\nrequests by outcome (${total} in all):`);
for (const [kind, byOutcome] of [...outcomes].sort(([a], [b]) => a.localeCompare(b))) {
  const parts = [...byOutcome].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} × ${n}`);
  console.log(`  ${kind.padEnd(36)} ${parts.join(', ')}`);
}
console.log(
  `\ngood calls: ${goodLatencies.length}, latency p50 ${percentile(goodLatencies, 50).toFixed(1)} ms, ` +
    `p99 ${percentile(goodLatencies, 99).toFixed(1)} ms, max ${Math.max(...goodLatencies).toFixed(1)} ms`,
);
console.log(
  `demo RSS: start ${rssStart.toFixed(1)} MB, end ${rssEnd.toFixed(1)} MB (every 10 s: ${rssSamples.join(', ')})`,
);
const levels = [...stderr.byLevel]
  .sort()
  .map(([l, n]) => `level ${l} × ${n}`)
  .join(', ');
console.log(`demo stderr: ${stderr.json} JSON lines (${levels}), ${stderr.other} other lines`);
for (const sample of stderr.otherSamples) console.log(`  other: ${sample}`);
for (const sample of stderr.errorSamples) console.log(`  error line: ${sample}`);
console.log(
  wrongful.length === 0
    ? '\ngood clients wrongly refused: none'
    : `\ngood clients wrongly refused: ${wrongful.length}\n  ${wrongful.slice(0, 10).join('\n  ')}`,
);
process.exit(wrongful.length === 0 ? 0 : 1);
