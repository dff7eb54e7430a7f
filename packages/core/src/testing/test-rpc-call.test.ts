import { describe, expect, it } from 'vitest';
import { createKey } from '../call.js';
import { testRpcCall } from './index.js';

describe('testRpcCall', () => {
  it('is a tools/call of echo that is not cancelled, with working state, get and set', () => {
    const call = testRpcCall();
    expect(call).toMatchObject({ method: 'tools/call', toolName: 'echo', cancelled: false });
    expect(call.signal.aborted).toBe(false);
    const key = createKey<number>('test/count');
    call.set(key, 3);
    expect(call.get(key)).toBe(3);
    expect(call.state.get(key)).toBe(3);
  });

  it('takes the given fields, and follows a given signal unless cancelled is given too', () => {
    const call = testRpcCall({ id: 7, method: 'ping', toolName: undefined, signal: AbortSignal.abort() });
    expect(call).toMatchObject({ id: 7, method: 'ping', toolName: undefined, cancelled: true });
    expect(testRpcCall({ signal: AbortSignal.abort(), cancelled: false }).cancelled).toBe(false);
  });

  it('answers header(name) from the given requestInfo, in any case, repeated values joined', () => {
    const call = testRpcCall({
      requestInfo: { headers: { traceparent: 'tp', 'x-many': ['a', 'b'] } },
    });
    expect(call.header('Traceparent')).toBe('tp');
    expect(call.header('x-many')).toBe('a, b');
    expect(call.header('x-absent')).toBeUndefined();
    expect(testRpcCall().header('traceparent')).toBeUndefined();
  });
});
