import { describe, expect, it } from 'vitest';
import { decideReadiness, describeNotReady } from './report.js';

const pass = (name: string, critical = true) => ({ name, status: 'pass' as const, critical });
const fail = (name: string, critical = true) => ({ name, status: 'fail' as const, critical });

describe('decideReadiness', () => {
  it('is ready (pass) when nothing fails', () => {
    expect(decideReadiness({ draining: false, startup: [], checks: [pass('a'), pass('b')] })).toEqual({
      ok: true,
      status: 'pass',
    });
    expect(decideReadiness({ draining: false, startup: [], checks: [] })).toEqual({
      ok: true,
      status: 'pass',
    });
  });

  it('is not ready while draining, whatever the checks say', () => {
    expect(decideReadiness({ draining: true, startup: [], checks: [pass('a')] })).toEqual({
      ok: false,
      status: 'fail',
      reason: 'draining',
      failing: [],
    });
  });

  it('is not ready while a startup check has not passed, and names it', () => {
    const decision = decideReadiness({
      draining: false,
      startup: [
        { name: 'migrations', status: 'fail' },
        { name: 'warmup', status: 'warn' },
        { name: 'config', status: 'pass' },
      ],
      checks: [pass('a')],
    });
    expect(decision).toEqual({
      ok: false,
      status: 'fail',
      reason: 'starting',
      failing: ['migrations', 'warmup'],
    });
    if (!decision.ok) expect(describeNotReady(decision)).toBe('starting: waiting for migrations, warmup');
  });

  it('is not ready when a critical check fails, and names every failing one', () => {
    const decision = decideReadiness({
      draining: false,
      startup: [],
      checks: [fail('db'), pass('cache'), fail('redis'), fail('search', false)],
    });
    expect(decision).toEqual({ ok: false, status: 'fail', reason: 'failing', failing: ['db', 'redis'] });
    if (!decision.ok) expect(describeNotReady(decision)).toBe('failing checks: db, redis');
  });

  it('is ready with concerns (warn) when a non-critical check fails or any check warns', () => {
    expect(decideReadiness({ draining: false, startup: [], checks: [pass('a'), fail('b', false)] })).toEqual({
      ok: true,
      status: 'warn',
    });
    expect(
      decideReadiness({
        draining: false,
        startup: [],
        checks: [{ name: 'a', status: 'warn', critical: true }],
      }),
    ).toEqual({ ok: true, status: 'warn' });
  });
});
