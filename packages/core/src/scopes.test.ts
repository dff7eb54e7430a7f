import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { checkToolScopes, toolScopes } from './scopes.js';
import { connectClient, fixtureServer, startTestServer, type TestServer } from './testing/index.js';
import type { Middleware } from './types.js';

const policy = { tools: { admin_reset: ['admin'], echo: ['read'] } };

describe('checkToolScopes', () => {
  it('allows tools that need nothing and tools whose scopes are all granted', () => {
    expect(checkToolScopes(policy, undefined, 'whoami')).toEqual({ ok: true });
    expect(checkToolScopes(policy, { token: 't', clientId: 'c', scopes: ['read'] }, 'echo')).toEqual({
      ok: true,
    });
  });

  it('names the missing scopes', () => {
    expect(checkToolScopes(policy, { token: 't', clientId: 'c', scopes: ['read'] }, 'admin_reset')).toEqual({
      ok: false,
      required: ['admin'],
      missing: ['admin'],
    });
  });

  it('applies the default to unlisted tools and ignores inherited keys', () => {
    expect(checkToolScopes({ default: ['x'] }, undefined, 'anything').ok).toBe(false);
    expect(checkToolScopes({ tools: {} }, undefined, 'constructor').ok).toBe(true);
  });
});

describe('toolScopes()', () => {
  let server: TestServer | undefined;
  afterEach(() => server?.close());

  const asReader: Middleware = {
    name: 'as-reader',
    async http(_req, ctx, next) {
      ctx.authInfo = { token: 't', clientId: 'reader', scopes: ['read'] };
      return next();
    },
  };

  it('hides tools the caller may not call from tools/list', async () => {
    server = await startTestServer({ server: fixtureServer(), middleware: [asReader, toolScopes(policy)] });
    const client = await connectClient(server.url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'slow', 'whoami']);
    await client.close();
  });

  it('refuses tools/call of a tool the caller lacks scopes for, with -32003 and the missing scope', async () => {
    server = await startTestServer({ server: fixtureServer(), middleware: [asReader, toolScopes(policy)] });
    const client = await connectClient(server.url);
    const err = (await client.callTool({ name: 'admin_reset' }).catch((e) => e)) as McpError;
    expect(err.code).toBe(-32003);
    expect(err.message).toContain('admin');
    expect(err.data).toEqual({ required: ['admin'], missing: ['admin'] });
    await client.close();
  });
});
