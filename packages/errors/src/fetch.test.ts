import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchWithTimeout } from './fetch.js';
import { ToolError } from './tool-error.js';

/** A real local HTTP service that is slow, fails or answers, depending on the path. */
let server: Server;
let base: string;
let host: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/ok') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ temp: 21 }));
    } else if (path === '/slow-headers') {
      // Never answers in time; the test's timeout is far shorter.
      setTimeout(() => res.writeHead(200).end('late'), 5000).unref();
    } else if (path === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part...');
      setTimeout(() => res.end('rest'), 5000).unref();
    } else if (path === '/unavailable') {
      res.writeHead(503).end('upstream down, token=abc');
    } else if (path === '/limited') {
      res.writeHead(429, { 'retry-after': '30' }).end();
    } else if (path === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing');
    } else if (path === '/big') {
      res.writeHead(200).end('x'.repeat(2048));
    } else if (path === '/empty') {
      res.writeHead(204).end();
    } else {
      res.writeHead(500).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  base = `http://${host}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function toolError(promise: Promise<unknown>): Promise<ToolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(ToolError.is(error)).toBe(true);
  return error as ToolError;
}

describe('fetchWithTimeout', () => {
  describe('when the service answers in time', () => {
    it('returns the response with its body already read', async () => {
      const response = await fetchWithTimeout(`${base}/ok`, { timeout: '2s' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ temp: 21 });
    });

    it('returns a bodiless status such as 204', async () => {
      const response = await fetchWithTimeout(`${base}/empty`);
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    });
  });

  describe('when the service is too slow to send headers', () => {
    it('throws a ToolError saying the request timed out, within the timeout plus a margin', async () => {
      const started = performance.now();
      const err = await toolError(fetchWithTimeout(`${base}/slow-headers`, { timeout: 200 }));
      expect(performance.now() - started).toBeLessThan(200 + 1000);
      expect(err.message).toBe(`request to ${host} timed out after 200 ms`);
      expect(err.code).toBe('timeout');
    });
  });

  describe('when the body stalls after the headers', () => {
    it('times out too: the limit covers the whole exchange', async () => {
      const err = await toolError(fetchWithTimeout(`${base}/slow-body`, { timeout: 300 }));
      expect(err.message).toBe(`request to ${host} timed out after 300 ms`);
    });
  });

  describe('when nothing listens on the port', () => {
    it('throws a ToolError saying the connection was refused', async () => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1');
      await once(probe, 'listening');
      const { port } = probe.address() as AddressInfo;
      await new Promise((r) => probe.close(r));
      const err = await toolError(fetchWithTimeout(`http://127.0.0.1:${port}/`));
      expect(err.message).toBe(`could not reach 127.0.0.1:${port}: connection refused`);
      expect(err.code).toBe('unavailable');
      expect(err.cause).toBeInstanceOf(Error);
    });
  });

  describe('when the service answers with an error status', () => {
    it('throws "HTTP 503" as a ToolError, without the body or the URL’s query', async () => {
      const err = await toolError(fetchWithTimeout(`${base}/unavailable?api_key=sekrit`));
      expect(err.message).toBe(`${host} answered HTTP 503 Service Unavailable`);
      expect(err.message).not.toContain('sekrit');
      expect(err.message).not.toContain('token=abc');
      expect(err.code).toBe('unavailable');
      expect(err.data).toEqual({ status: 503 });
    });

    it('says when to retry after a 429', async () => {
      const err = await toolError(fetchWithTimeout(`${base}/limited`, { service: 'the weather service' }));
      expect(err.message).toBe('the weather service answered HTTP 429 Too Many Requests (retry after 30 s)');
      expect(err.code).toBe('rate_limited');
    });

    it('returns the response instead when throwOnHttpError is false', async () => {
      const response = await fetchWithTimeout(`${base}/missing`, { throwOnHttpError: false });
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('no such thing');
    });
  });

  describe('when the body is larger than maxBodySize', () => {
    it('throws a ToolError instead of buffering it', async () => {
      const err = await toolError(fetchWithTimeout(`${base}/big`, { maxBodySize: 1024 }));
      expect(err.message).toBe(`the response from ${host} is larger than 1024 bytes`);
      expect(err.code).toBe('payload_too_large');
    });
  });

  describe('when the caller’s signal aborts (the tool call was cancelled)', () => {
    it('stops the request and says it was cancelled', async () => {
      const controller = new AbortController();
      const pending = fetchWithTimeout(`${base}/slow-headers`, { timeout: '10s', signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const started = performance.now();
      const err = await toolError(pending);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(err.message).toBe(`request to ${host} was cancelled`);
    });
  });

  describe('when configured badly', () => {
    it('throws a TypeError naming the option, and never echoes the URL', async () => {
      await expect(fetchWithTimeout(`${base}/ok`, { timeout: 'soon' as never })).rejects.toThrow(/timeout/);
      await expect(fetchWithTimeout(`${base}/ok`, { timeout: 0 })).rejects.toThrow(TypeError);
      await expect(fetchWithTimeout(`${base}/ok`, { maxBodySize: -1 })).rejects.toThrow(/maxBodySize/);
      const err = await fetchWithTimeout('not a url?key=sekrit').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).not.toContain('sekrit');
    });
  });
});
