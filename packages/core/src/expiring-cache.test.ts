import { describe, expect, it } from 'vitest';
import { ExpiringCache } from './expiring-cache.js';

describe('ExpiringCache', () => {
  it('evicts the least recently used entry, counting repeated hits on the newest as use', () => {
    const cache = new ExpiringCache<string>(3);
    cache.set('a', 'A', 1000, 0);
    cache.set('b', 'B', 1000, 0);
    cache.set('c', 'C', 1000, 0);
    expect(cache.get('a', 1)).toBe('A'); // order now b, c, a
    expect(cache.get('a', 2)).toBe('A'); // a again: still the newest
    expect(cache.get('b', 3)).toBe('B'); // order now c, a, b
    cache.set('d', 'D', 1000, 4); // evicts c
    expect(cache.get('c', 5)).toBeUndefined();
    expect([cache.get('a', 6), cache.get('b', 7), cache.get('d', 8)]).toEqual(['A', 'B', 'D']);
    cache.set('e', 'E', 1000, 9); // order was a, b, d: evicts a
    expect(cache.get('a', 10)).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('forgets the newest entry at its expiry, and stores it again afterwards', () => {
    const cache = new ExpiringCache<number>(2);
    cache.set('a', 1, 100, 0);
    expect(cache.get('a', 50)).toBe(1);
    expect(cache.get('a', 100)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('a', 2, 300, 150);
    cache.set('b', 3, 300, 150);
    expect(cache.get('a', 160)).toBe(2); // order now b, a
    cache.set('c', 4, 300, 170); // evicts b, not a
    expect(cache.get('b', 180)).toBeUndefined();
    expect(cache.get('a', 180)).toBe(2);
  });

  it('starts over after clear()', () => {
    const cache = new ExpiringCache<number>(2);
    cache.set('a', 1, 100, 0);
    cache.clear();
    expect(cache.get('a', 1)).toBeUndefined();
    cache.set('b', 2, 100, 0);
    cache.set('a', 1, 100, 0);
    cache.set('c', 3, 100, 0); // evicts b
    expect([cache.get('a', 1), cache.get('b', 1), cache.get('c', 1)]).toEqual([1, undefined, 3]);
  });
});
