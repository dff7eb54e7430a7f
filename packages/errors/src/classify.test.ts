import { MiddlewareError } from '@mcp-middleware/core';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { classifyError, decideAnswer, decideToolAnswer, formatDuration } from './classify.js';
import { errors } from './errors.js';
import { invalidParams, ProtocolError, ToolError } from './tool-error.js';

const isErrorResult = (text: string) => ({
  result: { content: [{ type: 'text', text }], isError: true },
});

describe('classifyError', () => {
  it('sends a ToolError to the tool-result channel with its message', () => {
    expect(classifyError(new ToolError('HTTP 503'))).toEqual({ kind: 'tool', message: 'HTTP 503' });
  });

  it('sends a ProtocolError to the JSON-RPC channel with its code and data', () => {
    expect(classifyError(invalidParams('bad date', { field: 'date' }))).toEqual({
      kind: 'protocol',
      error: { code: -32602, message: 'bad date', data: { field: 'date' } },
    });
    expect(classifyError(new ProtocolError('not_found', 'no such order'))).toEqual({
      kind: 'protocol',
      error: { code: -32004, message: 'no such order' },
    });
  });

  it('treats any core MiddlewareError as a protocol error', () => {
    expect(classifyError(new MiddlewareError('forbidden', 'nope'))).toMatchObject({
      kind: 'protocol',
      error: { code: -32003 },
    });
  });

  it('sends the SDK McpError to the JSON-RPC channel without the SDK’s message prefix', () => {
    expect(classifyError(new McpError(ErrorCode.InvalidParams, 'limit too high'))).toEqual({
      kind: 'protocol',
      error: { code: -32602, message: 'limit too high' },
    });
  });

  it('recognises a ToolError from a duplicate copy of the package by its brand', () => {
    const foreign = Object.assign(new Error('from another copy'), {
      [Symbol.for('@mcp-middleware/errors.ToolError')]: true,
    });
    expect(ToolError.is(foreign)).toBe(true);
    expect(classifyError(foreign)).toEqual({ kind: 'tool', message: 'from another copy' });
  });

  it('calls everything else unexpected', () => {
    expect(classifyError(new TypeError('x'))).toEqual({ kind: 'unexpected' });
    expect(classifyError('a string')).toEqual({ kind: 'unexpected' });
    expect(classifyError(Object.assign(new Error('e'), { code: 'ECONNREFUSED' }))).toEqual({
      kind: 'unexpected',
    });
  });
});

describe('ToolError', () => {
  it('defaults its code to internal and keeps cause and data', () => {
    const cause = new Error('root');
    const err = new ToolError('failed', { cause, data: { status: 503 }, code: 'unavailable' });
    expect(err.code).toBe('unavailable');
    expect(err.cause).toBe(cause);
    expect(err.data).toEqual({ status: 503 });
    expect(err.name).toBe('ToolError');
    expect(new ToolError('x').code).toBe('internal');
    expect(MiddlewareError.is(err)).toBe(true);
    expect(ToolError.is(new ProtocolError('internal', 'x'))).toBe(false);
  });
});

describe('decideToolAnswer', () => {
  it('passes successful results', () => {
    expect(decideToolAnswer({ result: { content: [] } }, undefined, true)).toEqual({ ok: true });
  });

  it('turns the SDK’s unknown-tool text into a -32602 error when no handler ran', () => {
    expect(decideToolAnswer(isErrorResult('MCP error -32602: Tool x not found'), undefined, true)).toEqual({
      ok: false,
      action: 'error',
      error: { code: -32602, message: 'Tool x not found' },
    });
  });

  it('masks an output validation failure: the server is at fault, not the caller', () => {
    const text =
      'MCP error -32602: Output validation error: Tool t has an output schema but no structured content';
    expect(decideToolAnswer(isErrorResult(text), { kind: 'returned' }, true)).toEqual({
      ok: false,
      action: 'mask',
      reason: text,
    });
  });

  it('uses the protocol error a wrapped handler threw', () => {
    const error = { code: -32602, message: 'bad' };
    expect(decideToolAnswer(isErrorResult('bad'), { kind: 'protocol', error }, true)).toEqual({
      ok: false,
      action: 'error',
      error,
    });
  });

  it('passes isError results of wrapped tools: ToolErrors, masked errors and their own', () => {
    for (const kind of ['tool', 'returned', 'cancelled'] as const) {
      expect(decideToolAnswer(isErrorResult('text'), { kind }, true)).toEqual({ ok: true });
    }
    expect(decideToolAnswer(isErrorResult('x'), { kind: 'masked', errorId: 'id' }, true)).toEqual({
      ok: true,
    });
  });

  it('masks isError results of unwrapped tools unless told not to', () => {
    expect(decideToolAnswer(isErrorResult('password=x'), undefined, true)).toMatchObject({ action: 'mask' });
    expect(decideToolAnswer(isErrorResult('password=x'), undefined, false)).toEqual({ ok: true });
  });

  it('masks internal errors the server answered with, and only those', () => {
    expect(decideToolAnswer({ error: { code: -32603, message: 'secret' } }, undefined, true)).toEqual({
      ok: false,
      action: 'mask',
      reason: 'secret',
    });
    expect(decideAnswer({ error: { code: -32601, message: 'Method not found' } })).toEqual({ ok: true });
  });
});

describe('formatDuration', () => {
  it('says durations as people do', () => {
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(1000)).toBe('1 second');
    expect(formatDuration(10_000)).toBe('10 seconds');
    expect(formatDuration(1500)).toBe('1.5 seconds');
  });
});

describe('errors() configuration', () => {
  it('throws a TypeError naming the option for a bad timeout', () => {
    expect(() => errors({ timeout: 'soon' as never })).toThrow(/timeout/);
    expect(() => errors({ timeout: 0 })).toThrow(TypeError);
    expect(() => errors({ toolTimeouts: { report: '-1s' as never } })).toThrow(/toolTimeouts\.report/);
  });

  it('throws a TypeError for an empty maskedMessage or a non-function onError', () => {
    expect(() => errors({ maskedMessage: ' ' })).toThrow(/maskedMessage/);
    expect(() => errors({ onError: 'log' as never })).toThrow(/onError/);
  });

  it('accepts false for no limit, per tool or by default', () => {
    expect(errors({ timeout: false, toolTimeouts: { report: '2m', fast: false } }).name).toBe('errors');
  });
});
