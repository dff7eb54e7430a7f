import type { Middleware } from '@mcp-middleware/core';
import { waitFor } from '@mcp-middleware/core/testing';
import { closeAfterEach, connectV2Client, ERAS, startV2TestServer } from '@mcp-middleware/core/testing/v2';
import { McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { HealthCheck } from './checks.js';
import { type HealthOptions, health } from './health.js';
import { checkIn, probe, textOf } from './test-fixtures.js';

/*
 * health on SDK v2: its own createMcpHandler behind createMiddlewareHandler({ fetch }) with health() in the chain,
 * for a 2025-11-25 client and a 2026-07-28 client. Same probes, same drain as on SDK v1.
 */

const closing = closeAfterEach();

async function start(options: HealthOptions = {}, before: Middleware[] = []) {
  const mw = health({ signals: false, ...options });
  const started: string[] = [];
  const s = closing.track(
    await startV2TestServer({
      middleware: [...before, mw],
      server: (wrap) => {
        const server = new McpServer({ name: 'health-v2', version: '1.0.0' });
        server.registerTool(
          'slow',
          { description: 'Waits ms milliseconds', inputSchema: z.object({ ms: z.number() }) },
          async ({ ms }) => {
            started.push('slow');
            await new Promise((resolve) => setTimeout(resolve, ms));
            return { content: [{ type: 'text', text: `waited ${ms}` }] };
          },
        );
        return wrap(server);
      },
    }),
  );
  return { s, mw, started };
}

const db = (healthy: { ok: boolean }): HealthCheck => ({
  name: 'db',
  check: async () => (healthy.ok ? { status: 'pass' } : { status: 'fail', output: 'db is down' }),
});

describe('health on SDK v2', () => {
  it('answers /livez 200 without running checks, and /readyz with each check', async () => {
    const healthy = { ok: true };
    const { s } = await start({ checks: [db(healthy)], cacheTtl: 0 });
    const live = await probe(s.baseUrl, '/livez');
    expect(live).toMatchObject({
      status: 200,
      contentType: 'application/health+json',
      body: { status: 'pass' },
    });
    expect(live.body['checks']).toBeUndefined();
    const ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(200);
    expect(checkIn(ready.body, 'db')).toMatchObject({ status: 'pass' });
    healthy.ok = false;
    const failing = await probe(s.baseUrl, '/readyz');
    expect(failing.status).toBe(503);
    expect(checkIn(failing.body, 'db')).toMatchObject({ status: 'fail', output: 'db is down' });
  });

  it('answers the probes without credentials while the MCP endpoint needs them', async () => {
    const auth: Middleware = {
      name: 'deny-all',
      async http(_req, ctx, next) {
        return ctx.isProtected ? new Response('no', { status: 401 }) : next();
      },
    };
    const { s } = await start({}, [auth]);
    expect((await probe(s.baseUrl, '/livez')).status).toBe(200);
    expect((await probe(s.baseUrl, '/readyz')).status).toBe(200);
    const mcp = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(mcp.status).toBe(401);
  });

  describe.each(ERAS)('drain, %s era', (era) => {
    it('fails readiness at once, lets the in-flight call finish, and refuses new MCP requests', async () => {
      const { s, mw, started } = await start();
      const client = closing.track(await connectV2Client(s.url, era));
      const slow = client.callTool({ name: 'slow', arguments: { ms: 400 } });
      await waitFor(() => started.length === 1, 'the slow call to start');
      const drained = mw.drain({ drainTimeout: '5s' });
      expect(mw.draining).toBe(true);
      const ready = await probe(s.baseUrl, '/readyz');
      expect(ready).toMatchObject({ status: 503, body: { output: 'draining' } });
      expect((await probe(s.baseUrl, '/livez')).status).toBe(200);
      const refused = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      expect(refused.status).toBe(503);
      await refused.body?.cancel();
      expect(textOf(await slow)).toBe('waited 400');
      await drained;
    });
  });
});
