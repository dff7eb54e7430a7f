import { describe, expect, it } from 'vitest';
import { generateApiKey } from './generate.js';
import { MemoryKeyStore, validateApiKeyRecord } from './key-store.js';

const signal = new AbortController().signal;

describe('MemoryKeyStore', () => {
  it('finds records by id and holds several keys per owner', async () => {
    const a = generateApiKey({ owner: 'alice', scopes: ['read'] }).record;
    const b = generateApiKey({ owner: 'alice', scopes: ['read'] }).record;
    const c = generateApiKey({ owner: 'bob' }).record;
    const store = new MemoryKeyStore([a, b, c]);
    expect(await store.find(a.id, { signal })).toEqual(a);
    expect(await store.find('0000000000000000', { signal })).toBeUndefined();
    expect(
      store
        .list('alice')
        .map((r) => r.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());
    expect(store.list()).toHaveLength(3);
  });

  it('refuses a duplicate id', () => {
    const a = generateApiKey({ owner: 'alice' }).record;
    expect(() => new MemoryKeyStore([a, a])).toThrow(/duplicate id/);
  });

  it('revokes now or from a given time, and says when there is no such key', async () => {
    const a = generateApiKey({ owner: 'alice' }).record;
    const store = new MemoryKeyStore([a]);
    expect(store.revoke(a.id, '2030-01-01T00:00:00Z')).toBe(true);
    expect((await store.find(a.id, { signal }))?.revokedAt).toBe('2030-01-01T00:00:00Z');
    expect(store.revoke('ffffffffffffffff')).toBe(false);
    expect(() => store.revoke(a.id, 'soon')).toThrow(TypeError);
    expect(store.delete(a.id)).toBe(true);
    expect(await store.find(a.id, { signal })).toBeUndefined();
  });

  it('keeps its own copy, so mutating the caller’s scopes array changes nothing', async () => {
    const scopes = ['read'];
    const record = { ...generateApiKey({ owner: 'alice' }).record, scopes };
    const store = new MemoryKeyStore([record]);
    scopes.push('admin');
    expect((await store.find(record.id, { signal }))?.scopes).toEqual(['read']);
  });
});

describe('validateApiKeyRecord', () => {
  const good = generateApiKey({ owner: 'alice', scopes: ['read'] }).record;

  it.each([
    ['id', { ...good, id: 'not-an-id' }],
    ['secretHash', { ...good, secretHash: 'abc' }],
    ['owner', { ...good, owner: '' }],
    ['tenant', { ...good, tenant: 42 }],
    ['scopes', { ...good, scopes: 'read' }],
    ['scopes', { ...good, scopes: ['read write'] }],
    ['name', { ...good, name: 7 }],
    ['expiresAt', { ...good, expiresAt: 'next tuesday' }],
    ['revokedAt', { ...good, revokedAt: '' }],
  ])('names %s when it is wrong', (field, record) => {
    expect(() => validateApiKeyRecord(record)).toThrow(TypeError);
    expect(() => validateApiKeyRecord(record)).toThrow(field);
  });

  it('accepts ISO strings and Dates for times', () => {
    expect(() =>
      validateApiKeyRecord({ ...good, expiresAt: new Date(), revokedAt: '2027-01-01T00:00:00Z' }),
    ).not.toThrow();
  });
});
