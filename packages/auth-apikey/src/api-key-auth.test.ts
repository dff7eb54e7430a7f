import { inspect } from 'node:util';
import type { Route } from '@mcp-middleware/core';
import {
  connectClient,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ApiKeyAuthOptions, type ApiKeyFailure, apiKeyAuth } from './api-key-auth.js';
import { generateApiKey } from './generate.js';
import { type ApiKeyRecord, type KeyLookupOptions, type KeyStore, MemoryKeyStore } from './key-store.js';
import { fixtureServer, type ToolProbe } from './test-fixtures.js';

/** A store in front of a MemoryKeyStore whose lookups fail for chosen ids: a database that is down. */
class FailingStore implements KeyStore {
  constructor(
    private readonly inner: KeyStore,
    private readonly failing: ReadonlySet<string>,
  ) {}
  find(id: string, options: KeyLookupOptions): Promise<ApiKeyRecord | undefined> {
    if (this.failing.has(id)) return Promise.reject(new Error(`connection refused while reading key ${id}`));
    return this.inner.find(id, options);
  }
}

/** A store that never answers until its lookup is aborted: a database that hangs. */
class HangingStore implements KeyStore {
  readonly aborted: unknown[] = [];
  find(_id: string, { signal }: KeyLookupOptions): Promise<ApiKeyRecord | undefined> {
    return new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        this.aborted.push(signal.reason);
        reject(signal.reason);
      });
    });
  }
}

function secretOf(key: string): string {
  return key.slice('mcpk_0123456789abcdef_'.length);
}

let server: TestServer | undefined;
let clients: Client[] = [];

afterEach(async () => {
  for (const client of clients) await client.close().catch(() => {});
  clients = [];
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
});

async function start(
  options: ApiKeyAuthOptions,
  extra: { probe?: ToolProbe; routes?: Route[]; onError?: (e: unknown) => void } = {},
): Promise<TestServer> {
  server = await startTestServer({
    server: fixtureServer(extra.probe),
    middleware: [apiKeyAuth(options)],
    ...(extra.routes ? { routes: extra.routes } : {}),
    ...(extra.onError ? { onError: extra.onError } : {}),
  });
  return server;
}

async function connect(headers: Record<string, string>): Promise<Client> {
  const client = await connectClient(server!.url, { headers });
  clients.push(client);
  return client;
}

async function whoami(client: Client): Promise<string> {
  const result = await client.callTool({ name: 'whoami' });
  return (result.content as Array<{ text: string }>)[0]!.text;
}

/** A raw initialize with the given headers, the response body parsed. */
async function rawInitialize(headers: Record<string, string>) {
  const response = await postJsonRpc(server!.url, initializeRequest(), headers);
  const text = await response.text();
  return {
    response,
    text,
    body: JSON.parse(text) as {
      id: unknown;
      error: { code: number; message: string; data: { reason: string } };
    },
  };
}

describe('apiKeyAuth', () => {
  describe('with a valid key', () => {
    it('lets the SDK client in, and the tool sees AuthInfo with the key id, scopes, owner and tenant', async () => {
      const { key, record } = generateApiKey({
        owner: 'alice',
        tenant: 'acme',
        scopes: ['read', 'write'],
        name: 'laptop',
        expiresAt: '2030-01-01T00:00:00Z',
      });
      const probe: ToolProbe = { authInfos: [] };
      await start({ store: new MemoryKeyStore([record]) }, { probe });
      const client = await connect({ 'x-api-key': key });
      expect(await whoami(client)).toBe(record.id);
      expect(probe.authInfos[0]).toEqual({
        token: `mcpk_${record.id}`,
        clientId: record.id,
        scopes: ['read', 'write'],
        expiresAt: Date.parse('2030-01-01T00:00:00Z') / 1000,
        extra: { subject: 'alice', owner: 'alice', tenant: 'acme', keyId: record.id, keyName: 'laptop' },
      });
    });

    it('accepts it as Authorization: Bearer as well as in the x-api-key header', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      await start({ store: new MemoryKeyStore([record]) });
      expect(await whoami(await connect({ authorization: `Bearer ${key}` }))).toBe(record.id);
      expect(await whoami(await connect({ 'x-api-key': key }))).toBe(record.id);
    });

    it('reads a configured header name instead of x-api-key', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      await start({ store: new MemoryKeyStore([record]), header: 'X-Team-Key' });
      expect(await whoami(await connect({ 'x-team-key': key }))).toBe(record.id);
      const { response, body } = await rawInitialize({ 'x-api-key': key });
      expect(response.status).toBe(401);
      expect(body.error.data.reason).toBe('missing');
    });

    it('refuses a bearer key when bearer is off', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      await start({ store: new MemoryKeyStore([record]), bearer: false });
      const { response, body } = await rawInitialize({ authorization: `Bearer ${key}` });
      expect(response.status).toBe(401);
      expect(body.error.data.reason).toBe('missing');
      expect(body.error.message).not.toContain('Bearer');
    });
  });

  describe('when the key is missing', () => {
    it('answers 401 with a JSON-RPC error (id null), reason missing, and an ApiKey challenge', async () => {
      const failures: ApiKeyFailure[] = [];
      await start({ store: new MemoryKeyStore(), onFailure: (f) => void failures.push(f) });
      const { response, body } = await rawInitialize({ 'x-request-id': 'req-missing-1' });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.headers.get('www-authenticate')).toBe('ApiKey header="x-api-key"');
      expect(body).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32005,
          message: 'Unauthorized: an API key is required in the x-api-key header or as Authorization: Bearer',
          data: { reason: 'missing' },
        },
      });
      expect(failures).toEqual([
        { reason: 'missing', keyId: undefined, clientAddress: '127.0.0.1', requestId: 'req-missing-1' },
      ]);
    });

    it('makes the SDK client fail to connect with HTTP 401', async () => {
      await start({ store: new MemoryKeyStore() });
      const error = await connect({}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamableHTTPError);
      expect((error as StreamableHTTPError).code).toBe(401);
      expect((error as Error).message).toContain('"reason":"missing"');
    });
  });

  describe('when the key is malformed', () => {
    it.each([
      ['a key with another prefix', (k: string) => k.replace('mcpk_', 'sk_')],
      ['a truncated key', (k: string) => k.slice(0, -1)],
      ['a key with a character too many', (k: string) => `${k}x`],
      ['a key in the wrong Authorization scheme', (k: string) => ({ authorization: `Basic ${k}` })],
      [
        'two different keys',
        (k: string) => ({ 'x-api-key': k, authorization: `Bearer ${generateApiKey({ owner: 'x' }).key}` }),
      ],
    ])('answers 401 malformed for %s, and reports no key id', async (_what, mangle) => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const failures: ApiKeyFailure[] = [];
      await start({ store: new MemoryKeyStore([record]), onFailure: (f) => void failures.push(f) });
      const mangled = mangle(key);
      const headers = typeof mangled === 'string' ? { 'x-api-key': mangled } : mangled;
      const { response, body } = await rawInitialize(headers);
      expect(response.status).toBe(401);
      expect(body.error.code).toBe(-32005);
      expect(body.error.data.reason).toBe('malformed');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ reason: 'malformed', keyId: undefined });
    });
  });

  describe('when the key id is unknown or the secret is wrong', () => {
    it('answers both with the same 401 invalid_key, and tells only onFailure which it was', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const stranger = generateApiKey({ owner: 'mallory' }).key;
      const wrongSecret = `mcpk_${record.id}_${secretOf(stranger)}`;
      const failures: ApiKeyFailure[] = [];
      await start({ store: new MemoryKeyStore([record]), onFailure: (f) => void failures.push(f) });

      const unknown = await rawInitialize({ 'x-api-key': stranger });
      const wrong = await rawInitialize({ 'x-api-key': wrongSecret });
      expect(unknown.response.status).toBe(401);
      expect(wrong.response.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
      expect(unknown.body.error).toEqual({
        code: -32005,
        message: 'Unauthorized: the API key is not valid',
        data: { reason: 'invalid_key' },
      });
      expect(failures.map((f) => [f.reason, f.keyId])).toEqual([
        ['unknown_key', stranger.slice(5, 21)],
        ['invalid_secret', record.id],
      ]);
      // The genuine key still works.
      expect(await whoami(await connect({ 'x-api-key': key }))).toBe(record.id);
    });
  });

  describe('when the key has expired', () => {
    it('answers 401 expired to its holder, and invalid_key to anyone with the wrong secret', async () => {
      const { key, record } = generateApiKey({ owner: 'alice', expiresAt: '2026-01-01T00:00:00Z' });
      const failures: ApiKeyFailure[] = [];
      await start({ store: new MemoryKeyStore([record]), onFailure: (f) => void failures.push(f) });
      const expired = await rawInitialize({ authorization: `Bearer ${key}` });
      expect(expired.response.status).toBe(401);
      expect(expired.body.error).toEqual({
        code: -32005,
        message: 'Unauthorized: the API key has expired',
        data: { reason: 'expired' },
      });
      const guess = await rawInitialize({
        'x-api-key': `mcpk_${record.id}_${secretOf(generateApiKey({ owner: 'x' }).key)}`,
      });
      expect(guess.body.error.data.reason).toBe('invalid_key');
      expect(failures.map((f) => f.reason)).toEqual(['expired', 'invalid_secret']);
    });
  });

  describe('when the key is revoked', () => {
    it('answers 401 revoked, from the very next request of an open session, with the cache off', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const store = new MemoryKeyStore([record]);
      await start({ store, cache: false });
      const client = await connect({ 'x-api-key': key });
      expect(await whoami(client)).toBe(record.id);

      store.revoke(record.id);
      const error = await whoami(client).catch((e: unknown) => e);
      expect((error as StreamableHTTPError).code).toBe(401);
      expect((error as Error).message).toContain('"reason":"revoked"');
      const { body } = await rawInitialize({ 'x-api-key': key });
      expect(body.error.data.reason).toBe('revoked');
    });

    it('keeps working until a revocation scheduled for later, and reports that end as expiresAt', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const store = new MemoryKeyStore([record]);
      store.revoke(record.id, '2030-06-01T00:00:00Z');
      const probe: ToolProbe = { authInfos: [] };
      await start({ store }, { probe });
      expect(await whoami(await connect({ 'x-api-key': key }))).toBe(record.id);
      expect(probe.authInfos[0]?.expiresAt).toBe(Date.parse('2030-06-01T00:00:00Z') / 1000);
    });
  });

  describe('the verified-key cache', () => {
    /** A MemoryKeyStore that counts lookups per id: how often the middleware asked. */
    class CountingStore implements KeyStore {
      readonly lookups = new Map<string, number>();
      constructor(readonly inner: MemoryKeyStore) {}
      find(id: string, options: KeyLookupOptions): Promise<ApiKeyRecord | undefined> {
        this.lookups.set(id, (this.lookups.get(id) ?? 0) + 1);
        return this.inner.find(id, options);
      }
    }

    it('looks a key up once, then answers its next requests from the cache', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const store = new CountingStore(new MemoryKeyStore([record]));
      await start({ store, cache: { ttl: '1h' } });
      const client = await connect({ 'x-api-key': key });
      for (let i = 0; i < 5; i++) expect(await whoami(client)).toBe(record.id);
      expect(store.lookups.get(record.id)).toBe(1);
      // A wrong secret for the same id is not a cache hit: it is looked up and refused.
      const wrong = `${key.slice(0, 22)}${key[22] === 'A' ? 'B' : 'A'}${key.slice(23)}`;
      const { body } = await rawInitialize({ 'x-api-key': wrong });
      expect(body.error.data.reason).toBe('invalid_key');
      expect(store.lookups.get(record.id)).toBe(2);
    });

    it('honours a revocation within its ttl', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const store = new MemoryKeyStore([record]);
      await start({ store, cache: { ttl: '300ms' } });
      const client = await connect({ 'x-api-key': key });
      expect(await whoami(client)).toBe(record.id);
      store.revoke(record.id);
      // Refused once the entry is older than the ttl; the deadline is generous, the bound is the ttl.
      let refusal: unknown;
      await waitFor(async () => {
        refusal = await whoami(client).catch((e: unknown) => e);
        return refusal instanceof StreamableHTTPError;
      }, 'the revoked key to be refused');
      expect((refusal as StreamableHTTPError).code).toBe(401);
      expect((refusal as Error).message).toContain('"reason":"revoked"');
    });

    it('never serves a key past its own expiry', async () => {
      const expiresAt = new Date(Date.now() + 1500);
      const { key, record } = generateApiKey({ owner: 'alice', expiresAt });
      await start({ store: new MemoryKeyStore([record]), cache: { ttl: '1h' } });
      const client = await connect({ 'x-api-key': key });
      expect(await whoami(client)).toBe(record.id);
      await waitFor(async () => {
        const error = await whoami(client).catch((e: unknown) => e);
        return error instanceof StreamableHTTPError && error.message.includes('"reason":"expired"');
      }, 'the expired key to be refused');
    });

    it('stays bounded by maxKeys while many keys come and go', async () => {
      const keys = Array.from({ length: 40 }, () => generateApiKey({ owner: 'churn' }));
      const auth = apiKeyAuth({
        store: new MemoryKeyStore(keys.map((k) => k.record)),
        cache: { maxKeys: 8 },
      });
      server = await startTestServer({ server: fixtureServer(), middleware: [auth] });
      for (const { key } of keys) {
        const res = await postJsonRpc(server.url, initializeRequest(), { 'x-api-key': key });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        expect(auth.cachedKeys).toBeLessThanOrEqual(8);
      }
      expect(auth.cachedKeys).toBe(8);
    });

    it('throws a TypeError for bad cache options', () => {
      const store = new MemoryKeyStore();
      expect(() => apiKeyAuth({ store, cache: 'yes' as never })).toThrow(/cache must be/);
      expect(() => apiKeyAuth({ store, cache: { maxKeys: -1 } })).toThrow(/cache.maxKeys/);
      expect(() => apiKeyAuth({ store, cache: { ttl: 'soon' as never } })).toThrow(/cache.ttl/);
    });
  });

  describe('when an owner rotates keys', () => {
    it('accepts old and new keys side by side until the old one is revoked, then only the new one', async () => {
      const old = generateApiKey({ owner: 'alice', tenant: 'acme', scopes: ['read'] });
      const store = new MemoryKeyStore([old.record]);
      await start({ store, cache: false });
      const before = await connect({ 'x-api-key': old.key });

      const fresh = generateApiKey({ owner: 'alice', tenant: 'acme', scopes: ['read'] });
      store.add(fresh.record);
      const after = await connect({ 'x-api-key': fresh.key });
      expect(await whoami(before)).toBe(old.record.id);
      expect(await whoami(after)).toBe(fresh.record.id);
      expect(store.list('alice')).toHaveLength(2);

      store.revoke(old.record.id);
      expect(((await whoami(before).catch((e: unknown) => e)) as StreamableHTTPError).code).toBe(401);
      expect(await whoami(after)).toBe(fresh.record.id);
      expect(await whoami(await connect({ authorization: `Bearer ${fresh.key}` }))).toBe(fresh.record.id);
    });
  });

  describe('per-tool scopes', () => {
    const policy = { tools: { admin_reset: ['admin'], echo: ['read'] } };

    it('hides from tools/list what the key may not call, and refuses tools/call of it with -32003', async () => {
      const reader = generateApiKey({ owner: 'alice', scopes: ['read'] });
      const admin = generateApiKey({ owner: 'root', scopes: ['read', 'admin'] });
      const probe: ToolProbe = { authInfos: [] };
      await start(
        { store: new MemoryKeyStore([reader.record, admin.record]), toolScopes: policy },
        { probe },
      );

      const asReader = await connect({ 'x-api-key': reader.key });
      const { tools } = await asReader.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'whoami']);
      const refused = (await asReader.callTool({ name: 'admin_reset' }).catch((e: unknown) => e)) as McpError;
      expect(refused.code).toBe(-32003);
      expect(refused.message).toContain("tool 'admin_reset' requires scope admin");
      expect(refused.data).toEqual({ required: ['admin'], missing: ['admin'] });
      expect(probe.authInfos).toHaveLength(0);

      const asAdmin = await connect({ 'x-api-key': admin.key });
      expect((await asAdmin.listTools()).tools.map((t) => t.name).sort()).toEqual([
        'admin_reset',
        'echo',
        'whoami',
      ]);
      const reset = await asAdmin.callTool({ name: 'admin_reset' });
      expect(reset.content).toEqual([{ type: 'text', text: 'reset' }]);
    });

    it('adds no RPC layer when no policy is given', () => {
      expect(apiKeyAuth({ store: new MemoryKeyStore() }).rpc).toBeUndefined();
      expect(apiKeyAuth({ store: new MemoryKeyStore(), toolScopes: policy }).rpc).toBeTypeOf('function');
    });
  });

  describe('routes', () => {
    it('leaves unprotected routes alone and guards protected ones', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      await start(
        { store: new MemoryKeyStore([record]) },
        {
          routes: [
            { path: '/livez', handle: () => new Response('ok') },
            {
              path: '/admin/stats',
              protected: true,
              handle: (_req, ctx) => new Response(ctx.authInfo?.clientId),
            },
          ],
        },
      );
      expect((await fetch(new URL('/livez', server!.baseUrl))).status).toBe(200);
      expect((await fetch(new URL('/admin/stats', server!.baseUrl))).status).toBe(401);
      const allowed = await fetch(new URL('/admin/stats', server!.baseUrl), {
        headers: { 'x-api-key': key },
      });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toBe(record.id);
    });
  });

  describe('when the key store fails', () => {
    it('answers 503 with Retry-After (the key may be good), and reports the error to onStoreError', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const errors: Array<{ error: unknown; keyId: string }> = [];
      await start({
        store: new FailingStore(new MemoryKeyStore([record]), new Set([record.id])),
        onStoreError: (error, info) => void errors.push({ error, keyId: info.keyId }),
      });
      const { response, body, text } = await rawInitialize({ 'x-api-key': key });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(body.error.message).toBe('Service Unavailable: the API key cannot be checked right now');
      expect(text).not.toContain('connection refused');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.keyId).toBe(record.id);
      expect((errors[0]!.error as Error).message).toContain('connection refused');
    });

    it('answers 503 within lookupTimeout (plus a margin) when the store hangs, and aborts the lookup', async () => {
      const { key } = generateApiKey({ owner: 'alice' });
      const store = new HangingStore();
      const errors: unknown[] = [];
      await start({ store, lookupTimeout: '100ms', onStoreError: (e) => void errors.push(e) });
      const began = performance.now();
      const { response } = await rawInitialize({ 'x-api-key': key });
      const took = performance.now() - began;
      expect(response.status).toBe(503);
      expect(took).toBeLessThan(100 + 2000);
      expect(store.aborted).toHaveLength(1);
      expect(String(errors[0])).toContain('timed out after 100 ms');
    });
  });

  describe('key material', () => {
    it('never appears in any response, hook argument, log line or AuthInfo, whatever happens', async () => {
      const captured: string[] = [];
      const capture = (...args: unknown[]) =>
        captured.push(args.map((a) => inspect(a, { depth: 10 })).join(' '));
      for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
        vi.spyOn(console, level).mockImplementation(capture);
      }

      const good = generateApiKey({ owner: 'alice', tenant: 'acme', scopes: ['read'] });
      const expired = generateApiKey({ owner: 'bob', expiresAt: '2025-01-01T00:00:00Z' });
      const revoked = generateApiKey({ owner: 'carol' });
      const broken = generateApiKey({ owner: 'dave' }); // its store lookup fails
      const unknown = generateApiKey({ owner: 'nobody' });
      const wrong = `mcpk_${good.record.id}_${secretOf(generateApiKey({ owner: 'x' }).key)}`;
      const store = new MemoryKeyStore([good.record, expired.record, revoked.record, broken.record]);
      store.revoke(revoked.record.id);
      const presented = [good.key, expired.key, revoked.key, broken.key, unknown.key, wrong];

      const probe: ToolProbe = { authInfos: [] };
      let failures = 0;
      // No onStoreError: the default one logs to the console, which is captured.
      await start(
        {
          store: new FailingStore(store, new Set([broken.record.id])),
          toolScopes: { tools: { admin_reset: ['admin'] } },
          onFailure: (f) => {
            failures++;
            capture(f);
          },
        },
        { probe, onError: capture },
      );

      // Every byte the server sends to the SDK client, whether it gets in or not.
      const recordingFetch = async (input: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(input, init);
        const copy = response.clone();
        captured.push(`${response.status} ${inspect([...copy.headers])} ${await copy.text()}`);
        return response;
      };
      const sdkClient = async (headers: Record<string, string>) => {
        const client = new Client({ name: 'recorder', version: '1.0.0' });
        clients.push(client);
        await client.connect(
          new StreamableHTTPClientTransport(server!.url, { requestInit: { headers }, fetch: recordingFetch }),
        );
        return client;
      };

      const client = await sdkClient({ authorization: `Bearer ${good.key}` });
      await client.listTools();
      await whoami(client);
      await client.callTool({ name: 'admin_reset' }).catch((e: unknown) => capture(e));
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      for (const key of presented.slice(1)) {
        await sdkClient({ 'x-api-key': key }).catch((e: unknown) => capture(e));
      }
      const attempts: Array<Record<string, string>> = [
        { 'x-api-key': `${good.key}!` },
        { 'x-api-key': good.key.slice(0, -2) },
        { authorization: `Basic ${good.key}` },
        { authorization: `Token ${good.key}` },
        { 'x-api-key': good.key, authorization: `Bearer ${wrong}` },
        { 'x-api-key': secretOf(good.key) },
      ];
      for (const headers of attempts) {
        const { response, text } = await rawInitialize(headers);
        captured.push(`${response.status} ${inspect([...response.headers])} ${text}`);
      }
      captured.push(JSON.stringify(probe.authInfos));

      // The capture saw real traffic: refusals were reported and the store failure was logged.
      expect(failures).toBe(presented.length - 2 + attempts.length);
      expect(captured.some((line) => line.includes('key store lookup failed'))).toBe(true);
      expect(captured.some((line) => line.includes('"reason":"revoked"'))).toBe(true);
      expect(probe.authInfos.length).toBeGreaterThan(0);
      const everything = captured.join('\n');
      for (const key of presented) {
        expect(everything).not.toContain(key);
        expect(everything).not.toContain(secretOf(key));
        // Not even a recognisable piece of a secret.
        expect(everything).not.toContain(secretOf(key).slice(0, 12));
      }
    });
  });

  describe('verify()', () => {
    it('checks a key without HTTP (say, from an environment variable over stdio)', async () => {
      const { key, record } = generateApiKey({ owner: 'alice', scopes: ['read'] });
      const failures: ApiKeyFailure[] = [];
      const auth = apiKeyAuth({
        store: new MemoryKeyStore([record]),
        onFailure: (f) => void failures.push(f),
      });
      const accepted = await auth.verify(key);
      expect(accepted.ok && accepted.authInfo.clientId).toBe(record.id);
      expect(await auth.verify(undefined)).toMatchObject({
        ok: false,
        reason: 'missing',
        clientReason: 'missing',
      });
      expect(await auth.verify('nonsense')).toMatchObject({ ok: false, reason: 'malformed' });
      expect(failures.map((f) => f.reason)).toEqual(['missing', 'malformed']);
    });

    it('rejects with an unavailable MiddlewareError when the store fails', async () => {
      const { key, record } = generateApiKey({ owner: 'alice' });
      const auth = apiKeyAuth({
        store: new FailingStore(new MemoryKeyStore([record]), new Set([record.id])),
        onStoreError: () => {},
      });
      await expect(auth.verify(key)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    });
  });

  describe('configuration errors', () => {
    const store = new MemoryKeyStore();
    it.each([
      ['store', { store: {} }],
      ['header', { store, header: 'x api key' }],
      ['header', { store, header: 'Authorization' }],
      ['bearer', { store, bearer: 'yes' }],
      ['lookupTimeout', { store, lookupTimeout: 'forever' }],
      ['lookupTimeout', { store, lookupTimeout: 0 }],
      ['toolScopes', { store, toolScopes: { tools: { echo: 'read' } } }],
      // A scope no key can hold (keys' scopes are RFC 6749 scope tokens) is a typo, refused at start.
      [
        'toolScopes.tools.echo has an invalid scope "read write"',
        { store, toolScopes: { tools: { echo: ['read write'] } } },
      ],
      ['toolScopes.default has an invalid scope ""', { store, toolScopes: { default: [''] } }],
      ['onFailure', { store, onFailure: 'log' }],
    ])('names %s when it is wrong', (option, options) => {
      expect(() => apiKeyAuth(options as unknown as ApiKeyAuthOptions)).toThrow(TypeError);
      expect(() => apiKeyAuth(options as unknown as ApiKeyAuthOptions)).toThrow(option);
    });
  });
});
