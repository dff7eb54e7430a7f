/**
 * The demo client: connects the way a custom client would, lists the tools, calls each one and prints results.
 *
 *   MCP_URL=http://127.0.0.1:3000/mcp API_KEY=mcpk_… npm run client     # API key
 *   MCP_URL=http://127.0.0.1:3000/mcp AUTH_MODE=oauth npm run client     # OAuth: authorization code + PKCE
 *
 * In OAuth mode it uses the SDK's own client auth support (`OAuthClientProvider`): it discovers the authorization
 * server from the server's 401, registers itself, logs in (headlessly, through the demo authorization server's
 * development login page), exchanges the code with PKCE, and refreshes the token when it expires.
 */

import { auth, type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { loginHeadlessly } from './headless-login.js';

/** Keeps the client's registration, tokens and PKCE verifier in memory, and logs in without a browser. */
export class DemoOAuthProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:8976/callback';
  code: string | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';

  constructor(
    private readonly user: string,
    private readonly scope?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcp-middleware demo client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.scope ? { scope: this.scope } : {}),
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
  /** A refresh cannot widen a grant, so step-up must not refresh: it must ask the user again. */
  forgetRefreshToken() {
    if (this.#tokens) this.#tokens = { ...this.#tokens, refresh_token: undefined };
  }
  async redirectToAuthorization(url: URL) {
    // A real client opens the browser here; the demo drives the development login page itself.
    this.code = await loginHeadlessly(url, this.redirectUrl, this.user);
  }
}

export interface ConnectOptions {
  url: URL;
  apiKey?: string;
  oauth?: DemoOAuthProvider;
  name?: string;
}

export interface DemoConnection {
  client: Client;
  /** Calls a tool; in OAuth mode a 403 insufficient_scope is answered by authorizing again with the larger scope. */
  callTool(name: string, args?: Record<string, unknown>): Promise<Awaited<ReturnType<Client['callTool']>>>;
  /** OAuth mode: exchanges the refresh token for a new access token through the SDK. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** The scope named by the last `403 insufficient_scope` challenge the server sent. */
function challengeRecorder() {
  const seen: { scope: string | undefined } = { scope: undefined };
  const fetchFn = async (input: string | URL, init?: RequestInit) => {
    const response = await fetch(input, init);
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (response.status === 403 && challenge.includes('insufficient_scope')) {
      seen.scope = /scope="([^"]*)"/.exec(challenge)?.[1];
    }
    return response;
  };
  return { seen, fetchFn };
}

/** Connects over Streamable HTTP with an API key, or runs the OAuth flow first when the server asks for it. */
export async function connectDemoClient(options: ConnectOptions): Promise<DemoConnection> {
  const challenges = challengeRecorder();
  const makeClient = () => {
    const client = new Client(
      { name: options.name ?? 'mcp-middleware-demo-client', version: '0.1.0' },
      { capabilities: { sampling: {} } },
    );
    // The client's "model" for classify_and_route: answers the label its keywords suggest.
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const text = req.params.messages.map((m) => (m.content as { text?: string }).text ?? '').join(' ');
      const label = /crash|error|broken|fail/i.test(text)
        ? 'bug'
        : /invoice|refund|charge/i.test(text)
          ? 'billing'
          : 'question';
      return { role: 'assistant', model: 'demo-client-model', content: { type: 'text', text: label } };
    });
    return client;
  };
  const makeTransport = () =>
    new StreamableHTTPClientTransport(options.url, {
      fetch: challenges.fetchFn,
      ...(options.apiKey ? { requestInit: { headers: { 'x-api-key': options.apiKey } } } : {}),
      ...(options.oauth ? { authProvider: options.oauth } : {}),
    });
  let client = makeClient();
  let transport = makeTransport();
  try {
    await client.connect(transport);
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !options.oauth?.code) throw error;
    // The provider logged in and holds the code: exchange it (PKCE), then connect again with the token.
    await transport.finishAuth(options.oauth.code);
    client = makeClient();
    transport = makeTransport();
    await client.connect(transport);
  }
  const oauth = options.oauth;
  return {
    client,
    async callTool(name, args = {}) {
      try {
        return await client.callTool({ name, arguments: args });
      } catch (error) {
        const scope = challenges.seen.scope;
        if (!oauth || !scope) throw error;
        challenges.seen.scope = undefined;
        oauth.forgetRefreshToken();
        if ((await auth(oauth, { serverUrl: options.url, scope })) === 'REDIRECT' && oauth.code) {
          await transport.finishAuth(oauth.code);
        }
        return client.callTool({ name, arguments: args });
      }
    },
    async refresh() {
      if (!oauth?.tokens()?.refresh_token) throw new Error('no refresh token to use');
      const result = await auth(oauth, { serverUrl: options.url });
      if (result !== 'AUTHORIZED') throw new Error('the refresh token was not accepted');
    },
    close: () => client.close(),
  };
}

function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? `[${c.type}]`).join(' ');
}

async function run(): Promise<void> {
  const url = new URL(process.env['MCP_URL'] ?? 'http://127.0.0.1:3000/mcp');
  const mode = process.env['AUTH_MODE'] ?? (process.env['API_KEY'] ? 'apikey' : 'oauth');
  const oauth = mode === 'oauth' ? new DemoOAuthProvider(process.env['DEMO_USER'] ?? 'alice') : undefined;
  const connection = await connectDemoClient({
    url,
    ...(mode === 'apikey' ? { apiKey: process.env['API_KEY'] ?? '' } : {}),
    ...(oauth ? { oauth } : {}),
  });
  const { client } = connection;
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
    console.log(`  [server log ${n.params.level}] ${JSON.stringify(n.params.data)}`),
  );
  await client.setLoggingLevel('info');

  const { tools } = await client.listTools();
  console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);
  const calls: Array<[string, Record<string, unknown>]> = [
    ['whoami', {}],
    ['classify_and_route', { text: 'The app crashes when I upload a photo' }],
    ['get_record', { id: 'rec-1001' }],
    ['get_record', { id: 'rec-9999' }],
    ['get_record', { id: 'rec-0000' }],
    ['get_record', { id: 'not-an-id' }],
    ['service_status', { service: 'payments' }],
    ['service_status', { service: 'payments', delay: 3000 }],
    ['update_record', { id: 'rec-1002', status: 'closed' }],
    ['whoami', {}],
  ];
  for (const [name, args] of calls) {
    try {
      const result = await connection.callTool(name, args);
      console.log(
        `${name} ${JSON.stringify(args)} -> ${result.isError ? 'tool error: ' : ''}${text(result)}`,
      );
    } catch (error) {
      console.log(`${name} ${JSON.stringify(args)} -> protocol error: ${(error as Error).message}`);
    }
  }
  console.log('long_task with progress:');
  const result = await client.callTool(
    { name: 'long_task', arguments: { steps: 3, stepMs: 100 } },
    undefined,
    {
      onprogress: (p) => console.log(`  progress ${p.progress}/${p.total}: ${p.message ?? ''}`),
    },
  );
  console.log(`long_task -> ${text(result)}`);
  if (oauth) {
    await connection.refresh();
    console.log(`refreshed the access token; whoami -> ${text(await connection.callTool('whoami'))}`);
  }
  await connection.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
