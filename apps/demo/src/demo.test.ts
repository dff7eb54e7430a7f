import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateApiKey, parseApiKey } from '@mcp-middleware/auth-apikey';
import {
  collectOutput,
  connectClient,
  initializeRequest,
  postJsonRpc,
  typeScriptNodeArgs,
} from '@mcp-middleware/core/testing';
import { attributesOf, OtlpReceiver } from '@mcp-middleware/tracing-otel/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDemoClient, type DemoConnection, DemoOAuthProvider } from './client.js';
import { type Demo, MAIN, startDemo } from './test-demo.js';

const INSPECTOR = fileURLToPath(
  new URL('../node_modules/@modelcontextprotocol/inspector/cli/build/cli.js', import.meta.url),
);
const REDIS_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';

function text(result: unknown): string {
  return ((result as { content: Array<{ text: string }> }).content ?? []).map((c) => c.text).join(' ');
}

async function runInspector(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [INSPECTOR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const output = collectOutput(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  // 'close', not 'exit': only then is everything the CLI printed read.
  const { code } = await output.closed;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the Inspector CLI exited with ${code}:\n${output.text()}`);
  return { code, stdout };
}

describe('the demo with API keys (the default)', () => {
  let demo: Demo;
  let connection: DemoConnection;
  beforeAll(async () => {
    demo = await startDemo({ AUTH_MODE: 'apikey' });
    expect(demo.devKey).toMatch(/^mcpk_/);
    connection = await connectDemoClient({ url: demo.url, apiKey: demo.devKey! });
  });
  afterAll(async () => {
    await connection?.close();
    await demo?.stop();
  });

  it('prints how to connect with the MCP Inspector', () => {
    expect(demo.output()).toContain('npx @modelcontextprotocol/inspector --cli');
  });

  it('refuses a request without a key with 401 and says what is missing', async () => {
    const res = await postJsonRpc(demo.url, initializeRequest());
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toContain('missing');
  });

  it('answers the probes without a key', async () => {
    expect((await fetch(new URL('/livez', demo.base))).status).toBe(200);
    const ready = await fetch(new URL('/readyz', demo.base));
    expect(ready.status).toBe(200);
    expect(ready.headers.get('content-type')).toContain('application/health+json');
  });

  it('lists every tool', async () => {
    const { tools } = await connection.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'classify_and_route',
      'get_record',
      'long_task',
      'service_status',
      'update_record',
      'whoami',
    ]);
  });

  it('knows who is calling from the key', async () => {
    const who = JSON.parse(text(await connection.callTool('whoami')));
    expect(who).toMatchObject({ subject: 'demo-developer', scopes: ['records:read', 'records:write'] });
  });

  it('classifies with the client’s model when the client can sample', async () => {
    const result = await connection.callTool('classify_and_route', { text: 'It crashes on start' });
    expect(text(result)).toBe('bug -> engineering on-call (classified by the client model)');
  });

  it('classifies with the server’s model when the client cannot sample', async () => {
    const client = new Client({ name: 'no-sampling', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(demo.url, {
        requestInit: { headers: { 'x-api-key': demo.devKey! } },
      }),
    );
    const result = await client.callTool({
      name: 'classify_and_route',
      arguments: { text: 'Please refund the duplicate charge on my invoice' },
    });
    expect(text(result)).toBe('billing -> finance (classified by the fallback model)');
    await client.close();
  });

  it('tells protocol errors, tool errors and masked failures apart in get_record', async () => {
    expect(JSON.parse(text(await connection.callTool('get_record', { id: 'rec-1001' })))).toMatchObject({
      id: 'rec-1001',
    });
    const unknown = await connection.callTool('get_record', { id: 'rec-9999' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain('No record rec-9999');
    const masked = await connection.callTool('get_record', { id: 'rec-0000' });
    expect(masked.isError).toBe(true);
    const errorId = /error id: ([0-9a-f-]{36})/.exec(text(masked))?.[1];
    expect(errorId).toBeDefined();
    expect(text(masked)).not.toContain('demo-secret');
    await demo.waitForOutput((t) => t.includes(errorId!), 'the masked error in the log');
    const invalid = await connection.callTool('get_record', { id: 'nope' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(McpError);
    expect((invalid as McpError).code).toBe(-32602);
  });

  it('logs a masked failure with its id and stack through the redacting logger, without the secret it held', async () => {
    const masked = await connection.callTool('get_record', { id: 'rec-0000' });
    const errorId = /error id: ([0-9a-f-]{36})/.exec(text(masked))![1]!;
    await expect.poll(() => demo.output()).toContain(errorId);
    const line = demo
      .output()
      .split('\n')
      .find((l) => l.startsWith('{') && l.includes(errorId))!;
    const err = (JSON.parse(line) as { err: { message: string; stack: string } }).err;
    expect(err.message).toBe('connection to records-db failed: password=[Redacted] rejected');
    expect(err.stack).toContain('tools.ts');
    expect(demo.output()).not.toContain('demo-secret');
  });

  it('calls the external service, and turns its slowness into a timeout the model can read', async () => {
    expect(
      JSON.parse(text(await connection.callTool('service_status', { service: 'payments' }))),
    ).toMatchObject({
      service: 'payments',
      status: 'operational',
    });
    const slow = await connection.callTool('service_status', { service: 'payments', delay: 4000 });
    expect(slow.isError).toBe(true);
    expect(text(slow)).toBe('request to status service timed out after 2 seconds');
    const failing = await connection.callTool('service_status', { fail: 503 });
    expect(failing.isError).toBe(true);
    expect(text(failing)).toContain('503');
  });

  it('reports progress in order and sends log messages at the level the client set', async () => {
    const logs: string[] = [];
    connection.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(`${n.params.level}:${JSON.stringify(n.params.data)}`);
    });
    await connection.client.setLoggingLevel('info');
    const progress: number[] = [];
    const result = await connection.client.callTool(
      { name: 'long_task', arguments: { steps: 4, stepMs: 20 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(text(result)).toBe('Finished 4 steps.');
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(logs.filter((l) => l.includes('step'))).toHaveLength(4);
    await connection.client.setLoggingLevel('warning');
    logs.length = 0;
    await connection.client.callTool({ name: 'long_task', arguments: { steps: 2, stepMs: 0 } });
    expect(logs).toEqual([]);
  });

  it('writes one JSON log line per call, with no key material in any line', async () => {
    await connection.callTool('update_record', { id: 'rec-1002', status: 'closed' });
    // The line is written as the call ends and reaches this process some time later: wait for it.
    const jsonLines = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const lines = await demo.waitForOutput(
      (text) =>
        jsonLines(text).some(
          (l) => l['kind'] === 'rpc' && l['tool'] === 'update_record' && l['outcome'] === 'ok',
        ) && jsonLines(text),
      'the rpc line for update_record',
    );
    // The secret is base64url, which may itself hold '_': take it through the key parser.
    const secret = parseApiKey(demo.devKey!)!.secret;
    expect(secret.length).toBeGreaterThan(20);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain(secret);
  });

  it('lets the MCP Inspector CLI list and call tools with an API key header', async () => {
    const inspect = (...method: string[]) =>
      runInspector([
        '--cli',
        demo.url.href,
        '--transport',
        'http',
        '--header',
        `x-api-key: ${demo.devKey}`,
        ...method,
      ]);
    const list = await inspect('--method', 'tools/list');
    expect(list.code).toBe(0);
    expect(
      (JSON.parse(list.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name),
    ).toContain('get_record');
    const call = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'get_record',
      '--tool-arg',
      'id=rec-1003',
    );
    expect(call.code).toBe(0);
    expect(call.stdout).toContain('Refund not received');
  });
});

describe('the demo with OAuth (embedded development authorization server)', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ AUTH_MODE: 'oauth' });
  });
  afterAll(() => demo?.stop());

  it('answers 401 with the metadata location, and serves protected resource metadata', async () => {
    const res = await postJsonRpc(demo.url, initializeRequest());
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBeDefined();
    const metadata = (await (await fetch(metadataUrl!)).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    expect(metadata.resource).toBe(demo.url.href);
    expect(metadata.authorization_servers).toHaveLength(1);
  });

  it('lets the SDK client log in with PKCE, call tools, step up for a write tool, and refresh', async () => {
    const oauth = new DemoOAuthProvider('alice');
    const connection = await connectDemoClient({ url: demo.url, oauth });
    const who = JSON.parse(text(await connection.callTool('whoami')));
    expect(who).toMatchObject({ subject: 'alice', scopes: ['records:read'] });
    // tools/list hides what the token may not call…
    const { tools } = await connection.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('update_record');
    // …and calling it steps up: 403 insufficient_scope, a new authorization with the larger scope, success.
    const updated = await connection.callTool('update_record', { id: 'rec-1002', status: 'closed' });
    expect(text(updated)).toBe('rec-1002: planned -> closed');
    expect(oauth.tokens()?.scope?.split(' ').sort()).toEqual(['records:read', 'records:write']);
    const before = oauth.tokens()?.access_token;
    await connection.refresh();
    expect(oauth.tokens()?.access_token).not.toBe(before);
    expect(JSON.parse(text(await connection.callTool('whoami')))).toMatchObject({ subject: 'alice' });
    await connection.close();
  });
});

describe('two demo processes sharing one Redis', () => {
  const demos: Demo[] = [];
  let key: string;
  beforeAll(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      throw new Error(`these tests need Redis at ${REDIS_URL} (set REDIS_URL): ${(error as Error).message}`);
    } finally {
      redis.disconnect();
    }
    key = generateApiKey({ owner: 'shared' }).key; // a fresh key: a fresh rate-limit key in Redis
    const env = { AUTH_MODE: 'apikey', REDIS_URL, API_KEYS: key, RATE_LIMIT_PER_MINUTE: '6' };
    demos.push(await startDemo(env), await startDemo(env));
  });
  afterAll(() => Promise.all(demos.map((d) => d.stop())));

  it('holds one client’s limit across both', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await postJsonRpc(demos[i % 2]!.url, initializeRequest(), { 'x-api-key': key });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    // Both instances refused: the count lives in Redis, not in either process.
    expect(statuses.slice(6)).toEqual([429, 429, 429, 429, 429, 429]);
  });
});

describe('the demo over stdio', () => {
  it('serves the same tools to a client that launches it, with logs on stderr only', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...typeScriptNodeArgs(MAIN), '--transport', 'stdio'],
      env: { ...(process.env as Record<string, string>), LOG_LEVEL: 'info' },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const client = new Client({ name: 'stdio-host', version: '1' });
    await client.connect(transport);
    const result = await client.callTool({ name: 'get_record', arguments: { id: 'rec-1003' } });
    expect(text(result)).toContain('Refund not received');
    await expect
      .poll(() => stderr, { timeout: 10_000, message: 'the call line on stderr' })
      .toContain('"kind":"rpc"');
    await client.close();
  });
});

describe('starting and stopping the demo process', () => {
  /** Runs the demo with `env` until it exits by itself (or a deadline), and returns how it ended. */
  async function runUntilExit(env: Record<string, string>) {
    const child = spawn(process.execPath, typeScriptNodeArgs(MAIN), {
      env: { ...process.env, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const ended = await output.closed;
    clearTimeout(timer);
    return { ...ended, output: output.text() };
  }

  it.each([
    [
      'a malformed API_KEYS',
      { API_KEYS: 'mcpk_not-a-key' },
      'API_KEYS entry 1 is not an mcpk_<id>_<secret> key',
    ],
    ['a REDIS_URL without a host', { REDIS_URL: 'redis:6379' }, 'REDIS_URL must name a host'],
  ])('refuses %s with the bad-configuration message and exit 2, not a stack', async (_what, env, message) => {
    const ended = await runUntilExit(env);
    expect(ended.code).toBe(2);
    expect(ended.output).toContain(`demo: bad configuration: ${message}`);
    expect(ended.output).not.toMatch(/^\s+at /m);
  });

  it('exits 0 on SIGTERM sent while it is still starting', async () => {
    const child = spawn(process.execPath, typeScriptNodeArgs(MAIN), {
      env: { ...process.env, PORT: '0', AUTH_MODE: 'oauth' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await output.waitFor((t) => t.includes('starting'), 'the starting line');
    child.kill('SIGTERM');
    // Whether it was still starting or already serving, the signal is handled: exit 0, not killed by it.
    expect(await output.closed).toEqual({ code: 0, signal: null });
    clearTimeout(timer);
  });
});

describe('the demo with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  it('exports a span per call over OTLP/HTTP, and the log lines carry its ids', async () => {
    const receiver = new OtlpReceiver();
    const endpoint = new URL('/', await receiver.start()).href.replace(/\/$/, '');
    const demo = await startDemo({ AUTH_MODE: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    try {
      expect(demo.output()).toContain(`telemetry: OTLP to ${endpoint}`);
      const client = await connectClient(demo.url);
      await client.callTool({ name: 'get_record', arguments: { id: 'rec-1003' } });
      await client.close();
    } finally {
      // Stopping flushes the batch of spans not yet exported.
      await demo.stop();
      await receiver.close();
    }
    const span = receiver.spans().find((s) => s.name === 'tools/call get_record');
    expect(span?.resource['service.name']).toBe('mcp-middleware-demo');
    expect(span && attributesOf(span)['gen_ai.tool.name']).toBe('get_record');
    const line = demo
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['kind'] === 'rpc' && l['tool'] === 'get_record');
    expect(line?.['trace_id']).toBe(span?.traceId);
    expect(line?.['span_id']).toBe(span?.spanId);
  });
});
