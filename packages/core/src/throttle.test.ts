import { describe, expect, it } from 'vitest';
import { throttled } from './throttle.js';

describe('throttled', () => {
  it('lets the first event of an interval through and counts the rest', () => {
    const seen: Array<[string, number]> = [];
    const report = throttled('1h', (event: string, suppressed: number) => seen.push([event, suppressed]));
    for (let i = 0; i < 100; i++) report(`event ${i}`);
    expect(seen).toEqual([['event 0', 0]]);
  });

  it('tells the next report how many were held back', async () => {
    const seen: number[] = [];
    const report = throttled(20, (_event: string, suppressed: number) => seen.push(suppressed));
    report('a');
    report('b');
    report('c');
    await new Promise((r) => setTimeout(r, 40));
    report('d');
    expect(seen).toEqual([0, 2]);
  });

  it('swallows what the reporter throws, and rejects bad options with a TypeError', () => {
    const report = throttled('1s', () => {
      throw new Error('log is down');
    });
    expect(() => report()).not.toThrow();
    expect(() => throttled('soon' as never, () => {})).toThrow(TypeError);
    expect(() => throttled('1s', 'log' as never)).toThrow(/report must be a function/);
  });
});
