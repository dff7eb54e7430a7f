import { MiddlewareError } from '@mcp-middleware/core';
import { describe, expect, it } from 'vitest';
import { classifyResult, classifyThrown, parseTraceparent } from './outcome.js';

const error = (code: number, message: string, data?: unknown) => ({ error: { code, message, data } });

describe('classifyResult', () => {
  it('calls a plain result ok and an isError result a tool error', () => {
    expect(classifyResult({ result: { content: [] } }, false)).toEqual({ outcome: 'ok' });
    expect(classifyResult({ result: { content: [], isError: true } }, false)).toEqual({
      outcome: 'tool_error',
    });
  });

  it('calls forbidden (-32003) and rate limited (-32029) denied', () => {
    expect(classifyResult(error(-32003, 'Forbidden'), false).outcome).toBe('denied');
    expect(classifyResult(error(-32029, 'Too many requests'), false).outcome).toBe('denied');
  });

  it('calls unauthorized (-32005) denied', () => {
    expect(classifyResult(error(-32005, 'Unauthorized'), false)).toEqual({
      outcome: 'denied',
      errorCode: -32005,
      errorMessage: 'Unauthorized',
    });
  });

  describe('when the code is -32001 (the SDK’s RequestTimeout)', () => {
    it('calls it a timeout', () => {
      for (const message of ['timed out after 100 ms', 'Request timeout', 'deadline exceeded']) {
        expect(classifyResult(error(-32001, message), true).outcome).toBe('timeout');
      }
    });

    it('calls it cancelled when core marked the error with data.reason "cancelled"', () => {
      expect(classifyResult(error(-32001, 'Request cancelled', { reason: 'cancelled' }), true).outcome).toBe(
        'cancelled',
      );
    });
  });

  it('calls any other JSON-RPC error a protocol error', () => {
    expect(classifyResult(error(-32601, 'Method not found'), false).outcome).toBe('protocol_error');
    expect(classifyResult(error(-32603, 'Internal error'), false).outcome).toBe('protocol_error');
  });
});

describe('classifyThrown', () => {
  it('tells timeout from unauthorized by the MiddlewareError code, not the message', () => {
    expect(classifyThrown(new MiddlewareError('timeout', 'too slow')).outcome).toBe('timeout');
    expect(classifyThrown(new MiddlewareError('unauthorized', 'too slow')).outcome).toBe('denied');
    expect(classifyThrown(new MiddlewareError('rate_limited', 'x')).errorCode).toBe(-32029);
    expect(classifyThrown(new MiddlewareError('not_found', 'x')).outcome).toBe('protocol_error');
  });

  it('calls anything else an internal error, without its message', () => {
    expect(classifyThrown(new Error('db password is hunter2'))).toEqual({
      outcome: 'protocol_error',
      errorCode: -32603,
      errorMessage: 'Internal error',
    });
  });
});

describe('parseTraceparent', () => {
  it('reads the trace and parent ids of a valid header', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
  });

  it('ignores surrounding whitespace, and reads a later version with fields after the flags', () => {
    const ids = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
    expect(parseTraceparent(' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t')).toEqual(ids);
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later')).toEqual(ids);
  });

  it('refuses malformed values, version ff and all-zero ids', () => {
    for (const value of [
      undefined,
      42,
      'garbage',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ]) {
      expect(parseTraceparent(value)).toBeUndefined();
    }
  });
});
