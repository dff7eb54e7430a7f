import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIssuer, discoverAuthorizationServer, metadataUrls } from './issuer.js';

describe('metadataUrls', () => {
  it('lists the discovery URLs in the MCP authorization spec’s order', () => {
    expect(metadataUrls('https://as.example').map(String)).toEqual([
      'https://as.example/.well-known/oauth-authorization-server',
      'https://as.example/.well-known/openid-configuration',
    ]);
    expect(metadataUrls(new URL('https://as.example/tenant/1/')).map(String)).toEqual([
      'https://as.example/.well-known/oauth-authorization-server/tenant/1',
      'https://as.example/.well-known/openid-configuration/tenant/1',
      'https://as.example/tenant/1/.well-known/openid-configuration',
    ]);
  });
});

describe('compareIssuer', () => {
  it('matches exact strings only, and names a trailing-slash difference apart from any other', () => {
    expect(compareIssuer('https://as.example', 'https://as.example')).toBe('same');
    expect(compareIssuer('https://as.example', 'https://as.example/')).toBe('trailing-slash');
    expect(compareIssuer('https://as.example/t/', 'https://as.example/t')).toBe('trailing-slash');
    expect(compareIssuer('https://as.example', 'https://AS.example')).toBe('different');
    expect(compareIssuer('https://as.example', 'https://as.example.evil')).toBe('different');
    expect(compareIssuer('https://as.example', undefined)).toBe('different');
    expect(compareIssuer('https://as.example', ['https://as.example'])).toBe('different');
  });
});

describe('discoverAuthorizationServer', () => {
  let server: Server;
  let origin: string;
  /** What each path answers: a status and a body, or a function of the origin. */
  const answers = new Map<string, [number, (origin: string) => unknown]>();
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      const answer = answers.get(path);
      if (!answer) return void res.writeHead(404).end();
      res.writeHead(answer[0], { 'content-type': 'application/json' }).end(JSON.stringify(answer[1](origin)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    answers.set('/.well-known/openid-configuration/a', [
      200,
      (o) => ({ issuer: `${o}/a`, jwks_uri: `${o}/a/jwks` }),
    ]);
    answers.set('/.well-known/oauth-authorization-server/slash', [200, (o) => ({ issuer: `${o}/slash/` })]);
    answers.set('/.well-known/oauth-authorization-server/other', [
      200,
      () => ({ issuer: 'https://evil.example' }),
    ]);
    answers.set('/.well-known/oauth-authorization-server/broken', [500, () => ({})]);
    answers.set('/.well-known/oauth-authorization-server/bad-jwks', [
      200,
      (o) => ({ issuer: `${o}/bad-jwks`, jwks_uri: 7 }),
    ]);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('tries the discovery URLs in order past 4xx answers and returns the first document for this issuer', async () => {
    hits.length = 0;
    const outcome = await discoverAuthorizationServer(`${origin}/a`, { timeoutMs: 2000 });
    expect(outcome).toEqual({
      ok: true,
      url: new URL(`${origin}/.well-known/openid-configuration/a`),
      metadata: { issuer: `${origin}/a`, jwks_uri: `${origin}/a/jwks` },
    });
    expect(hits).toEqual([
      '/.well-known/oauth-authorization-server/a',
      '/.well-known/openid-configuration/a',
    ]);
  });

  it('refuses a document for the issuer with another trailing slash, saying so', async () => {
    expect(await discoverAuthorizationServer(`${origin}/slash`, { timeoutMs: 2000 })).toMatchObject({
      ok: false,
      reason: 'issuer-trailing-slash',
      message: 'metadata names the issuer with a different trailing slash: configure it exactly as published',
    });
  });

  it('refuses a document for another issuer, and one with a malformed jwks_uri', async () => {
    expect(await discoverAuthorizationServer(`${origin}/other`, { timeoutMs: 2000 })).toMatchObject({
      ok: false,
      reason: 'issuer-mismatch',
      message: 'metadata names a different issuer',
    });
    expect(await discoverAuthorizationServer(`${origin}/bad-jwks`, { timeoutMs: 2000 })).toMatchObject({
      ok: false,
      reason: 'malformed',
      message: 'metadata has a malformed jwks_uri',
    });
  });

  it('stops at a 5xx answer, and reports the last status when every URL is missing', async () => {
    hits.length = 0;
    expect(await discoverAuthorizationServer(`${origin}/broken`, { timeoutMs: 2000 })).toEqual({
      ok: false,
      status: 500,
      reason: 'status',
      message: 'metadata not available (HTTP 500)',
    });
    expect(hits).toHaveLength(1);
    expect(await discoverAuthorizationServer(`${origin}/nothing`, { timeoutMs: 2000 })).toEqual({
      ok: false,
      status: 404,
      reason: 'status',
      message: 'metadata not available (HTTP 404)',
    });
  });

  it('fetches only the URLs it is given', async () => {
    hits.length = 0;
    const url = new URL(`${origin}/.well-known/openid-configuration/a`);
    expect((await discoverAuthorizationServer(`${origin}/a`, { timeoutMs: 2000, urls: [url] })).ok).toBe(
      true,
    );
    expect(hits).toEqual(['/.well-known/openid-configuration/a']);
  });
});
