// #region store-contract
import { rateLimitStoreContract } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from './memory-store.js';

rateLimitStoreContract('MemoryStore', () => new MemoryStore(), { describe, it, expect, beforeAll, afterAll });
// #endregion store-contract

describe('MemoryStore', () => {
  describe('under 1,000,000 distinct keys', () => {
    it('never holds more than maxKeys', async () => {
      const store = new MemoryStore({ maxKeys: 10_000 });
      const policy = { limit: 10, windowMs: 60_000 };
      let largest = 0;
      for (let i = 0; i < 1_000_000; i++) {
        store.consumeSync(`client-${i}`, policy);
        if (store.size > largest) largest = store.size;
      }
      expect(largest).toBe(10_000);
      // The async API shares the bound.
      await store.consume('one-more', policy);
      expect(store.size).toBe(10_000);
      await store.close();
    });
  });

  describe('when full', () => {
    it('forgets the least recently used key first', async () => {
      const store = new MemoryStore({ maxKeys: 3 });
      const policy = { limit: 1, windowMs: 60_000 };
      for (const key of ['a', 'b', 'c']) expect((await store.consume(key, policy)).allowed).toBe(true);
      // 'a' is refused (nothing changes), so it stays the oldest; 'b' and 'c' are left as they are.
      expect((await store.consume('a', policy)).allowed).toBe(false);
      await store.consume('d', policy);
      expect(store.size).toBe(3);
      // 'a' was evicted: its count is gone. 'b' was kept: still refused.
      expect((await store.consume('b', policy)).allowed).toBe(false);
      expect((await store.consume('a', policy)).allowed).toBe(true);
    });

    it('keeps a key used several times in a row as the most recent', () => {
      const store = new MemoryStore({ maxKeys: 2 });
      const policy = { limit: 5, windowMs: 60_000 };
      store.consumeSync('old', policy);
      for (let i = 0; i < 3; i++) store.consumeSync('busy', policy);
      store.consumeSync('new', policy); // evicts 'old'
      expect(store.consumeSync('busy', policy).remaining).toBe(1);
      expect(store.consumeSync('old', policy).remaining).toBe(4);
    });

    it('counts an expired key afresh, as the most recent, without growing', () => {
      vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-01T12:00:00Z') });
      try {
        const store = new MemoryStore({ maxKeys: 2 });
        const short = { limit: 1, windowMs: 1000 };
        const long = { limit: 1, windowMs: 60_000 };
        expect(store.consumeSync('a', short).allowed).toBe(true);
        expect(store.consumeSync('b', long).allowed).toBe(true);
        vi.setSystemTime(Date.now() + 1000);
        expect(store.consumeSync('a', short)).toMatchObject({ allowed: true, remaining: 0 });
        expect(store.size).toBe(2);
        // 'b' is now the least recently used: a new key evicts it, and 'a' keeps its count.
        store.consumeSync('c', long);
        expect(store.consumeSync('a', short).allowed).toBe(false);
        expect(store.consumeSync('b', long).allowed).toBe(true);
      } finally {
        vi.useRealTimers();
      }
    });

    it('keeps a key that is used over one that is not', async () => {
      const store = new MemoryStore({ maxKeys: 2 });
      const policy = { limit: 2, windowMs: 60_000 };
      await store.consume('busy', policy);
      await store.consume('idle', policy);
      await store.consume('busy', policy); // admitted: moves to the most recent end
      await store.consume('new', policy);
      expect((await store.consume('busy', policy)).allowed).toBe(false);
    });
  });

  describe('configuration', () => {
    it('throws a TypeError naming maxKeys', () => {
      expect(() => new MemoryStore({ maxKeys: 0 })).toThrow(/maxKeys/);
      expect(() => new MemoryStore({ maxKeys: 1.5 })).toThrow(TypeError);
    });

    it('rejects a cost above the capacity', async () => {
      const store = new MemoryStore();
      await expect(store.consume('k', { limit: 3, windowMs: 1000 }, 4)).rejects.toThrow(TypeError);
    });
  });
});
