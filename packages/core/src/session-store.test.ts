import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerFactory } from './handler.js';
import type { SessionRecord, SessionStore, SessionStoreEvents } from './session-store.js';
import {
  connectClient,
  identifyByHeader,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from './testing/index.js';

/**
 * The store contract kept in memory, shared by the handlers of one test as replicas share Redis: what a real store
 * does, minus the network. `down` makes every call reject, as an unreachable store does.
 */
class SharedMemory {
  readonly records = new Map<string, SessionRecord>();
  readonly replicas = new Map<string, Set<SessionStoreEvents>>();
  down = false;
  calls: string[] = [];

  store(replicaId: string): SessionStore {
    const shared = this;
    const listeners = new Set<SessionStoreEvents>();
    shared.replicas.set(replicaId, listeners);
    const guard = (name: string) => {
      shared.calls.push(`${replicaId}:${name}`);
      if (shared.down) throw new Error('store down');
    };
    return {
      replicaId,
      async create(record, { maxPerOwner }) {
        guard('create');
        if ([...shared.records.values()].filter((r) => r.owner === record.owner).length >= maxPerOwner)
          return false;
        shared.records.set(record.id, record);
        return true;
      },
      async load(id) {
        guard('load');
        return shared.records.get(id);
      },
      async touch(record) {
        guard('touch');
        return shared.records.has(record.id);
      },
      async setLogLevel(id, level) {
        guard('setLogLevel');
        const record = shared.records.get(id);
        if (record) shared.records.set(id, { ...record, logLevel: level });
      },
      async delete(id) {
        guard('delete');
        shared.records.delete(id);
        for (const set of shared.replicas.values()) for (const l of set) l.deleted(id);
      },
      async forward(replica, sessionId, messages) {
        guard('forward');
        for (const l of shared.replicas.get(replica) ?? [])
          l.forwarded(sessionId, [...messages] as JSONRPCMessage[]);
      },
      listen(events) {
        listeners.add(events);
        return () => listeners.delete(events);
      },
    };
  }
}

/** `whoami` names the replica; `ask` samples from the client on its call's stream. */
function replicaServer(name: string): ServerFactory {
  return ({ jsonSchemaValidator, sessionId }) => {
    const server = new McpServer({ name: 'r', version: '1' }, { jsonSchemaValidator });
    server.registerTool('whoami', {}, async () => ({
      content: [{ type: 'text', text: `${name} ${sessionId}` }],
    }));
    server.registerTool('ask', {}, async (extra) => {
      const answer = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 },
        },
        CreateMessageResultSchema,
      );
      return { content: [{ type: 'text', text: `${name}: ${(answer.content as { text: string }).text}` }] };
    });
    return server;
  };
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => s.handler.close({ drainTimeout: '50ms' }).then(() => s.close())),
  );
});

async function replicas(memory: SharedMemory, count: number, maxPerPrincipal?: number): Promise<URL[]> {
  for (let i = 0; i < count; i++) {
    servers.push(
      await startTestServer({
        server: replicaServer(`r${i}`),
        middleware: [identifyByHeader],
        sessions: { store: memory.store(`r${i}`), ...(maxPerPrincipal ? { maxPerPrincipal } : {}) },
        onError: () => {},
      }),
    );
  }
  return servers.map((s) => s.url);
}

async function openSession(url: URL, who: string): Promise<Record<string, string>> {
  const res = await postJsonRpc(url, initializeRequest(), { 'x-who': who });
  await res.text();
  expect(res.status).toBe(200);
  return {
    'mcp-session-id': res.headers.get('mcp-session-id')!,
    'mcp-protocol-version': '2025-11-25',
    'x-who': who,
  };
}

async function callTool(url: URL, headers: Record<string, string>, name: string): Promise<Response> {
  return postJsonRpc(
    url,
    { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {} } },
    headers,
  );
}

describe('sessions.store (session records any replica can restore)', () => {
  it('saves a record on initialize: digests of principal and owner, the client’s capabilities and info', async () => {
    const memory = new SharedMemory();
    const [url] = await replicas(memory, 1);
    const headers = await openSession(url!, 'alice');
    const record = memory.records.get(headers['mcp-session-id']!)!;
    expect(record.principal).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(record)).not.toContain('alice');
    expect(record.protocolVersion).toBe('2025-11-25');
    expect(record.clientInfo).toEqual({ name: 'raw', version: '1.0.0' });
    expect(record.clientCapabilities).toEqual({});
  });

  it('restores on another handler a session it does not hold, serving it under the same id', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    const res = await callTool(b!, headers, 'whoami');
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBe(headers['mcp-session-id']);
    expect(await res.text()).toContain(`r1 ${headers['mcp-session-id']}`);
    expect(servers[1]!.handler.host.sessions).toBe(1);
  });

  it('answers another principal 404 from the record, before reading the body or making a server', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    const stranger = await callTool(b!, { ...headers, 'x-who': 'mallory' }, 'whoami');
    const unknown = await callTool(
      b!,
      { ...headers, 'mcp-session-id': 'nope', 'x-who': 'mallory' },
      'whoami',
    );
    expect(stranger.status).toBe(404);
    expect(await stranger.text()).toBe(await unknown.text());
    expect(servers[1]!.handler.host.sessions).toBe(0);
    // Both took the same path: one load each.
    expect(memory.calls.filter((c) => c === 'r1:load')).toHaveLength(2);
  });

  it('answers 503 for unheld sessions while the store is down, and keeps serving the sessions it holds and new ones', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    memory.down = true;
    const held = await callTool(a!, headers, 'whoami');
    expect(held.status).toBe(200);
    await held.text();
    const elsewhere = await callTool(b!, headers, 'whoami');
    expect(elsewhere.status).toBe(503);
    expect(elsewhere.headers.get('retry-after')).toBe('5');
    // A new session starts on this handler alone; its record is saved by a touch once the store is back.
    const fresh = await postJsonRpc(a!, initializeRequest(), { 'x-who': 'alice' });
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();
    const freshId = fresh.headers.get('mcp-session-id')!;
    expect(memory.records.has(freshId)).toBe(false);
    const call = await callTool(a!, { ...headers, 'mcp-session-id': freshId }, 'whoami');
    expect(call.status).toBe(200);
    await call.text();
  });

  it('refuses an initialize whose client info would make an oversized record', async () => {
    const memory = new SharedMemory();
    const [a] = await replicas(memory, 1);
    const init = initializeRequest() as { params: { clientInfo: Record<string, string> } };
    init.params.clientInfo = { name: 'x'.repeat(20_000), version: '1' };
    const res = await postJsonRpc(a!, init, { 'x-who': 'alice' });
    expect(res.status).toBe(400);
    expect(memory.records.size).toBe(0);
  });

  it('refuses a session beyond the principal’s share counted by the store across handlers', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2, 1);
    await openSession(a!, 'alice');
    const second = await postJsonRpc(b!, initializeRequest(), { 'x-who': 'alice' });
    expect(second.status).toBe(429);
    expect(servers[1]!.handler.host.sessionsRefused).toBe(1);
  });

  it('ends an evicted session everywhere: its record goes before the new one is counted', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2, 1);
    const first = await openSession(a!, 'alice');
    // alice's share is 1: her idle session on a makes room for the new one.
    const second = await openSession(a!, 'alice');
    expect([...memory.records.keys()]).toEqual([second['mcp-session-id']]);
    expect((await callTool(b!, first, 'whoami')).status).toBe(404);
    expect((await callTool(b!, second, 'whoami')).status).toBe(200);
  });

  it('deletes the record on DELETE and the handler holding the session drops it when told', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    const res = await fetch(b!, { method: 'DELETE', headers });
    expect(res.status).toBe(200);
    expect(memory.records.size).toBe(0);
    await waitFor(() => servers[0]!.handler.host.sessions === 0, 'a to drop the deleted session');
  });

  it('keeps the record when a handler closes: another replica takes the session over', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    await servers[0]!.handler.close();
    expect(memory.records.size).toBe(1);
    expect((await callTool(b!, headers, 'whoami')).status).toBe(200);
  });

  it('prefixes the ids of server-to-client requests with the replica and takes the prefix off their answers', async () => {
    const memory = new SharedMemory();
    const [a] = await replicas(memory, 2);
    const ids: unknown[] = [];
    const client = await connectClient(a!, { capabilities: { sampling: {} }, headers: { 'x-who': 'alice' } });
    client.setRequestHandler(CreateMessageRequestSchema, async (_request, extra) => {
      ids.push(extra.requestId);
      return { role: 'assistant', model: 'm', content: { type: 'text', text: 'pong' } };
    });
    const result = await client.callTool({ name: 'ask', arguments: {} });
    expect((result.content as Array<{ text: string }>)[0]!.text).toBe('r0: pong');
    expect(ids).toEqual([expect.stringMatching(/^r0:\d+$/)]);
    await client.close();
  });

  it('forwards a posted answer for another replica’s request to it and answers 202', async () => {
    const memory = new SharedMemory();
    const [a, b] = await replicas(memory, 2);
    const headers = await openSession(a!, 'alice');
    const delivered: unknown[] = [];
    memory.replicas.get('r0')!.add({ deleted: () => {}, forwarded: (_id, m) => void delivered.push(...m) });
    const answer = {
      jsonrpc: '2.0',
      id: 'r0:12',
      result: { role: 'assistant', model: 'm', content: { type: 'text', text: 'x' } },
    };
    const res = await postJsonRpc(b!, answer, headers);
    expect(res.status).toBe(202);
    expect(delivered).toEqual([answer]);
    // b forwarded without making a copy of the session; a stranger cannot forward at all.
    expect(servers[1]!.handler.host.sessions).toBe(0);
    const stranger = await postJsonRpc(b!, answer, { ...headers, 'x-who': 'mallory' });
    expect(stranger.status).toBe(404);
    expect(delivered).toHaveLength(1);
  });

  it('fails a restore with a clear error, and no half-restored session, when the server is not an SDK v1 server', async () => {
    const memory = new SharedMemory();
    const errors: string[] = [];
    const [a] = await replicas(memory, 1);
    servers.push(
      await startTestServer({
        // Connects like a server, but has none of the SDK v1 Server's fields for the client's capabilities.
        // No middleware, so no RPC layer checks the server's shape first: the restore itself must.
        server: () => ({ connect: async () => {}, close: async () => {} }),
        sessions: { store: memory.store('odd') },
        onError: (error) => void errors.push(String(error)),
      }),
    );
    const headers = await openSession(a!, '');
    const res = await callTool(servers[1]!.url, headers, 'whoami');
    expect(res.status).toBe(500);
    expect(errors.join('\n')).toContain('restoring a session needs an SDK v1 McpServer or Server');
    expect(servers[1]!.handler.host.sessions).toBe(0);
  });
});
