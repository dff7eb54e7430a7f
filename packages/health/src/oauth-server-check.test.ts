import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixtureServer, startTestServer, type TestServer } from '@mcp-middleware/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { health } from './health.js';
import { metadataUrls, oauthServerCheck } from './oauth-server-check.js';
import { checkIn, probe } from './test-fixtures.js';

interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

async function loadProvider(): Promise<ProviderClass> {
  const mod = (await import('oidc-provider' as string)) as { default: ProviderClass };
  return mod.default;
}

const servers: Server[] = [];
const mcpServers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(mcpServers.splice(0).map((s) => s.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    if (s.listening) await new Promise((r) => s.close(r));
  }
});

/** A real authorization server on a free port, mounted under `prefix` (so its issuer has a path) if given. */
async function startAuthorizationServer(prefix = ''): Promise<{ issuer: string; server: Server }> {
  const Provider = await loadProvider();
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}${prefix}`;
  const callback = new Provider(issuer, { clients: [] }).callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith(`${prefix}/`)) {
      res.writeHead(404).end();
      return;
    }
    req.url = req.url.slice(prefix.length);
    callback(req, res);
  });
  return { issuer, server };
}

async function startWith(check: ReturnType<typeof oauthServerCheck>) {
  const s = await startTestServer({
    server: fixtureServer(),
    middleware: [health({ signals: false, checks: [check], cacheTtl: 0 })],
  });
  mcpServers.push(s);
  return s;
}

describe('oauthServerCheck', () => {
  it('passes while the authorization server serves its metadata, and fails once it is gone', async () => {
    const as = await startAuthorizationServer();
    const s = await startWith(oauthServerCheck(as.issuer, { timeout: '2s' }));
    let ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(200);
    expect(checkIn(ready.body, 'oauth-server')!['status']).toBe('pass');

    as.server.closeAllConnections();
    await new Promise((r) => as.server.close(r));
    ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body['output']).toBe('failing checks: oauth-server');
  });

  it('finds the metadata of an issuer with a path where MCP clients would, after the URLs that 404', async () => {
    const as = await startAuthorizationServer('/tenant-a');
    const s = await startWith(oauthServerCheck(new URL(as.issuer)));
    const ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(200);
  });

  it('fails when the metadata names another issuer', async () => {
    const as = await startAuthorizationServer();
    const s = await startWith(
      oauthServerCheck(`${as.issuer}/elsewhere`, {
        metadataUrl: `${as.issuer}/.well-known/openid-configuration`,
      }),
    );
    const ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(503);
    expect(checkIn(ready.body, 'oauth-server')!['output']).toBe('metadata names a different issuer');
  });

  it('fails when no discovery URL answers, without echoing URLs', async () => {
    const as = await startAuthorizationServer('/tenant-b');
    const s = await startWith(oauthServerCheck(`${as.issuer.replace('/tenant-b', '/no-such-tenant')}`));
    const ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(503);
    expect(checkIn(ready.body, 'oauth-server')!['output']).toBe('metadata not available (HTTP 404)');
  });

  it('lists the discovery URLs in the MCP authorization spec’s order', () => {
    expect(metadataUrls(new URL('https://as.example/')).map(String)).toEqual([
      'https://as.example/.well-known/oauth-authorization-server',
      'https://as.example/.well-known/openid-configuration',
    ]);
    expect(metadataUrls(new URL('https://as.example/tenant/1')).map(String)).toEqual([
      'https://as.example/.well-known/oauth-authorization-server/tenant/1',
      'https://as.example/.well-known/openid-configuration/tenant/1',
      'https://as.example/tenant/1/.well-known/openid-configuration',
    ]);
  });

  it('refuses an issuer that is not an absolute https URL (http only on loopback), as auth-oauth does', () => {
    expect(() => oauthServerCheck('as.example')).toThrow(/issuer must be an absolute http\(s\) URL/);
    expect(() => oauthServerCheck('ftp://as.example')).toThrow(/http\(s\)/);
    expect(() => oauthServerCheck('http://as.example')).toThrow(
      /issuer must use https \(http is accepted for loopback hosts only\)/,
    );
    expect(() => oauthServerCheck('https://as.example/?tenant=1')).toThrow(/issuer must not have a query/);
    expect(() => oauthServerCheck('https://as.example/#x')).toThrow(/issuer must not have a fragment/);
    expect(() => oauthServerCheck('https://as.example', { metadataUrl: 'http://as.example/m' })).toThrow(
      /metadataUrl must use https/,
    );
  });

  it('compares the issuer exactly, as token validation does: a trailing slash more fails, and says so', async () => {
    const as = await startAuthorizationServer();
    const s = await startWith(oauthServerCheck(`${as.issuer}/`));
    const ready = await probe(s.baseUrl, '/readyz');
    expect(ready.status).toBe(503);
    expect(checkIn(ready.body, 'oauth-server')!['output']).toBe(
      'metadata names the issuer with a different trailing slash: configure it exactly as published',
    );
  });

  it('fails on a metadata document over 256 KiB, and does not follow redirects', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/big') res.writeHead(200).end(`{"issuer":"x","pad":"${'a'.repeat(300 * 1024)}"}`);
      else res.writeHead(302, { location: '/big' }).end();
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const big = await startWith(oauthServerCheck(origin, { metadataUrl: `${origin}/big` }));
    expect(checkIn((await probe(big.baseUrl, '/readyz')).body, 'oauth-server')!['output']).toBe(
      'metadata is larger than 256 KiB',
    );
    const moved = await startWith(oauthServerCheck(origin, { metadataUrl: `${origin}/moved` }));
    expect(checkIn((await probe(moved.baseUrl, '/readyz')).body, 'oauth-server')!['output']).toBe(
      'metadata not available (HTTP 302)',
    );
  });
});
