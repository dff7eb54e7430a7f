import { connectClient } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Replica,
  type Proxy as RoundRobinProxy,
  startReplica,
  startRoundRobinProxy,
} from './replicas.js';

async function replicaBehind(proxy: RoundRobinProxy): Promise<string> {
  const res = await fetch(new URL('/replica', proxy.url));
  return `${res.status} ${await res.text()}`;
}

describe('the multi-replica test kit', () => {
  let replicas: Replica[] = [];
  let proxy: RoundRobinProxy;
  beforeAll(async () => {
    replicas = await Promise.all(['a', 'b'].map((name) => startReplica({ name })));
    proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
  });

  it('starts replica processes that say where they listen', () => {
    expect(replicas.map((r) => r.url.pathname)).toEqual(['/mcp', '/mcp']);
    expect(replicas[0]!.url.port).not.toBe(replicas[1]!.url.port);
  });

  it('sends requests to the targets in turn', async () => {
    proxy.route((n) => n % 2);
    expect([await replicaBehind(proxy), await replicaBehind(proxy), await replicaBehind(proxy)]).toEqual([
      '200 a',
      '200 b',
      '200 a',
    ]);
  });

  it('carries an MCP session (SSE responses included) to the target the route picks', async () => {
    proxy.route(() => 1);
    const client = await connectClient(new URL('/mcp', proxy.url));
    const result = await client.callTool({ name: 'replica', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'b' }]);
    await client.close();
  });

  it('answers 502 for a target that is down', async () => {
    const extra = await startReplica({ name: 'c' });
    const withDead = await startRoundRobinProxy([extra.url]);
    try {
      await extra.kill('SIGKILL');
      expect(await replicaBehind(withDead)).toBe('502 bad gateway');
    } finally {
      await withDead.close();
    }
  });
});
