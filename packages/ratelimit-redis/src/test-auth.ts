import type { Middleware } from '@mcp-middleware/core';

/** The identity an auth middleware would set, from test headers: enough to key limits by client and tenant. */
export const testAuth: Middleware = {
  name: 'test-auth',
  async http(req, ctx, next) {
    const clientId = req.headers.get('x-test-client');
    if (clientId) {
      ctx.authInfo = {
        token: 'test',
        clientId,
        scopes: [],
        extra: { tenant: req.headers.get('x-test-tenant') ?? undefined },
      };
    }
    return next();
  },
};
