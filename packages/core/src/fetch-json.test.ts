import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJsonObject } from './fetch-json.js';

let server: Server;
let base: string;
const hanging: ServerResponse[] = [];
let redirectedTo = 0;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (body: string, headers: Record<string, string> = {}) =>
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body);
    if (path === '/ok')
      json(JSON.stringify({ issuer: 'x', method: req.method, auth: req.headers.authorization }));
    else if (path === '/array') json('[1,2]');
    else if (path === '/garbage') json('{not json');
    else if (path === '/declared-large') json('{}', { 'content-length': String(300 * 1024) });
    else if (path === '/streamed-large') {
      // No Content-Length: the size is only known while reading.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"pad":"${'a'.repeat(200 * 1024)}`);
      res.end(`${'a'.repeat(200 * 1024)}"}`);
    } else if (path === '/redirect') res.writeHead(302, { location: `${base}/target` }).end();
    else if (path === '/target') {
      redirectedTo++;
      json('{"followed":true}');
    } else if (path === '/hang') hanging.push(res);
    else if (path === '/slow-body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      hanging.push(res);
    } else res.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('fetchJsonObject', () => {
  it('returns the JSON object of a 200 answer, sending the request as given', async () => {
    const outcome = await fetchJsonObject(
      `${base}/ok`,
      { method: 'POST', headers: { authorization: 'Basic abc' }, body: 'x=1' },
      { timeoutMs: 2000 },
    );
    expect(outcome).toEqual({
      ok: true,
      status: 200,
      body: { issuer: 'x', method: 'POST', auth: 'Basic abc' },
    });
  });

  it('reports another status without reading the body', async () => {
    expect(await fetchJsonObject(`${base}/missing`, {}, { timeoutMs: 2000 })).toEqual({
      ok: false,
      status: 404,
      reason: 'status',
    });
  });

  it('does not follow redirects', async () => {
    expect(await fetchJsonObject(`${base}/redirect`, {}, { timeoutMs: 2000 })).toEqual({
      ok: false,
      status: 302,
      reason: 'status',
    });
    expect(redirectedTo).toBe(0);
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    for (const path of ['/declared-large', '/streamed-large']) {
      expect(await fetchJsonObject(`${base}${path}`, {}, { timeoutMs: 2000 }), path).toEqual({
        ok: false,
        status: 200,
        reason: 'too-large',
      });
    }
    // The same body fits under a larger limit.
    expect(
      (await fetchJsonObject(`${base}/streamed-large`, {}, { timeoutMs: 2000, maxBytes: 1 << 20 })).ok,
    ).toBe(true);
  });

  it('refuses JSON that is not an object, and text that is not JSON', async () => {
    for (const path of ['/array', '/garbage']) {
      expect(await fetchJsonObject(`${base}${path}`, {}, { timeoutMs: 2000 }), path).toEqual({
        ok: false,
        status: 200,
        reason: 'not-json',
      });
    }
  });

  it('times out on a server that never answers, or never finishes its body', async () => {
    expect(await fetchJsonObject(`${base}/hang`, {}, { timeoutMs: 200 })).toEqual({
      ok: false,
      status: 0,
      reason: 'timeout',
    });
    // The limit covers the body too (whether the headers made it in time depends on the machine's load).
    expect(await fetchJsonObject(`${base}/slow-body`, {}, { timeoutMs: 500 })).toMatchObject({
      ok: false,
      reason: 'timeout',
    });
  });

  it('reports an unreachable server, and a call aborted by its signal', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    expect(await fetchJsonObject(`http://127.0.0.1:${port}/`, {}, { timeoutMs: 2000 })).toEqual({
      ok: false,
      status: 0,
      reason: 'unreachable',
    });
    expect(await fetchJsonObject(`${base}/hang`, {}, { signal: AbortSignal.abort() })).toEqual({
      ok: false,
      status: 0,
      reason: 'unreachable',
    });
  });
});
