import { describe, expect, it } from 'vitest';
import { authInfoFor, checkApiKey, clientReasonOf, extractApiKey, type KeySources } from './decision.js';
import { generateApiKey } from './generate.js';
import { parseApiKey } from './key-format.js';

const now = Date.parse('2026-11-25T12:00:00Z');

function issued(extra: { expiresAt?: string; revokedAt?: string } = {}) {
  const { key, record } = generateApiKey({ owner: 'alice', tenant: 'acme', scopes: ['read'], name: 'ci' });
  return { key: parseApiKey(key)!, record: { ...record, ...extra } };
}

describe('checkApiKey', () => {
  it('accepts the right secret for a live key', () => {
    const { key, record } = issued();
    expect(checkApiKey(key, record, now)).toEqual({ ok: true, record, expiresAt: undefined });
  });

  it('tells an unknown id from a wrong secret (for the hook, not the client)', () => {
    const { key, record } = issued();
    const other = issued();
    expect(checkApiKey(key, undefined, now)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(checkApiKey(key, other.record, now)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(checkApiKey({ id: key.id, secret: other.key.secret }, record, now)).toEqual({
      ok: false,
      reason: 'invalid_secret',
    });
    expect(clientReasonOf('unknown_key')).toBe(clientReasonOf('invalid_secret'));
  });

  it('reports expiry and revocation only to the holder of the right secret', () => {
    const expired = issued({ expiresAt: '2026-11-25T11:59:59Z' });
    const revoked = issued({ revokedAt: '2026-11-25T12:00:00Z' });
    expect(checkApiKey(expired.key, expired.record, now)).toEqual({ ok: false, reason: 'expired' });
    expect(checkApiKey(revoked.key, revoked.record, now)).toEqual({ ok: false, reason: 'revoked' });
    const wrong = issued().key.secret;
    expect(checkApiKey({ id: expired.key.id, secret: wrong }, expired.record, now)).toEqual({
      ok: false,
      reason: 'invalid_secret',
    });
  });

  it('keeps a key scheduled for revocation valid until then, and ends its life there', () => {
    const { key, record } = issued({ expiresAt: '2027-01-01T00:00:00Z', revokedAt: '2026-12-01T00:00:00Z' });
    expect(checkApiKey(key, record, now)).toEqual({
      ok: true,
      record,
      expiresAt: Date.parse('2026-12-01T00:00:00Z'),
    });
  });

  it('fails closed on a record time it cannot read', () => {
    const bad = issued({ expiresAt: 'garbage' });
    expect(checkApiKey(bad.key, bad.record, now)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('extractApiKey', () => {
  const both: KeySources = { header: 'x-api-key', bearer: true };
  const headerOnly: KeySources = { header: 'x-api-key', bearer: false };
  const key = generateApiKey({ owner: 'o' }).key;

  it('reads the header, or the bearer token, or both when they agree', () => {
    expect(extractApiKey(new Headers({ 'x-api-key': key }), both)).toEqual({ ok: true, key });
    expect(extractApiKey(new Headers({ authorization: `Bearer ${key}` }), both)).toEqual({ ok: true, key });
    expect(extractApiKey(new Headers({ authorization: `bearer ${key}` }), both)).toEqual({ ok: true, key });
    expect(extractApiKey(new Headers({ 'x-api-key': key, authorization: `Bearer ${key}` }), both)).toEqual({
      ok: true,
      key,
    });
  });

  it('says missing when there is nothing, naming where a key goes', () => {
    const result = extractApiKey(new Headers(), both);
    expect(result).toMatchObject({ ok: false, reason: 'missing' });
    expect(!result.ok && result.message).toContain('x-api-key');
    expect(extractApiKey(new Headers({ authorization: `Bearer ${key}` }), headerOnly)).toMatchObject({
      ok: false,
      reason: 'missing',
    });
  });

  it('refuses another Authorization scheme, and two different keys, without echoing them', () => {
    const basic = extractApiKey(new Headers({ authorization: `Basic ${key}` }), both);
    expect(basic).toMatchObject({ ok: false, reason: 'malformed' });
    expect(JSON.stringify(basic)).not.toContain(key);
    const other = generateApiKey({ owner: 'o' }).key;
    const two = extractApiKey(new Headers({ 'x-api-key': key, authorization: `Bearer ${other}` }), both);
    expect(two).toMatchObject({ ok: false, reason: 'malformed' });
    expect(JSON.stringify(two)).not.toContain(key);
    expect(JSON.stringify(two)).not.toContain(other);
  });
});

describe('authInfoFor', () => {
  it('makes the SDK identity: key id as clientId, owner as subject, expiry in seconds, no secret', () => {
    const { record } = issued();
    const info = authInfoFor(record, Date.parse('2027-01-01T00:00:00.900Z'));
    expect(info).toEqual({
      token: `mcpk_${record.id}`,
      clientId: record.id,
      scopes: ['read'],
      expiresAt: Date.parse('2027-01-01T00:00:00Z') / 1000,
      extra: { subject: 'alice', owner: 'alice', keyId: record.id, tenant: 'acme', keyName: 'ci' },
    });
  });
});
