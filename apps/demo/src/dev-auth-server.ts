import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { errors as oidcErrors } from 'oidc-provider';

export interface DevAuthorizationServer {
  readonly issuer: string;
  close(): Promise<void>;
}

/**
 * A development authorization server (oidc-provider) embedded in the demo, so the whole OAuth flow runs locally:
 * dynamic client registration, authorization code + PKCE with its built-in login page (any user name, any
 * password), refresh tokens, client credentials, and JWT access tokens for our resource (RFC 8707).
 * NOT for production: in-memory storage, development keys and cookies.
 */
export async function startDevAuthorizationServer(options: {
  port: number;
  resource: string;
  scopes: readonly string[];
}): Promise<DevAuthorizationServer> {
  const http: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const scope = options.scopes.join(' ');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'demo-service',
        client_secret: 'demo-service-secret-not-for-production',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    scopes: ['openid', 'offline_access', ...options.scopes],
    cookies: { keys: ['demo-cookie-key-not-for-production'] },
    // MCP clients register once and may ask for more scope later (step-up): do not pin a client's scope.
    extraClientMetadata: {
      properties: ['scope'],
      validator(_ctx, key, _value, metadata) {
        if (key === 'scope') delete metadata['scope'];
      },
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx: unknown, indicator: string) {
          if (indicator !== options.resource) throw new oidcErrors.InvalidTarget();
          return {
            scope,
            audience: indicator,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Public clients (PKCE, no secret) get refresh tokens without asking for offline_access.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  } as ConstructorParameters<typeof Provider>[1]);
  provider.on('server_error', (_ctx, error) =>
    console.error('dev authorization server error:', error.message),
  );
  http.on('request', provider.callback());
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
