import {
  fixtureServer,
  openRawSession,
  postJsonRpc,
  startTestServer,
  type TestServer,
} from '@mcp-middleware/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { rateLimit } from './rate-limit.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const echo = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: String(id) } },
});

describe('JSON-RPC batches at the HTTP layer', () => {
  it('charges a batch one unit per message, so batching does not multiply the limit', async () => {
    const limits = rateLimit({
      store: new MemoryStore(),
      policies: [{ name: 'per-client', limit: 8, window: '1m' }],
    });
    const s = await startTestServer({
      server: fixtureServer(),
      middleware: [limits],
      enableJsonResponse: true,
    });
    servers.push(s);
    // Batches exist only before protocol 2025-06-18. Initialize and its notification cost 2 of the 8.
    const session = await openRawSession(s.url, '2025-03-26');
    const batch = (from: number) => Array.from({ length: 3 }, (_, i) => echo(from + i));
    const first = await postJsonRpc(s.url, batch(1), session);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit')).toContain('r=3');
    await first.text();
    const second = await postJsonRpc(s.url, batch(4), session);
    expect(second.status).toBe(200);
    await second.text();
    // 2 + 3 + 3 = 8 units used: a third batch (or a single call) is refused.
    const third = await postJsonRpc(s.url, batch(7), session);
    expect(third.status).toBe(429);
    await third.text();
  });
});
