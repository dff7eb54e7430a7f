/**
 * The mcp-middleware demo: one real MCP server composing every package.
 *
 *   npm run demo                                  # Streamable HTTP on 127.0.0.1:3000, API keys, memory limits
 *   AUTH_MODE=oauth npm run demo                  # OAuth, with an embedded development authorization server
 *   REDIS_URL=redis://127.0.0.1:6379 npm run demo # limits, resumable streams and notifications across instances
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm run demo # traces and metrics over OTLP
 *   node --import tsx src/main.ts --transport stdio   # how Claude Desktop launches local servers
 */

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import {
  type ApiKeyFailure,
  apiKeyAuth,
  generateApiKey,
  hashApiKeySecret,
  MemoryKeyStore,
  parseApiKey,
} from '@mcp-middleware/auth-apikey';
import { oauth } from '@mcp-middleware/auth-oauth';
import { createMiddlewareHandler, type Middleware, serve, throttled, wrapServer } from '@mcp-middleware/core';
import { errors } from '@mcp-middleware/errors';
import { type HealthCheck, health, oauthServerCheck } from '@mcp-middleware/health';
import { jsonLogger } from '@mcp-middleware/logging-json';
import {
  type LimitPolicy,
  MemoryStore,
  RedisStore,
  rateLimit,
  type StoreFailureEvent,
} from '@mcp-middleware/ratelimit-redis';
import { redisSessions } from '@mcp-middleware/sessions-redis';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Redis } from 'ioredis';
import { ConfigError, type DemoConfig, loadConfig } from './config.js';
import { keywordModel } from './keyword-model.js';
import { startTelemetry } from './telemetry.js';
import { ALL_SCOPES, createDemoServer, TOOL_SCOPES } from './tools.js';
import { startUpstream } from './upstream.js';

const VERSION = '0.1.0';

/** Limits: every client per minute at the HTTP layer, and the two slow tools per client at the RPC layer. */
function limitPolicies(config: DemoConfig): LimitPolicy[] {
  return [
    { name: 'per-client', limit: config.rateLimit, window: '1m' },
    { name: 'slow-tools', limit: 10, window: '1m', tools: ['service_status', 'long_task'] },
  ];
}

function keyStoreFrom(config: DemoConfig): { store: MemoryKeyStore; devKey: string } {
  // A development key printed once at start, valid for a day; API_KEYS adds keys you generated yourself.
  const dev = generateApiKey({
    owner: 'demo-developer',
    scopes: [...ALL_SCOPES],
    name: 'printed at start',
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  const records = [dev.record];
  for (const key of config.apiKeys) {
    const parsed = parseApiKey(key)!; // loadConfig() checked every entry
    records.push({
      id: parsed.id,
      secretHash: hashApiKeySecret(parsed.secret),
      owner: 'configured',
      scopes: [...ALL_SCOPES],
    });
  }
  return { store: new MemoryKeyStore(records), devKey: dev.key };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Until the server owns the signals (health() in HTTP mode, the stdio handler), a stop signal ends the process at
 * once: nothing is being served yet. Explicit, because as PID 1 in a container the default action is to ignore it.
 */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
function stopDuringStart(signal: NodeJS.Signals): void {
  console.error(`demo: ${signal} while starting; exiting`);
  process.exit(0);
}
function handOverSignals(): void {
  for (const s of STOP_SIGNALS) process.off(s, stopDuringStart);
}

async function main(): Promise<void> {
  for (const s of STOP_SIGNALS) process.once(s, stopDuringStart);
  console.error(`mcp-middleware demo ${VERSION} starting`);
  let config: DemoConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      console.error(`demo: bad configuration: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }

  const cleanups: Array<() => Promise<unknown>> = [];
  // Tracing goes first in each middleware list, so its spans cover everything the others do.
  const telemetry = startTelemetry(VERSION);
  // Runs per request while Redis is down: one line per 10 s, with how many it held back, and no stack.
  const logStoreFailure = throttled('10s', (error: unknown, event: StoreFailureEvent, suppressed: number) =>
    log.logger.warn(
      { reason: error instanceof Error ? error.message : String(error), ...event, suppressed },
      'rate-limit store failure',
    ),
  );
  const traced = telemetry ? [telemetry.middleware] : [];
  if (telemetry) cleanups.push(telemetry.shutdown);
  const upstream = config.upstreamUrl ? { url: new URL(config.upstreamUrl) } : await startUpstream();
  if ('close' in upstream) cleanups.push(upstream.close);

  const log = jsonLogger({ level: config.logLevel });
  const errs = errors({
    timeout: '30s',
    toolTimeouts: { long_task: '60s' },
    onError: (error, report) =>
      log.logger.error({ err: error, errorId: report.errorId, tool: report.toolName }, 'masked error'),
  });

  // Redis when REDIS_URL is set: limits hold across every instance. No offline queue, one retry: a Redis outage
  // must turn into the failure policy within the store's timeout, not into a queue of waiting requests.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 })
    : undefined;
  redis?.on('error', () => {}); // reported through the store's failure hook and the readiness check
  if (redis) cleanups.push(() => redis.quit().catch(() => redis.disconnect()));
  const limits = rateLimit({
    policies: limitPolicies(config),
    store: redis
      ? new RedisStore({ client: redis, timeout: '200ms' })
      : new MemoryStore({ maxKeys: 100_000 }),
    onStoreFailure: 'local',
    // Runs per request while Redis is down: one line per 10 s, with how many it held back, and no stack.
    onStoreError: (error: unknown, event: StoreFailureEvent) => {
      // Every failure is counted in the metrics; the log gets one line per 10 s.
      telemetry?.middleware.recordStoreFailure(event);
      logStoreFailure(error, event);
    },
  });
  // Many replicas behind one balancer: streams any replica can resume, list changes that reach every replica.
  const scale = redis ? redisSessions({ redis, prefix: 'mcp-demo:' }) : undefined;
  // Before authentication, per address (IPv6 per /64), in memory: a flood of bad keys gets 429s cheaply instead
  // of a key check and a 401 each. Generous, since one address may carry many clients (NAT, a proxy).
  const preAuth = rateLimit({
    store: new MemoryStore({ maxKeys: 50_000 }),
    policies: [{ name: 'per-address', limit: config.preAuthLimit, window: '1m', key: (s) => s.address }],
  });

  const samplingOptions = { fallback: keywordModel, timeout: '20s' as const };

  if (config.transport === 'stdio') {
    // Local hosts (Claude Desktop) launch the server and speak over stdin/stdout: no HTTP layer, no auth; the RPC
    // layer (logs, per-tool limits, errors and timeouts) runs the same. Logs go to stderr.
    const server = createDemoServer({
      errors: errs,
      sampling: samplingOptions,
      upstreamUrl: upstream.url,
      log,
    });
    await wrapServer(server, { middleware: [...traced, log, limits, errs] }).connect(
      new StdioServerTransport(),
    );
    const stop = async () => {
      await server.close();
      for (const c of cleanups) await c();
      process.exit(0);
    };
    handOverSignals();
    for (const s of STOP_SIGNALS) process.once(s, stop);
    return;
  }

  // The OAuth resource identifier names the port, so a free port (PORT=0) is chosen before anything is built.
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  const baseUrl =
    config.publicUrl ?? `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  const resource = new URL('/mcp', baseUrl).href;
  const checks: HealthCheck[] = [];
  // The limiter's own check: Redis down is 'warn' (still ready), since onStoreFailure 'local' keeps serving.
  if (redis) checks.push(limits.storeCheck({ name: 'redis' }));
  // Session records: Redis down is 'warn' too (sessions this replica holds keep working).
  if (scale) checks.push(scale.sessions.check);

  let auth: Middleware | undefined;
  let devKey: string | undefined;
  let issuer: string | undefined;
  if (config.auth === 'apikey') {
    const keys = keyStoreFrom(config);
    devKey = keys.devKey;
    auth = apiKeyAuth({
      store: keys.store,
      toolScopes: TOOL_SCOPES,
      // Aggregated: one line per 10 s with the count held back, so a flood of bad keys cannot flood the log.
      onFailure: throttled('10s', (failure: ApiKeyFailure, suppressed: number) =>
        log.logger.warn({ ...failure, suppressed }, 'api key refused'),
      ),
    });
  } else if (config.auth === 'oauth') {
    // Loaded only in OAuth mode: oidc-provider is a development dependency of the demo's own.
    const { startDevAuthorizationServer } = await import('./dev-auth-server.js');
    const as = await startDevAuthorizationServer({ port: config.oauthPort, resource, scopes: ALL_SCOPES });
    cleanups.push(as.close);
    issuer = as.issuer;
    checks.push(oauthServerCheck(issuer));
    auth = oauth({
      resource,
      authorizationServers: [issuer],
      requiredScopes: ['records:read'],
      toolScopes: TOOL_SCOPES,
      scopesSupported: ALL_SCOPES,
      resourceName: 'mcp-middleware demo',
    });
  }

  const probes = health({ checks, version: VERSION, drainTimeout: `${config.drainSeconds}s` });
  const handler = createMiddlewareHandler({
    server: ({ jsonSchemaValidator }) =>
      createDemoServer({
        errors: errs,
        sampling: samplingOptions,
        upstreamUrl: upstream.url,
        log,
        jsonSchemaValidator,
      }),
    // Outermost first: logs see everything; probes answer before auth; the per-address limit before auth, so
    // floods are cheap to refuse; auth before limits, so limits key on the client's identity; errors innermost.
    middleware: [
      ...traced,
      log,
      probes,
      preAuth,
      ...(auth ? [auth] : []),
      limits,
      ...(scale ? [scale] : []),
      errs,
    ],
    ...(scale ? { eventStore: scale.eventStore, retryInterval: '1s' } : {}),
    trustProxy: config.trustProxy,
    // With Redis, any replica serves any session (records restored on demand), so no balancer affinity is needed.
    sessions: { max: config.maxSessions, ...(scale ? { store: scale.sessions } : {}) },
    ...(config.allowedHosts.length > 0 ? { allowedHosts: config.allowedHosts } : {}),
  });
  handOverSignals(); // health() listens from here on
  const node = await serve(handler, { port, hostname: config.host });
  void handler.closed.then(async () => {
    for (const c of cleanups) await c().catch(() => {});
  });

  const mcpUrl = new URL('/mcp', node.url);
  const lines = [
    '',
    `mcp-middleware demo ${VERSION} listening on ${mcpUrl}`,
    `  auth: ${config.auth}${issuer ? ` (development authorization server at ${issuer})` : ''}; limits: ${redis ? 'Redis' : 'in memory'}${scale ? '; sessions, streams and notifications: Redis' : ''}`,
    `  probes: ${new URL('/livez', node.url)}  ${new URL('/readyz', node.url)}`,
  ];
  if (telemetry) lines.push(`  telemetry: OTLP to ${process.env['OTEL_EXPORTER_OTLP_ENDPOINT']}`);
  if (devKey) {
    lines.push(
      `  development API key (shown once, valid 24 h): ${devKey}`,
      '',
      '  Connect with the MCP Inspector:',
      `    npx @modelcontextprotocol/inspector --cli ${mcpUrl} --transport http --header "x-api-key: ${devKey}" --method tools/list`,
      '  or run the demo client:',
      `    MCP_URL=${mcpUrl} API_KEY=${devKey} npm run client`,
    );
  } else if (config.auth === 'oauth') {
    lines.push(
      '',
      '  Run the demo client (registers, logs in headlessly with PKCE, calls tools):',
      `    MCP_URL=${mcpUrl} AUTH_MODE=oauth npm run client`,
      `  Or point the MCP Inspector at ${mcpUrl}: it discovers the authorization server from the 401.`,
    );
  }
  console.error(lines.join('\n'));
}

await main();
