import { MiddlewareError } from '@mcp-middleware/core';
import { describe, expect, it } from 'vitest';
import { endOfAnswer, endOfThrown, protocolVersionOf, spanNameOf, targetOf } from './semconv.js';

describe('span names', () => {
  it('are "{mcp.method.name} {target}" with the tool or prompt name as target', () => {
    expect(
      spanNameOf('tools/call', targetOf({ method: 'tools/call', params: { name: 'get_weather' } }, false)),
    ).toBe('tools/call get_weather');
    expect(
      spanNameOf('prompts/get', targetOf({ method: 'prompts/get', params: { name: 'summarize' } }, false)),
    ).toBe('prompts/get summarize');
    expect(spanNameOf('tools/list', targetOf({ method: 'tools/list', params: {} }, false))).toBe(
      'tools/list',
    );
  });

  it('leave resource URIs out unless asked (they are high-cardinality)', () => {
    const read = { method: 'resources/read', params: { uri: 'file:///a' } };
    expect(targetOf(read, false)).toBeUndefined();
    expect(targetOf(read, true)).toBe('file:///a');
  });
});

describe('protocolVersionOf', () => {
  it('prefers the 2026 _meta key, then the mcp-protocol-version header', () => {
    const requestInfo = { headers: { 'mcp-protocol-version': '2025-11-25' } };
    expect(protocolVersionOf({ params: {}, requestInfo })).toBe('2025-11-25');
    expect(
      protocolVersionOf({
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
        requestInfo,
      }),
    ).toBe('2026-07-28');
    expect(protocolVersionOf({ params: undefined, requestInfo: undefined })).toBeUndefined();
  });
});

describe('how a call ended', () => {
  it('has no error.type on success', () => {
    expect(endOfAnswer({ result: { content: [] } }, false)).toEqual({});
  });

  it('is tool_error for an isError result', () => {
    expect(endOfAnswer({ result: { content: [], isError: true } }, false)).toEqual({
      errorType: 'tool_error',
    });
  });

  it('is the JSON-RPC code for an error answer, and cancelled for a cancelled call', () => {
    expect(endOfAnswer({ error: { code: -32602, message: 'bad' } }, false)).toEqual({
      errorType: '-32602',
      statusCode: '-32602',
      message: 'bad',
    });
    expect(endOfAnswer({ error: { code: -32001, message: 'Request cancelled' } }, true).errorType).toBe(
      'cancelled',
    );
    expect(
      endOfAnswer({ error: { code: -32001, message: 'Tool timed out after 1 s' } }, true).errorType,
    ).toBe('-32001');
  });

  it('is the error’s own code when a middleware threw, else -32603', () => {
    expect(endOfThrown(new MiddlewareError('rate_limited', 'slow down')).errorType).toBe('-32029');
    expect(endOfThrown(new Error('secret detail'))).toEqual({
      errorType: '-32603',
      statusCode: '-32603',
      message: 'Internal error',
    });
  });
});
