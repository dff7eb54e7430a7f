import { fileURLToPath } from 'node:url';
import { postJsonRpc, RedisServerProcess, waitFor } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routedClient, textOf } from './test-records.js';
import {
  type Replica,
  type Proxy as RoundRobinProxy,
  startReplica,
  startRoundRobinProxy,
} from './testing/replicas.js';

const SCRIPT = fileURLToPath(new URL('./test-replica-records.ts', import.meta.url));

describe('session records across replica processes behind a round-robin proxy (no affinity)', () => {
  let redisServer: RedisServerProcess;
  let replicas: Replica[] = [];
  let proxy: RoundRobinProxy;
  const mcp = () => new URL('/mcp', proxy.url);

  beforeAll(async () => {
    // A private Redis: the outage test stops and restarts it.
    redisServer = await RedisServerProcess.start();
    const env = { REDIS_URL: redisServer.url, PREFIX: 'replicas:' };
    replicas = await Promise.all(['a', 'b', 'c'].map((name) => startReplica({ name, env, script: SCRIPT })));
    proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    await redisServer?.destroy();
  });

  /** Requests go where `pick` says; `0` is replica a. */
  const connect = (pick: (n: number, method: string) => number, who = 'alice') => {
    proxy.route((n, req) => pick(n, req.method ?? 'GET'));
    return routedClient([mcp()], () => 0, { 'x-who': who });
  };

  it('keeps a session created on replica a working when every later request goes to b or c', async () => {
    const { client, transport } = await connect((n) => (n === 0 ? 0 : 1 + (n % 2)));
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) answers.add(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect([...answers].sort()).toEqual([`b ${transport.sessionId}`, `c ${transport.sessionId}`]);
    await client.close();
  });

  it('samples from the client in a session restored on b while the client’s answer lands on c', async () => {
    // initialize and the GET stream on a; the tool call's POST on b; the client's answer (the next POST) on c.
    let posts = 0;
    const { client } = await connect(() => 0);
    proxy.route((_n, req) => (req.method !== 'POST' ? 0 : posts++ === 0 ? 1 : 2));
    const result = await client.callTool({ name: 'ask', arguments: { question: 'far?' } });
    expect(textOf(result)).toBe('b asked, client said far? ok');
    expect(posts).toBe(2);
    await client.close();
  });

  it('answers a foreign principal 404 for someone else’s session on every replica, as for an unknown one', async () => {
    const { client, transport } = await connect(() => 0);
    const headers = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    for (let target = 0; target < 3; target++) {
      proxy.route(() => target);
      const stranger = await postJsonRpc(mcp(), call, { ...headers, 'x-who': 'mallory' });
      const unknown = await postJsonRpc(mcp(), call, {
        ...headers,
        'mcp-session-id': crypto.randomUUID(),
        'x-who': 'mallory',
      });
      expect(stranger.status).toBe(404);
      const body = await stranger.text();
      expect(body).toBe(await unknown.text());
      expect(body).not.toContain(transport.sessionId!);
    }
    proxy.route(() => 1);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe(`b ${transport.sessionId}`);
    await client.close();
  });

  it('survives Redis stopping and restarting: no crash, sessions held keep working, restores resume', async () => {
    let target = 0;
    const { client, transport } = await connect(() => target);
    proxy.route(() => target);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/^a /);

    await redisServer.stop();
    for (let i = 0; i < 3; i++) {
      expect(textOf(await client.callTool({ name: 'ask', arguments: { question: `q${i}` } }))).toBe(
        `a asked, client said q${i} ok`,
      );
    }
    const headers = {
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': '2025-11-25',
      'x-who': 'alice',
    };
    target = 2;
    const refused = await postJsonRpc(mcp(), { jsonrpc: '2.0', id: 4, method: 'tools/list' }, headers);
    expect(refused.status).toBe(503);
    await refused.text();
    await replicas[2]!.output.waitFor((text) => text.includes('Redis unreachable'), 'c to log the outage');

    await redisServer.start();
    target = 0;
    // a saves the record the restart lost on its next touch; then c restores the session.
    await client.callTool({ name: 'whoami', arguments: {} });
    target = 2;
    await waitFor(
      async () => {
        const res = await postJsonRpc(mcp(), { jsonrpc: '2.0', id: 5, method: 'tools/list' }, headers);
        await res.text();
        if (res.status !== 200) {
          target = 0;
          await client.callTool({ name: 'whoami', arguments: {} });
          target = 2;
        }
        return res.status === 200;
      },
      'c to restore the session after Redis came back',
      15_000,
    );
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe(`c ${transport.sessionId}`);
    for (const r of replicas) {
      expect(r.output.text()).not.toMatch(/Uncaught|unhandled/i);
      expect(r.output.text()).not.toContain(transport.sessionId!);
    }
    await client.close();
  }, 30_000);
});
