import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';
import { typeScriptNodeArgs, waitFor } from './testing/index.js';

const child = fileURLToPath(new URL('./test-v2-stdio-server.ts', import.meta.url));

async function connect(era: 'legacy' | 'modern'): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: typeScriptNodeArgs(child),
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const client = new Client(
    { name: `stdio-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(transport);
  return { client, stderr: () => err };
}

const textOf = (result: { content?: unknown }) =>
  (result.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '';

describe.each(['legacy', 'modern'] as const)('SDK v2 serveStdio with wrapServer, %s era', (era) => {
  it('runs RPC middleware for each call; the tool reads what it stored; refusals reach the client', async () => {
    const { client, stderr } = await connect(era);
    try {
      expect(textOf(await client.callTool({ name: 'order', arguments: {} }))).toBe('["policy"]');
      await expect(client.callTool({ name: 'forbidden', arguments: {} })).rejects.toMatchObject({
        code: -32003,
      });
      await waitFor(() => stderr().includes('"tool":"order"'), 'the call line on stderr');
      const line = stderr()
        .split('\n')
        .find((l) => l.includes('"tool":"order"'));
      expect(JSON.parse(line!).version).toBe(era === 'modern' ? '2026-07-28' : null);
    } finally {
      await client.close();
    }
  }, 20_000);
});
