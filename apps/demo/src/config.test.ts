import { generateApiKey } from '@mcp-middleware/auth-apikey';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('the demo configuration', () => {
  it('has defaults that serve on loopback with API keys and drain within Docker’s grace period', () => {
    expect(loadConfig({}, [])).toMatchObject({
      transport: 'http',
      host: '127.0.0.1',
      port: 3000,
      auth: 'apikey',
      apiKeys: [],
      redisUrl: undefined,
      drainSeconds: 8,
    });
  });

  it('accepts API_KEYS that are mcpk_ keys, comma separated', () => {
    const a = generateApiKey({ owner: 'a' }).key;
    const b = generateApiKey({ owner: 'b' }).key;
    expect(loadConfig({ API_KEYS: `${a}, ${b}` }, []).apiKeys).toEqual([a, b]);
  });

  it.each([
    [
      'a malformed API_KEYS entry',
      { API_KEYS: 'mcpk_short' },
      /API_KEYS entry 1 is not an mcpk_<id>_<secret> key/,
    ],
    ['a REDIS_URL without a host', { REDIS_URL: 'redis:6379' }, /REDIS_URL must name a host.*'redis:6379'/],
    [
      'a REDIS_URL of another scheme',
      { REDIS_URL: 'http://redis:6379' },
      /REDIS_URL must use redis: or rediss:/,
    ],
    ['a drain that is not a number', { DRAIN_SECONDS: 'soon' }, /DRAIN_SECONDS must be a whole number/],
  ])('rejects %s with a ConfigError that names the setting', (_what, env, message) => {
    expect(() => loadConfig(env, [])).toThrow(ConfigError);
    expect(() => loadConfig(env, [])).toThrow(message);
  });

  it('accepts a REDIS_URL with a host', () => {
    expect(loadConfig({ REDIS_URL: 'redis://redis:6379' }, []).redisUrl).toBe('redis://redis:6379');
  });
});
