import { createMiddlewareHandler, type Middleware } from '@mcp-middleware/core';
import {
  connectClient,
  fixtureServer,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthCheck } from './checks.js';
import { type HealthOptions, health } from './health.js';
import { checkIn, probe, textOf } from './test-fixtures.js';

const servers: TestServer[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A server with `health(options)` (signals off: these tests drain through `drain()`), after `before`. */
async function start(options: HealthOptions = {}, before: Middleware[] = []) {
  const mw = health({ signals: false, ...options });
  const s = await startTestServer({ server: fixtureServer(), middleware: [...before, mw] });
  servers.push(s);
  return { s, mw };
}

/** A check that counts its calls and answers what `state.status` says. */
function flag(name: string, critical = true) {
  const state = { calls: 0, status: 'pass' as 'pass' | 'warn' | 'fail' };
  const check: HealthCheck = {
    name,
    critical,
    check: () => {
      state.calls++;
      if (state.status === 'fail') throw new Error(`${name} is down`);
      return { status: state.status };
    },
  };
  return { state, check };
}

describe('health', () => {
  describe('/livez', () => {
    it('answers 200 pass in application/health+json, without running any check', async () => {
      const db = flag('db');
      db.state.status = 'fail';
      const { s } = await start({ checks: [db.check], version: '1', releaseId: '1.4.0', serviceId: 'svc' });
      const live = await probe(s.baseUrl, '/livez');
      expect(live.status).toBe(200);
      expect(live.contentType).toBe('application/health+json');
      expect(live.body).toEqual({ status: 'pass', version: '1', releaseId: '1.4.0', serviceId: 'svc' });
      expect(db.state.calls).toBe(0);
    });
  });

  describe('/readyz', () => {
    it('answers 200 pass with each check’s status, time and response time when all pass', async () => {
      const db = flag('db');
      const cache = flag('cache');
      const { s } = await start({ checks: [db.check, cache.check], version: '2' });
      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.contentType).toBe('application/health+json');
      expect(ready.body['status']).toBe('pass');
      expect(ready.body['version']).toBe('2');
      const result = checkIn(ready.body, 'db')!;
      expect(result['status']).toBe('pass');
      expect(result['observedUnit']).toBe('ms');
      expect(typeof result['observedValue']).toBe('number');
      expect(Date.parse(result['time'] as string)).not.toBeNaN();
      expect(checkIn(ready.body, 'cache')!['status']).toBe('pass');
    });

    it('answers 503 fail naming the failing critical check, with its error message as output', async () => {
      const db = flag('db');
      db.state.status = 'fail';
      const { s } = await start({ checks: [db.check, flag('cache').check], cacheTtl: 0 });
      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body['status']).toBe('fail');
      expect(ready.body['output']).toBe('failing checks: db');
      expect(checkIn(ready.body, 'db')).toMatchObject({ status: 'fail', output: 'db is down' });
      db.state.status = 'pass';
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(200);
    });

    it('answers 200 warn when only a non-critical check fails, or a check warns', async () => {
      const search = flag('search', false);
      search.state.status = 'fail';
      const queue = flag('queue');
      const { s } = await start({ checks: [search.check, queue.check], cacheTtl: 0 });
      let ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body['status']).toBe('warn');
      expect(checkIn(ready.body, 'search')!['status']).toBe('fail');
      search.state.status = 'pass';
      queue.state.status = 'warn';
      ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body['status']).toBe('warn');
    });

    it('is served at /health too, and answers HEAD with the status and no body', async () => {
      const db = flag('db');
      db.state.status = 'fail';
      const { s } = await start({ checks: [db.check] });
      const alias = await probe(s.baseUrl, '/health');
      expect(alias.status).toBe(503);
      expect(alias.body['output']).toBe('failing checks: db');
      const head = await fetch(new URL('/readyz', s.baseUrl), { method: 'HEAD' });
      expect(head.status).toBe(503);
      expect(head.headers.get('content-type')).toBe('application/health+json');
      expect(await head.text()).toBe('');
    });

    it('serves custom paths, and no alias when paths.health is false', async () => {
      const { s } = await start({ paths: { live: '/alive', ready: '/ready', health: false } });
      expect((await probe(s.baseUrl, '/alive')).status).toBe(200);
      expect((await probe(s.baseUrl, '/ready')).status).toBe(200);
      expect((await fetch(new URL('/health', s.baseUrl))).status).toBe(404);
    });

    it('leaves per-check details out when details is false', async () => {
      const db = flag('db');
      db.state.status = 'fail';
      const { s } = await start({ checks: [db.check], details: false });
      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'fail', output: 'failing checks: db' });
    });
  });

  describe('when a check misbehaves', () => {
    it('counts a returned invalid status as a failure rather than guessing', async () => {
      const odd: HealthCheck = { name: 'odd', check: () => ({ status: 'ok' as never }) };
      const { s } = await start({ checks: [odd] });
      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(checkIn(ready.body, 'odd')).toMatchObject({
        status: 'fail',
        output: 'check returned an invalid status "ok"',
      });
    });
  });

  describe('when a check hangs', () => {
    it('fails it at its timeout, aborts its signal, and never stacks a second call on the hung one', async () => {
      let calls = 0;
      let aborted = false;
      const hung: HealthCheck = {
        name: 'hung',
        timeout: 200,
        check: (signal) => {
          calls++;
          signal.addEventListener('abort', () => {
            aborted = true;
          });
          return new Promise<never>(() => {}); // ignores its signal: the worst case
        },
      };
      const { s } = await start({ checks: [hung, flag('db').check], timeout: '5s', cacheTtl: 0 });
      const started = performance.now();
      const ready = await probe(s.baseUrl, '/readyz');
      const elapsed = performance.now() - started;
      expect(ready.status).toBe(503);
      expect(checkIn(ready.body, 'hung')).toMatchObject({ status: 'fail', output: 'timed out after 200 ms' });
      expect(checkIn(ready.body, 'db')!['status']).toBe('pass');
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(200 + 2000);
      expect(aborted).toBe(true);
      // The next probe waits on the same pending call (and times out again) instead of starting another.
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(503);
      expect(calls).toBe(1);
    });
  });

  describe('result cache', () => {
    it('reuses a result within cacheTtl, and shares one run among concurrent probes', async () => {
      let calls = 0;
      const slow: HealthCheck = {
        name: 'slow',
        check: async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 100));
        },
      };
      const { s } = await start({ checks: [slow], cacheTtl: '1h' });
      const answers = await Promise.all([1, 2, 3].map(() => probe(s.baseUrl, '/readyz')));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect((await probe(s.baseUrl, '/health')).status).toBe(200);
      expect(calls).toBe(1);
    });

    it('runs the check on every probe when cacheTtl is 0', async () => {
      const db = flag('db');
      const { s } = await start({ checks: [db.check], cacheTtl: 0 });
      await probe(s.baseUrl, '/readyz');
      await probe(s.baseUrl, '/readyz');
      expect(db.state.calls).toBe(2);
    });
  });

  describe('startup gating', () => {
    it('answers 503 starting until the startup checks pass, then stops running them', async () => {
      const migrations = flag('migrations');
      migrations.state.status = 'fail';
      const db = flag('db');
      const { s } = await start({ startupChecks: [migrations.check], checks: [db.check], cacheTtl: 0 });
      let ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body['output']).toBe('starting: waiting for migrations');
      expect(checkIn(ready.body, 'migrations')!['status']).toBe('fail');
      // Liveness is not gated: a server that is still starting must not be restarted for it.
      expect((await probe(s.baseUrl, '/livez')).status).toBe(200);

      migrations.state.status = 'pass';
      ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(200);
      const callsAfterPassing = migrations.state.calls;
      migrations.state.status = 'fail';
      ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(200);
      expect(checkIn(ready.body, 'migrations')).toBeUndefined();
      expect(migrations.state.calls).toBe(callsAfterPassing);
    });
  });

  describe('with auth configured', () => {
    it('answers the probes while the MCP endpoint answers 401', async () => {
      const denyAll: Middleware = {
        name: 'deny-all',
        async http(_req, ctx, next) {
          if (!ctx.isProtected) return next();
          return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
        },
      };
      const db = flag('db');
      const { s } = await start({ checks: [db.check], cacheTtl: 0 }, [denyAll]);
      expect((await postJsonRpc(s.url, initializeRequest())).status).toBe(401);
      expect((await probe(s.baseUrl, '/livez')).status).toBe(200);
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(200);
      expect((await probe(s.baseUrl, '/health')).status).toBe(200);
      db.state.status = 'fail';
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(503);
    });
  });

  describe('drain', () => {
    it('fails readiness at once, lets an in-flight call complete while refusing new requests, then closes middleware in reverse order', async () => {
      const closed: string[] = [];
      const tracker = (name: string): Middleware => ({ name, close: async () => void closed.push(name) });
      const mw = health({ signals: false, checks: [flag('db').check] });
      const s = await startTestServer({
        server: fixtureServer(),
        middleware: [tracker('first'), mw, tracker('last')],
      });
      servers.push(s);
      const client = await connectClient(s.url);
      closers.push(() => client.close());
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(200);

      const slow = client.callTool({ name: 'slow', arguments: { ms: 400 } });
      await waitFor(() => s.handler.host.inFlight === 1, 'the call to be in flight');
      const drained = mw.drain({ drainTimeout: '5s' });
      expect(mw.draining).toBe(true);

      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body['output']).toBe('draining');
      expect((await probe(s.baseUrl, '/livez')).status).toBe(200);
      const refused = await postJsonRpc(s.url, initializeRequest());
      expect(refused.status).toBe(503);
      await refused.body?.cancel();

      expect(textOf(await slow)).toBe('waited 400');
      await drained;
      expect(closed).toEqual(['last', 'first']);
      expect(s.handler.host.sessions).toBe(0);
      expect(mw.drain()).toBe(drained);
    });

    it('keeps serving MCP during drainDelay while readiness already fails', async () => {
      const { s, mw } = await start({ drainDelay: 300 });
      const client = await connectClient(s.url);
      closers.push(() => client.close());
      const drained = mw.drain();
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(503);
      expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe(
        'still here',
      );
      expect(s.handler.host.draining).toBe(false);
      await drained;
      expect(s.handler.host.draining).toBe(true);
    });

    it('fails readiness when the handler is closed directly', async () => {
      const { s, mw } = await start();
      expect((await probe(s.baseUrl, '/readyz')).status).toBe(200);
      const closing = s.handler.close();
      expect(mw.draining).toBe(true);
      expect((await mw.readiness()).status).toBe('fail');
      await closing;
    });
  });

  describe('signals', () => {
    it('listens once attached to a handler, and stops listening on close', async () => {
      const before = process.listenerCount('SIGUSR2');
      const mw = health({ signals: ['SIGUSR2'] });
      expect(process.listenerCount('SIGUSR2')).toBe(before);
      const s = await startTestServer({ server: fixtureServer(), middleware: [mw] });
      servers.push(s);
      expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
      await s.close();
      expect(process.listenerCount('SIGUSR2')).toBe(before);
    });
  });

  describe('configuration errors', () => {
    it('throws a TypeError naming the option', () => {
      expect(() => health({ timeout: 'soon' as never })).toThrow(/timeout/);
      expect(() => health({ cacheTtl: -1 })).toThrow(/cacheTtl/);
      expect(() => health({ drainTimeout: '1 minute' as never })).toThrow(/drainTimeout/);
      expect(() => health({ paths: { ready: 'readyz' } })).toThrow(/paths\.ready/);
      expect(() => health({ paths: { live: '/x', ready: '/x' } })).toThrow(/paths must differ/);
      expect(() => health({ checks: [{ name: '', check: () => {} }] })).toThrow(/checks\[0\]\.name/);
      expect(() => health({ checks: [{ name: 'a' } as never] })).toThrow(/checks\[0\]\.check/);
      expect(() => health({ checks: [{ name: 'a', check: () => {}, timeout: 'x' as never }] })).toThrow(
        /checks\[0\]\.timeout/,
      );
      expect(() =>
        health({ checks: [{ name: 'a', check: () => {} }], startupChecks: [{ name: 'a', check: () => {} }] }),
      ).toThrow(/two checks are named 'a'/);
      expect(() => health({ signals: ['TERM' as never] })).toThrow(/signals/);
      expect(() => health({ version: 2 as never })).toThrow(/version/);
      expect(() => health({ timeout: 'soon' as never })).toThrow(TypeError);
    });

    it('refuses to serve a second handler, whose drain it could not follow', async () => {
      const mw = health({ signals: false });
      const first = createMiddlewareHandler({ server: fixtureServer(), middleware: [mw] });
      expect(() => createMiddlewareHandler({ server: fixtureServer(), middleware: [mw] })).toThrow(
        /one handler/,
      );
      await first.close();
    });

    it('refuses a bad drainTimeout given to drain() without starting a drain', () => {
      const mw = health({ signals: false });
      expect(() => mw.drain({ drainTimeout: 'later' as never })).toThrow(/drainTimeout/);
      expect(mw.draining).toBe(false);
    });
  });
});
