import {
  fixtureServer,
  RedisServerProcess,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { health } from './health.js';
import { redisCheck } from './redis-check.js';
import { checkIn, probe } from './test-fixtures.js';

describe('redisCheck', () => {
  let redisServer: RedisServerProcess | undefined;
  let redis: Redis;
  let server: TestServer;

  beforeAll(async () => {
    redisServer = await RedisServerProcess.start();
    // What the check's docs ask for: fail fast while disconnected instead of queueing pings.
    redis = new Redis({
      host: '127.0.0.1',
      port: redisServer.port,
      maxRetriesPerRequest: 1,
      connectTimeout: 500,
      commandTimeout: 500,
      retryStrategy: () => 100,
    });
    // Reconnection errors are expected while the test has Redis stopped; the check reports them.
    redis.on('error', () => {});
    server = await startTestServer({
      server: fixtureServer(),
      middleware: [health({ signals: false, checks: [redisCheck(redis, { timeout: '1s' })], cacheTtl: 0 })],
    });
  });

  afterAll(async () => {
    await server?.close();
    redis?.disconnect();
    await redisServer?.destroy();
  });

  it('passes while Redis answers, fails within its timeout once Redis stops, and passes again when it is back', async () => {
    let ready = await probe(server.baseUrl, '/readyz');
    expect(ready.status).toBe(200);
    expect(checkIn(ready.body, 'redis')).toMatchObject({ status: 'pass', componentType: 'datastore' });

    await redisServer!.stop();
    const started = performance.now();
    ready = await probe(server.baseUrl, '/readyz');
    const elapsed = performance.now() - started;
    expect(ready.status).toBe(503);
    expect(ready.body['output']).toBe('failing checks: redis');
    expect(checkIn(ready.body, 'redis')!['status']).toBe('fail');
    expect(elapsed).toBeLessThan(1000 + 2000);

    await redisServer!.start(); // the same port
    await waitFor(
      async () => (await probe(server.baseUrl, '/readyz')).status === 200,
      'readiness to pass once Redis is back',
      10_000,
    );
    ready = await probe(server.baseUrl, '/readyz');
    expect(checkIn(ready.body, 'redis')!['status']).toBe('pass');
  });

  it('refuses a client without ping() at construction', () => {
    expect(() => redisCheck({} as never)).toThrow(/redisCheck: client must have a ping\(\) method/);
  });
});
