import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  connectClient,
  initializeRequest,
  postJsonRpc,
  typeScriptNodeArgs,
  waitFor,
} from '@mcp-middleware/core/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { stopProcess, textOf } from './test-fixtures.js';

// Plain `node` with tsx's loader, not tsx's CLI: the CLI relays signals itself, which would blur what we observe.
const children: ChildProcess[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(children.splice(0).map((c) => stopProcess(c)));
});

/** Starts the child server and resolves with its base URL. */
async function startChild(): Promise<{ child: ChildProcess; baseUrl: URL; exited: Promise<unknown[]> }> {
  const child = spawn(
    process.execPath,
    typeScriptNodeArgs(fileURLToPath(new URL('./test-signal-child.ts', import.meta.url))),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`child did not start within 20 s:\n${stderr}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const end = stdout.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code} before listening:\n${stderr}`));
    });
  });
  return { child, baseUrl: new URL((JSON.parse(line) as { url: string }).url), exited };
}

async function status(url: URL): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

describe('on SIGTERM (in a child process)', () => {
  it('fails readiness, finishes the in-flight call while refusing new requests, then exits 0', async () => {
    const { child, baseUrl, exited } = await startChild();
    const mcp = new URL('/mcp', baseUrl);
    const client = await connectClient(mcp);
    clients.push(client);
    expect(await status(new URL('/readyz', baseUrl))).toBe(200);

    const slow = client.callTool({ name: 'slow', arguments: { ms: 3000 } });
    await waitFor(async () => {
      const body = (await (await fetch(new URL('/test/in-flight', baseUrl))).json()) as { inFlight: number };
      return body.inFlight === 1;
    }, 'the call to be in flight');
    child.kill('SIGTERM');

    await waitFor(async () => (await status(new URL('/readyz', baseUrl))) === 503, 'readiness to fail', 2000);
    const refused = await postJsonRpc(mcp, initializeRequest());
    expect(refused.status).toBe(503);
    await refused.body?.cancel();

    expect(textOf(await slow)).toBe('waited 3000');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('ends at once on a second signal during the drain', async () => {
    const { child, baseUrl, exited } = await startChild();
    const client = await connectClient(new URL('/mcp', baseUrl));
    clients.push(client);
    void client.callTool({ name: 'slow', arguments: { ms: 10_000 } }).catch(() => {});
    await waitFor(async () => {
      const body = (await (await fetch(new URL('/test/in-flight', baseUrl))).json()) as { inFlight: number };
      return body.inFlight === 1;
    }, 'the call to be in flight');
    const started = performance.now();
    child.kill('SIGINT');
    await waitFor(async () => (await status(new URL('/readyz', baseUrl))) === 503, 'readiness to fail', 2000);
    child.kill('SIGINT');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
