import { describe, expect, it } from 'vitest';
import { MiddlewareError } from './errors.js';
import { toFetchGate } from './gate.js';
import type { Middleware } from './types.js';

const post = (body: unknown, headers: Record<string, string> = {}) =>
  new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** Identity from a header, refusals as an auth middleware gives them. */
const headerAuth: Middleware = {
  name: 'header-auth',
  routes: [
    {
      path: '/.well-known/thing',
      handle: () => Response.json({ public: true }),
    },
  ],
  async http(req, ctx, next) {
    if (!ctx.isProtected) return next();
    const user = req.headers.get('x-user');
    if (user === 'boom') throw new Error('secret internals at line 42');
    if (user === 'banned') throw new MiddlewareError('forbidden', 'Banned');
    if (!user) {
      ctx.setResponseHeader('www-authenticate', 'Bearer');
      return new Response('no', { status: 401 });
    }
    const body = (await ctx.body()) as { method?: string } | undefined;
    ctx.authInfo = { token: 't', clientId: user, scopes: [], extra: { method: body?.method } };
    return next();
  },
};

describe('toFetchGate', () => {
  it('resolves to the AuthInfo the middleware set, and leaves the body readable for the handler', async () => {
    const gate = toFetchGate(headerAuth);
    const req = post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'x-user': 'alice' });
    const answer = await gate(req);
    expect(answer).toMatchObject({ clientId: 'alice', extra: { method: 'tools/list' } });
    expect(((await req.json()) as { method: string }).method).toBe('tools/list');
  });

  it('resolves to the middleware’s own refusal, with the headers it set', async () => {
    const answer = await toFetchGate(headerAuth)(post({}));
    expect(answer).toBeInstanceOf(Response);
    expect((answer as Response).status).toBe(401);
    expect((answer as Response).headers.get('www-authenticate')).toBe('Bearer');
  });

  it('turns a thrown MiddlewareError into its response, and anything else into a 500 without details', async () => {
    const gate = toFetchGate(headerAuth);
    const banned = (await gate(post({}, { 'x-user': 'banned' }))) as Response;
    expect(banned.status).toBe(403);
    const boom = (await gate(post({}, { 'x-user': 'boom' }))) as Response;
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain('secret internals');
  });

  it('answers the middleware’s routes itself, without credentials', async () => {
    const answer = (await toFetchGate(headerAuth)(
      new Request('http://127.0.0.1/.well-known/thing'),
    )) as Response;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ public: true });
  });

  it('refuses a middleware that let a request through without naming the caller', async () => {
    const open: Middleware = { name: 'open', http: (_req, _ctx, next) => next() };
    const answer = (await toFetchGate(open)(post({}))) as Response;
    expect(answer.status).toBe(401);
  });

  it('needs a middleware with an HTTP layer and sane options', () => {
    expect(() => toFetchGate({ name: 'rpc-only', rpc: (_c, next) => next() })).toThrow(TypeError);
    expect(() => toFetchGate(headerAuth, { maxBodySize: 0 })).toThrow(/maxBodySize/);
  });
});
