/**
 * What a token check costs: an OAuth JWT verified for the first time (ES256 and RS256 signature + claims), the
 * same token again (served from the verified-token cache), and an API-key style check (SHA-256 of the presented
 * key + timingSafeEqual against the stored hash). Then apiKeyAuth's whole verification of the same key again
 * and again, with its verified-key cache off and on, against a MemoryKeyStore and against a key store in Redis
 * (one GET per lookup, REDIS_URL or 127.0.0.1:6379), arms interleaved over rounds, median and spread.
 *
 *   cd bench && node --import tsx auth.ts
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ApiKeyRecord,
  apiKeyAuth,
  generateApiKey,
  type KeyStore,
  MemoryKeyStore,
} from '@mcp-middleware/auth-apikey';
import { oauth } from '@mcp-middleware/auth-oauth';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const RESOURCE = 'https://mcp.example.com/mcp';
const FIRST = 2000;
const DURATION_MS = 1500;

async function keyPair(alg: 'ES256' | 'RS256', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

const es = await keyPair('ES256', 'es');
const rs = await keyPair('RS256', 'rs');

// A local issuer: discovery and JWKS, fetched once by the middleware.
const http = createServer();
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
http.on('request', (req, res) => {
  if (req.url === '/.well-known/openid-configuration') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
  } else if (req.url === '/jwks') {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: [es.jwk, rs.jwk] }));
  } else {
    res.writeHead(404).end();
  }
});

const middleware = oauth({
  resource: RESOURCE,
  authorizationServers: [issuer],
  tokenCacheMax: FIRST * 2 + 10,
});

function sign(key: typeof es): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuer,
    aud: RESOURCE,
    exp: now + 3600,
    iat: now,
    sub: 'user',
    client_id: 'client',
    scope: 'tools:read',
    jti: randomBytes(8).toString('hex'),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey);
}

// Warm up: discovery + JWKS fetch, JIT.
await middleware.verify(await sign(es));
await middleware.verify(await sign(rs));

async function firstVerification(key: typeof es): Promise<number> {
  const tokens = await Promise.all(Array.from({ length: FIRST }, () => sign(key)));
  const start = performance.now();
  for (const token of tokens) await middleware.verify(token);
  return FIRST / ((performance.now() - start) / 1000);
}

async function loop(fn: () => unknown | Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < DURATION_MS) {
    for (let i = 0; i < 1000; i++) await fn();
    n += 1000;
    elapsed = performance.now() - start;
  }
  return n / (elapsed / 1000);
}

const firstEs = await firstVerification(es);
const firstRs = await firstVerification(rs);
const cachedToken = await sign(es);
await middleware.verify(cachedToken);
const cached = await loop(() => middleware.verify(cachedToken));

const presented = `mk_${randomBytes(32).toString('base64url')}`;
const stored = createHash('sha256').update(presented).digest();
const apiKey = await loop(() => timingSafeEqual(createHash('sha256').update(presented).digest(), stored));

await middleware.close();
await new Promise<void>((resolve) => http.close(() => resolve()));

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(
  `node ${process.version}, ${FIRST} distinct tokens per first-verification run, ${DURATION_MS} ms loops\n`,
);
console.log(`first verification, ES256     ${fmt(firstEs)} ops/s`);
console.log(`first verification, RS256     ${fmt(firstRs)} ops/s`);
console.log(
  `cached verification           ${fmt(cached)} ops/s   (${(cached / firstEs).toFixed(0)}x ES256 first, ${(cached / firstRs).toFixed(0)}x RS256 first)`,
);
console.log(
  `API key: SHA-256 + timingSafeEqual ${fmt(apiKey)} ops/s   (cached OAuth = ${(cached / apiKey).toFixed(2)}x the API-key check)`,
);

// apiKeyAuth: the same key verified again and again (what a busy client does), cache off vs on.
const ROUNDS = 3;
const { key, record } = generateApiKey({ owner: 'bench', scopes: ['read'] });
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
await redis.connect();
const redisKey = `bench:apikey:${process.pid}:${record.id}`;
await redis.set(redisKey, JSON.stringify(record), 'EX', 600);
/** Keys as a database would hold them, one round trip per lookup. */
const redisStore: KeyStore = {
  async find(id) {
    const json = id === record.id ? await redis.get(redisKey) : null;
    return json ? (JSON.parse(json) as ApiKeyRecord) : undefined;
  },
};
const memory = new MemoryKeyStore([record]);
const arms = {
  'MemoryKeyStore, cache off': apiKeyAuth({ store: memory, cache: false }),
  'MemoryKeyStore, cache on': apiKeyAuth({ store: memory }),
  'Redis key store, cache off': apiKeyAuth({ store: redisStore, cache: false }),
  'Redis key store, cache on': apiKeyAuth({ store: redisStore }),
};
const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(arms) as Array<keyof typeof arms>;
  for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
    const auth = arms[name];
    const ops = await loop(async () => {
      if (!(await auth.verify(key)).ok) throw new Error('the bench key was refused');
    });
    results.set(name, [...(results.get(name) ?? []), ops]);
  }
}
await redis.del(redisKey);
await redis.quit();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`\napiKeyAuth.verify of one key, ${ROUNDS} interleaved rounds, median (min-max)\n`);
console.log('| store | cache off ops/s | cache on (1 s ttl) ops/s | on / off |');
console.log('| --- | --- | --- | --- |');
for (const store of ['MemoryKeyStore', 'Redis key store']) {
  const off = results.get(`${store}, cache off`)!;
  const on = results.get(`${store}, cache on`)!;
  const range = (xs: number[]) => `${fmt(Math.min(...xs)).trim()}-${fmt(Math.max(...xs)).trim()}`;
  console.log(
    `| ${store} | ${fmt(median(off)).trim()} (${range(off)}) | ${fmt(median(on)).trim()} (${range(on)}) | ${(median(on) / median(off)).toFixed(2)}x |`,
  );
}
