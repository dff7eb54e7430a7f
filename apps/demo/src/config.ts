import { parseArgs } from 'node:util';
import { parseApiKey } from '@mcp-middleware/auth-apikey';

/** Everything the demo reads from its environment and command line, validated once at start. */
export interface DemoConfig {
  transport: 'http' | 'stdio';
  host: string;
  port: number;
  auth: 'apikey' | 'oauth' | 'none';
  /** API keys accepted besides the generated dev key, as `mcpk_…` strings. */
  apiKeys: string[];
  redisUrl: string | undefined;
  /** Requests per minute per client. */
  rateLimit: number;
  /** Sessions held at once; each client (API key or token) holds at most a tenth of them. */
  maxSessions: number;
  /** Requests per minute per address (IPv6 per /64), counted in memory before authentication. */
  preAuthLimit: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Public URL of this server (the OAuth resource identifier); defaults to http://host:port. */
  publicUrl: string | undefined;
  /** Port of the embedded development authorization server (oauth mode); 0 picks one. */
  oauthPort: number;
  /** Base URL of the "external" service the fetch tool calls; defaults to an embedded local one. */
  upstreamUrl: string | undefined;
  /** How long a stop signal waits for calls in flight; keep it under the orchestrator's grace period. */
  drainSeconds: number;
  /** Trusted reverse-proxy hops in front of the demo (X-Forwarded-For). */
  trustProxy: number;
  /** `Host` values accepted; empty means loopback only on a loopback bind, anything otherwise. */
  allowedHosts: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${name} must be one of ${allowed.join(', ')}; got '${value}'`);
}

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got '${value}'`);
  }
  return n;
}

function url(name: string, value: string | undefined, protocols: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL; got '${value}'`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}; got '${parsed.protocol}'`);
  }
  // 'redis:6379' parses as a URL with no host (the port reads as a path): every connection would fail later.
  if (parsed.hostname === '') {
    throw new ConfigError(`${name} must name a host, as in ${protocols[0]}//host:port; got '${value}'`);
  }
  return value;
}

function apiKeyList(name: string, value: string | undefined): string[] {
  const keys = list(value);
  keys.forEach((key, i) => {
    if (!parseApiKey(key)) throw new ConfigError(`${name} entry ${i + 1} is not an mcpk_<id>_<secret> key`);
  });
  return keys;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Reads the configuration; throws a `ConfigError` that names the setting at the first bad value. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
): DemoConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      transport: { type: 'string' },
      port: { type: 'string' },
      auth: { type: 'string' },
    },
    strict: true,
  });
  return {
    transport: oneOf(
      '--transport / MCP_TRANSPORT',
      values.transport ?? env.MCP_TRANSPORT,
      ['http', 'stdio'],
      'http',
    ),
    host: env.HOST || '127.0.0.1',
    port: integer('--port / PORT', values.port ?? env.PORT, 3000, 0, 65535),
    auth: oneOf('--auth / AUTH_MODE', values.auth ?? env.AUTH_MODE, ['apikey', 'oauth', 'none'], 'apikey'),
    apiKeys: apiKeyList('API_KEYS', env.API_KEYS),
    redisUrl: url('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']),
    rateLimit: integer('RATE_LIMIT_PER_MINUTE', env.RATE_LIMIT_PER_MINUTE, 120, 1, 1_000_000),
    maxSessions: integer('MAX_SESSIONS', env.MAX_SESSIONS, 1000, 1, 1_000_000),
    preAuthLimit: integer('PRE_AUTH_LIMIT_PER_MINUTE', env.PRE_AUTH_LIMIT_PER_MINUTE, 600, 1, 1_000_000),
    logLevel: oneOf('LOG_LEVEL', env.LOG_LEVEL, LEVELS, 'info'),
    publicUrl: url('PUBLIC_URL', env.PUBLIC_URL, ['http:', 'https:']),
    oauthPort: integer('OAUTH_PORT', env.OAUTH_PORT, 0, 0, 65535),
    upstreamUrl: url('UPSTREAM_URL', env.UPSTREAM_URL, ['http:', 'https:']),
    // Docker waits 10 s (its default stop_grace_period) before SIGKILL: finish a little before that.
    drainSeconds: integer('DRAIN_SECONDS', env.DRAIN_SECONDS, 8, 0, 3600),
    trustProxy: integer('TRUST_PROXY_HOPS', env.TRUST_PROXY_HOPS, 0, 0, 10),
    allowedHosts: list(env.ALLOWED_HOSTS),
  };
}
