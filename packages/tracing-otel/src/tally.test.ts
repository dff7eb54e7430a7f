import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Tally } from './tally.js';
import { telemetry } from './test-fixtures.js';

describe('Tally', () => {
  it('reports each attribute set’s count to the SDK when it collects', async () => {
    const otel = telemetry();
    const tally = new Tally(otel.meterProvider.getMeter('test'), 'test.decisions', { unit: '{decision}' });
    tally.add('a', () => ({ policy: 'a' }));
    tally.add('a', () => ({ policy: 'a' }));
    const kept = tally.counter('b', () => ({ policy: 'b' }));
    kept.count++;
    kept.count++;
    kept.count++;
    // The same key gives the same running count, so a caller may keep it.
    expect(tally.counter('b', () => ({ policy: 'b' }))).toBe(kept);
    const points = ((await otel.metric('test.decisions')) as SumMetricData | undefined)?.dataPoints ?? [];
    expect(Object.fromEntries(points.map((p) => [p.attributes['policy'], p.value]))).toEqual({ a: 2, b: 3 });
    await otel.shutdown();
  });

  it('counts attribute sets past the 1000th together, every value read as _OTHER', async () => {
    const otel = telemetry();
    const tally = new Tally(otel.meterProvider.getMeter('test'), 'test.many', {});
    for (let i = 0; i < 1005; i++) tally.add(`k${i}`, () => ({ policy: `p${i}`, layer: 'http' }));
    tally.add('k3', () => ({ policy: 'p3', layer: 'http' }));
    const points = ((await otel.metric('test.many')) as SumMetricData | undefined)?.dataPoints ?? [];
    expect(points).toHaveLength(1001);
    expect(points.find((p) => p.attributes['policy'] === '_OTHER')).toMatchObject({
      attributes: { policy: '_OTHER', layer: '_OTHER' },
      value: 5,
    });
    expect(points.find((p) => p.attributes['policy'] === 'p3')?.value).toBe(2);
    await otel.shutdown();
  });
});
