/**
 * The contract every `RateLimitStore` must pass, as a test suite. Pass your test framework's functions in (vitest,
 * jest and node:test-style APIs fit), so core needs no test framework:
 *
 * ```ts
 * import { afterAll, beforeAll, describe, expect, it } from 'vitest';
 * rateLimitStoreContract('MyStore', () => new MyStore(), { describe, it, expect, beforeAll, afterAll });
 * ```
 *
 * Keys are unique per run; the store is made once and closed after the suite. Waits are a few hundred ms, and
 * timing assertions only bound values from above and below generously.
 */
import type { RateLimitPolicy, RateLimitStore } from '../rate-limit.js';

export interface ContractMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeGreaterThan(expected: number): void;
  toBeGreaterThanOrEqual(expected: number): void;
  toBeLessThanOrEqual(expected: number): void;
}

/** The parts of a test framework the suite uses. */
export interface ContractTestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>): void;
  expect(actual: unknown): ContractMatchers;
  beforeAll(fn: () => Promise<void>): void;
  afterAll(fn: () => Promise<void>): void;
}

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function rateLimitStoreContract(
  name: string,
  makeStore: () => RateLimitStore | Promise<RateLimitStore>,
  { describe, it, expect, beforeAll, afterAll }: ContractTestApi,
): void {
  describe(`${name} (RateLimitStore contract)`, () => {
    let store: RateLimitStore;
    const run = `contract:${Date.now().toString(36)}:${Math.random().toString(36).slice(2)}`;
    let n = 0;
    const freshKey = () => `${run}:${++n}`;

    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await store?.close?.();
    });

    for (const algorithm of ['gcra', 'fixed-window'] as const) {
      // Long windows so that no unit comes back (GCRA) and no window rolls over (fixed) while a test runs.
      const policy = (limit: number, windowMs = DAY): RateLimitPolicy => ({ limit, windowMs, algorithm });

      describe(`with ${algorithm}`, () => {
        it('admits up to the limit, counting remaining down, then refuses', async () => {
          const key = freshKey();
          const p = policy(5);
          const remaining: number[] = [];
          for (let i = 0; i < 5; i++) {
            const d = await store.consume(key, p);
            expect(d.allowed).toBe(true);
            expect(d.limit).toBe(5);
            expect(d.retryAfterMs).toBe(0);
            remaining.push(d.remaining);
          }
          expect(remaining).toEqual([4, 3, 2, 1, 0]);
          const refused = await store.consume(key, p);
          expect(refused.allowed).toBe(false);
          expect(refused.remaining).toBe(0);
          expect(refused.retryAfterMs).toBeGreaterThan(0);
          expect(refused.retryAfterMs).toBeLessThanOrEqual(algorithm === 'gcra' ? DAY / 5 : DAY);
          expect(refused.resetMs).toBeGreaterThan(0);
          expect(refused.resetMs).toBeLessThanOrEqual(DAY);
        });

        it('charges the cost of a request', async () => {
          const d = await store.consume(freshKey(), policy(10), 4);
          expect(d.allowed).toBe(true);
          expect(d.remaining).toBe(6);
        });

        it('charges nothing for a refused request', async () => {
          const key = freshKey();
          const p = policy(3);
          expect((await store.consume(key, p, 2)).remaining).toBe(1);
          const refused = await store.consume(key, p, 2);
          expect(refused.allowed).toBe(false);
          expect(refused.remaining).toBe(1);
          const last = await store.consume(key, p, 1);
          expect(last.allowed).toBe(true);
          expect(last.remaining).toBe(0);
        });

        it('keeps keys apart', async () => {
          const a = freshKey();
          const b = freshKey();
          const p = policy(1);
          expect((await store.consume(a, p)).allowed).toBe(true);
          expect((await store.consume(a, p)).allowed).toBe(false);
          expect((await store.consume(b, p)).allowed).toBe(true);
        });

        it('admits exactly the limit under concurrent requests for one key', async () => {
          const key = freshKey();
          const p = policy(15);
          const decisions = await Promise.all(Array.from({ length: 40 }, () => store.consume(key, p)));
          expect(decisions.filter((d) => d.allowed).length).toBe(15);
        });

        it('admits again once retryAfterMs has passed', async () => {
          const key = freshKey();
          const p = policy(2, 400);
          let refused = await store.consume(key, p);
          // A fixed window may roll over between these calls; consume until refused (at most a few).
          for (let i = 0; i < 6 && refused.allowed; i++) refused = await store.consume(key, p);
          expect(refused.allowed).toBe(false);
          expect(refused.retryAfterMs).toBeGreaterThan(0);
          expect(refused.retryAfterMs).toBeLessThanOrEqual(400);
          await sleep(refused.retryAfterMs + 30);
          expect((await store.consume(key, p)).allowed).toBe(true);
        });
      });
    }

    describe('with gcra', () => {
      it('spreads the limit: a burst smaller than the limit caps what arrives at once', async () => {
        const key = freshKey();
        const p: RateLimitPolicy = { limit: 10, windowMs: DAY, burst: 2 };
        expect((await store.consume(key, p)).allowed).toBe(true);
        const second = await store.consume(key, p);
        expect(second.allowed).toBe(true);
        expect(second.remaining).toBe(0);
        const third = await store.consume(key, p);
        expect(third.allowed).toBe(false);
        // One unit comes back every windowMs / limit.
        expect(third.retryAfterMs).toBeGreaterThan(DAY / 10 - 1000);
        expect(third.retryAfterMs).toBeLessThanOrEqual(DAY / 10);
      });

      it('reports resetMs as the time until the quota is whole again', async () => {
        const key = freshKey();
        const p: RateLimitPolicy = { limit: 4, windowMs: DAY };
        const one = await store.consume(key, p);
        expect(one.resetMs).toBeGreaterThan(DAY / 4 - 1000);
        expect(one.resetMs).toBeLessThanOrEqual(DAY / 4);
        const two = await store.consume(key, p);
        expect(two.resetMs).toBeGreaterThan(DAY / 2 - 1000);
        expect(two.resetMs).toBeLessThanOrEqual(DAY / 2);
      });
    });

    describe('with fixed-window', () => {
      it('reports resetMs and retryAfterMs as the time left in the window', async () => {
        const key = freshKey();
        const p: RateLimitPolicy = { limit: 1, windowMs: DAY, algorithm: 'fixed-window' };
        const first = await store.consume(key, p);
        const refused = await store.consume(key, p);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(first.resetMs);
        expect(refused.resetMs).toBe(refused.retryAfterMs);
      });
    });

    it('forgets a key on reset(), when the store offers it', async () => {
      const key = freshKey();
      const p: RateLimitPolicy = { limit: 1, windowMs: DAY };
      expect((await store.consume(key, p)).allowed).toBe(true);
      expect((await store.consume(key, p)).allowed).toBe(false);
      if (!store.reset) return;
      await store.reset(key);
      expect((await store.consume(key, p)).allowed).toBe(true);
    });
  });
}
