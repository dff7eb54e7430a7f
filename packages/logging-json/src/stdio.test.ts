import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeScriptNodeArgs } from '@mcp-middleware/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = join(here, 'test-stdio-server.ts');

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
});

/** Runs the stdio server, writes `messages` to its stdin one per line, and collects both outputs until it exits. */
async function runStdioServer(messages: unknown[], waitForIds: number[]) {
  const child = spawn(process.execPath, typeScriptNodeArgs(SERVER), {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // 'close', not 'exit': the log lines may still be in the pipe when the process has exited.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (const m of messages) child.stdin.write(`${JSON.stringify(m)}\n`);
  // Close stdin once every awaited answer is out: the server then exits on its own.
  const deadline = Date.now() + 15_000;
  while (!waitForIds.every((id) => stdout.includes(`"id":${id}`))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the stdio server did not answer (exit ${child.exitCode}); stderr:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.stdin.end();
  await exited;
  return { stdout, stderr };
}

describe('on a stdio server', () => {
  it('writes only JSON-RPC to stdout and every log line to stderr', async () => {
    const { stdout, stderr } = await runStdioServer(
      [
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
          },
        },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'logging/setLevel', params: { level: 'info' } },
        {
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'work', arguments: { apiKey: 'sk-stdio-Wn27' } },
        },
      ],
      [1, 2, 3],
    );

    const out = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(out.every((m) => m['jsonrpc'] === '2.0')).toBe(true);
    // The answers, and the one log notification at or above 'info' (the debug message stays on stderr only).
    const notifications = out.filter((m) => m['method'] === 'notifications/message');
    expect(notifications.map((m) => m['params'])).toEqual([
      { level: 'warning', logger: 'work', data: { message: 'upstream slow', apiKey: '[Redacted]' } },
    ]);
    expect(out.filter((m) => 'id' in m).map((m) => m['id'])).toEqual([1, 2, 3]);

    const logs = stderr
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // The three requests arrive together and run concurrently: only the tool call's own lines are ordered.
    const kinds = logs.map((l) => `${l['kind']} ${l['kind'] === 'tool' ? l['msg'] : l['method']}`);
    expect([...kinds].sort()).toEqual([
      'rpc initialize',
      'rpc logging/setLevel',
      'rpc tools/call',
      'tool starting',
      'tool upstream slow',
    ]);
    expect(kinds.indexOf('tool starting')).toBeLessThan(kinds.indexOf('tool upstream slow'));
    expect(kinds.indexOf('tool upstream slow')).toBeLessThan(kinds.indexOf('rpc tools/call'));
    const call = logs.find((l) => l['kind'] === 'rpc' && l['method'] === 'tools/call')!;
    const warning = logs.find((l) => l['msg'] === 'upstream slow')!;
    expect(call).toMatchObject({ tool: 'work', outcome: 'ok', rpcId: 3 });
    // The tool's correlation id is the call line's, and its answer carries it.
    const answer = out.find((m) => m['id'] === 3) as { result: { content: Array<{ text: string }> } };
    expect(answer.result.content[0]!.text).toBe(call['requestId']);
    expect(warning['requestId']).toBe(call['requestId']);
    expect(warning['data']).toEqual({ apiKey: '[Redacted]' });
    expect(`${stdout}${stderr}`).not.toContain('sk-stdio-Wn27');
  });
});
