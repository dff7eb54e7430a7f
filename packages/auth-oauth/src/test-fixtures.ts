/**
 * Test fixtures: a real authorization server (oidc-provider) in-process, a key server for crafted tokens, an MCP
 * server with scoped tools, and the SDK client's OAuth provider with a headless browser for the login.
 * Not part of the published package.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createMiddlewareHandler,
  type McpHandler,
  type McpHandlerOptions,
  serve,
} from '@mcp-middleware/core';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors as oidcErrors } from 'oidc-provider';
import { z } from 'zod';
import type { OAuthMiddleware } from './oauth.js';

export const SERVICE_CLIENT = { id: 'service', secret: 'service-secret-0123456789abcdef' };
export const OPAQUE_CLIENT = { id: 'opaque-service', secret: 'opaque-secret-0123456789abcdef' };
export const RESOURCE_SERVER_CLIENT = { id: 'mcp-resource-server', secret: 'rs-secret-0123456789abcdef' };
export const OTHER_RESOURCE = 'https://other.example/api';
export const TOOL_SCOPES = 'tools:read tools:write';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Cookies of one user agent across the login: enough of RFC 6265 for oidc-provider's interactions. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface TestAuthorizationServer {
  readonly issuer: string;
  /** The resource identifier tokens are issued for; set once the MCP server knows its URL. */
  resource: string;
  /** Introspection requests it has answered. */
  readonly introspections: number;
  clientCredentialsToken(
    client: { id: string; secret: string },
    params: { resource: string; scope?: string },
  ): Promise<string>;
  revoke(token: string, client: { id: string; secret: string }): Promise<void>;
  /** Drives the dev login and consent pages like a browser would, and returns the authorization code. */
  authorizeHeadlessly(url: URL, jar: CookieJar, login: string, redirectUri: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * oidc-provider with resource indicators (JWT access tokens for our resource, opaque ones for OPAQUE_CLIENT),
 * client credentials, introspection, revocation, dynamic registration and the dev login pages.
 */
export async function startAuthorizationServer(): Promise<TestAuthorizationServer> {
  const http = createServer();
  const issuer = await listen(http);
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'as-key-1', use: 'sig', alg: 'RS256' };
  const state = { resource: '' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: SERVICE_CLIENT.id,
        client_secret: SERVICE_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: OPAQUE_CLIENT.id,
        client_secret: OPAQUE_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: RESOURCE_SERVER_CLIENT.id,
        client_secret: RESOURCE_SERVER_CLIENT.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys: [signingKey as JWK & Record<string, unknown>] },
    cookies: { keys: ['cookie-key-for-tests-only-0123456789'] },
    // This server lets a client ask for more scope later (MCP step-up), whatever scope it registered with.
    extraClientMetadata: {
      properties: ['scope'],
      validator(_ctx, key, _value, metadata) {
        if (key === 'scope') delete (metadata as Record<string, unknown>)['scope'];
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
        defaultResource: () => state.resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator, client) {
          if (indicator !== state.resource && indicator !== OTHER_RESOURCE)
            throw new oidcErrors.InvalidTarget();
          return {
            scope: TOOL_SCOPES,
            audience: indicator,
            accessTokenTTL: 600,
            accessTokenFormat: client.clientId === OPAQUE_CLIENT.id ? 'opaque' : 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  // oidc-provider warns about its development-only settings on every start; the tests know.
  provider.on('server_error', (_ctx, error) => console.error('authorization server error:', error));
  const counts = { introspections: 0 };
  const callback = provider.callback();
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/token/introspection')) counts.introspections++;
    callback(req, res);
  });

  const basic = (client: { id: string; secret: string }) =>
    `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;

  return {
    issuer,
    get resource() {
      return state.resource;
    },
    get introspections() {
      return counts.introspections;
    },
    set resource(value: string) {
      state.resource = value;
    },
    async clientCredentialsToken(client, params) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: params.resource,
          ...(params.scope ? { scope: params.scope } : {}),
        }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async revoke(token, client) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    async authorizeHeadlessly(url, jar, login, redirectUri) {
      let next: { url: string; body?: URLSearchParams } = { url: url.href };
      for (let step = 0; step < 20; step++) {
        const res = await fetch(next.url, {
          method: next.body ? 'POST' : 'GET',
          redirect: 'manual',
          headers: {
            cookie: jar.header(),
            ...(next.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          ...(next.body ? { body: next.body } : {}),
        });
        jar.store(res.headers.getSetCookie());
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          const location = new URL(res.headers.get('location')!, next.url);
          if (location.href.startsWith(redirectUri)) {
            const code = location.searchParams.get('code');
            if (!code)
              throw new Error(`authorization refused: ${location.searchParams.get('error_description')}`);
            return code;
          }
          next = { url: location.href };
          continue;
        }
        const html = await res.text();
        if (res.status !== 200)
          throw new Error(`authorization server answered ${res.status}: ${html.slice(0, 500)}`);
        const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
        const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
        if (!action || !prompt) throw new Error(`no interaction form on ${next.url}`);
        next = {
          url: new URL(action, next.url).href,
          body: new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }),
        };
      }
      throw new Error('the authorization flow did not end');
    },
    close: () => closeServer(http),
  };
}

/** What the SDK client needs to run the authorization code flow, stored in memory, with a headless browser. */
export class HeadlessOAuthProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1/callback';
  readonly jar = new CookieJar();
  /** Every authorization URL the client was sent to. */
  readonly authorizations: URL[] = [];
  lastCode: string | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';

  constructor(
    private readonly as: TestAuthorizationServer,
    private readonly login: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'headless test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
    this.lastCode = await this.as.authorizeHeadlessly(url, this.jar, this.login, this.redirectUrl);
  }
}

export const READ = 'tools:read';
export const WRITE = 'tools:write';

/** An MCP server with a public tool, a read tool and a write tool. */
export function notesServer(): McpHandlerOptions['server'] {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' }, { jsonSchemaValidator });
    const notes: string[] = [];
    server.registerTool('whoami', { description: 'Who is calling' }, async (extra) => ({
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            clientId: extra.authInfo?.clientId,
            subject: extra.authInfo?.extra?.['subject'],
            scopes: extra.authInfo?.scopes,
          }),
        },
      ],
    }));
    server.registerTool('read_notes', { description: 'Reads notes' }, async () => ({
      content: [{ type: 'text', text: JSON.stringify(notes) }],
    }));
    server.registerTool(
      'write_note',
      { description: 'Writes a note', inputSchema: { text: z.string() } },
      async ({ text }) => {
        notes.push(text);
        return { content: [{ type: 'text', text: `saved ${text}` }] };
      },
    );
    return server;
  };
}

export interface ProtectedServer {
  readonly url: URL;
  readonly resource: string;
  readonly middleware: OAuthMiddleware;
  close(): Promise<void>;
}

/**
 * Serves `notesServer()` behind the middleware `make` builds for the server's own URL: the resource identifier must
 * be that URL, known only once `serve()` has bound the port, which is why it takes a handler factory.
 */
export async function startProtectedServer(
  make: (resource: string) => OAuthMiddleware,
  options: Partial<McpHandlerOptions> = {},
): Promise<ProtectedServer> {
  let middleware: OAuthMiddleware | undefined;
  let handler: McpHandler | undefined;
  const node = await serve(
    (base) => {
      middleware = make(new URL('/mcp', base).href);
      handler = createMiddlewareHandler({ server: notesServer(), ...options, middleware: [middleware] });
      return handler;
    },
    { port: 0 },
  );
  const url = new URL('/mcp', node.url);
  return {
    url,
    resource: url.href,
    middleware: middleware!,
    close: async () => {
      await handler!.close({ drainTimeout: 0 });
      await node.close();
    },
  };
}

export type KeyServerMode = 'ok' | 'error' | 'hang';

export interface KeyServer {
  readonly issuer: string;
  /** The `jwks_uri` its metadata names; change it to move the keys. */
  jwksUri: string;
  /** Keys served at `/jwks`. */
  keys: JWK[];
  /** Keys served at `/jwks-next`. */
  nextKeys: JWK[];
  /** More fields for its metadata (an `introspection_endpoint`, say). */
  metadata: Record<string, unknown>;
  mode: KeyServerMode;
  /** Requests answered, by path. */
  readonly hits: Map<string, number>;
  /** Stops listening (connections refused) until `start()`, which listens on the same port again. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A minimal issuer for crafted tokens: OpenID discovery and a JWKS, which can fail, hang or stop on demand. */
export async function startKeyServer(keys: JWK[] = []): Promise<KeyServer> {
  const hanging: ServerResponse[] = [];
  const http = createServer();
  const issuer = await listen(http);
  const port = (http.address() as AddressInfo).port;
  const stop = () => {
    for (const res of hanging.splice(0)) res.destroy();
    return http.listening ? closeServer(http) : Promise.resolve();
  };
  const state: KeyServer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    keys,
    nextKeys: [],
    metadata: {},
    mode: 'ok',
    hits: new Map(),
    stop,
    start: () =>
      new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, '127.0.0.1', () => resolve());
      }),
    close: stop,
  };
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    state.hits.set(path, (state.hits.get(path) ?? 0) + 1);
    if (state.mode === 'hang') {
      hanging.push(res);
      return;
    }
    if (state.mode === 'error') {
      res.writeHead(500).end();
      return;
    }
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/.well-known/openid-configuration')
      json({ issuer, jwks_uri: state.jwksUri, ...state.metadata });
    else if (path === '/jwks') json({ keys: state.keys });
    else if (path === '/jwks-next') json({ keys: state.nextKeys });
    else res.writeHead(404).end();
  });
  return state;
}
