import { describe, expect, it } from 'vitest';
import { authRefusalReason, parseRateLimit, policyNames, rpcRefusal } from './outcomes.js';

describe('policyNames', () => {
  it.each([
    '"per-client";r=4;t=60',
    '"per-client";r=4;t=60, "tool\\"s";r=0;t=3',
    '"a\\"b";r=1',
    '"";r=1',
    `"${'x'.repeat(64)}";r=1`,
    `"${'x'.repeat(65)}";r=1`,
    '"name" junk',
    '"name";r=1 ',
    ' "name";r=1',
    '"unclosed;r=1',
    'nonsense',
    '',
  ])('names the same policies as parseRateLimit for %j', (header) => {
    expect(policyNames(header)).toEqual(parseRateLimit(header).map((item) => item.policy));
  });
});

describe('parseRateLimit', () => {
  it('reads each policy and what remains of it', () => {
    expect(parseRateLimit('"per-client";r=4;t=60, "tool\\"s";r=0;t=3')).toEqual([
      { policy: 'per-client', remaining: 4 },
      { policy: 'tool"s', remaining: 0 },
    ]);
  });

  it('skips malformed items and ignores absent or oversized headers', () => {
    expect(parseRateLimit('nonsense, "ok";r=1')).toEqual([{ policy: 'ok', remaining: 1 }]);
    expect(parseRateLimit(null)).toEqual([]);
    expect(parseRateLimit(`"a";r=1,${' '.repeat(5000)}`)).toEqual([]);
  });

  it('reads at most 16 policies', () => {
    const header = Array.from({ length: 40 }, (_, i) => `"p${i}";r=1`).join(', ');
    expect(parseRateLimit(header)).toHaveLength(16);
  });
});

describe('authRefusalReason', () => {
  it('takes the error code of an OAuth challenge', () => {
    expect(authRefusalReason(401, 'Bearer error="invalid_token", error_description="expired"')).toBe(
      'invalid_token',
    );
    expect(authRefusalReason(403, 'Bearer error="insufficient_scope", scope="admin"')).toBe(
      'insufficient_scope',
    );
  });

  it('falls back to the reason in the error data, then to missing credentials', () => {
    expect(authRefusalReason(401, 'ApiKey header="x-api-key"', 'expired')).toBe('expired');
    expect(authRefusalReason(401, 'Bearer resource_metadata="https://x"')).toBe('missing_credentials');
    expect(authRefusalReason(403, null)).toBe('forbidden');
  });

  it('says nothing for other statuses, and never passes a free-text reason through', () => {
    expect(authRefusalReason(200, 'Bearer error="invalid_token"')).toBeUndefined();
    expect(authRefusalReason(401, null, 'Bearer abc.def')).toBe('missing_credentials');
  });
});

describe('rpcRefusal', () => {
  it('tells rate limits, scope refusals and missing auth apart by JSON-RPC code', () => {
    expect(rpcRefusal(-32029, { policy: 'per-tool' })).toEqual({ kind: 'rate_limited', policy: 'per-tool' });
    expect(rpcRefusal(-32003, { required: ['admin'] })).toEqual({
      kind: 'auth',
      reason: 'insufficient_scope',
    });
    expect(rpcRefusal(-32005, undefined)).toEqual({ kind: 'auth', reason: 'unauthorized' });
    expect(rpcRefusal(-32602, undefined)).toBeUndefined();
  });
});
