import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkLabels, chooseSource, parseJsonAnswer, parseLabel, validateAnswer } from './decisions.js';

describe('chooseSource', () => {
  it.each([
    [
      { clientCanSample: true, hasFallback: false, prefer: 'client' },
      { ok: true, source: 'client' },
    ],
    [
      { clientCanSample: true, hasFallback: true, prefer: 'client' },
      { ok: true, source: 'client' },
    ],
    [
      { clientCanSample: false, hasFallback: true, prefer: 'client' },
      { ok: true, source: 'fallback' },
    ],
    [
      { clientCanSample: true, hasFallback: true, prefer: 'fallback' },
      { ok: true, source: 'fallback' },
    ],
    [
      { clientCanSample: false, hasFallback: false, prefer: 'client' },
      { ok: false, reason: 'unsupported' },
    ],
  ] as const)('given %j decides %j', (input, decision) => {
    expect(chooseSource(input)).toEqual(decision);
  });
});

describe('parseLabel', () => {
  const labels = ['bug', 'feature request', 'question'] as const;

  it.each(['bug', ' Bug ', 'BUG.', '"bug"', '`bug`', '**bug**', "'Bug.'"])('reads %j as bug', (answer) => {
    expect(parseLabel(answer, labels)).toEqual({ ok: true, label: 'bug' });
  });

  it('matches multi-word labels with any spacing', () => {
    expect(parseLabel('Feature  Request', labels)).toEqual({ ok: true, label: 'feature request' });
  });

  it.each(['I think it is a bug', 'bug, maybe', 'feature', 'bugs', ''])('rejects %j', (answer) => {
    expect(parseLabel(answer, labels)).toEqual({ ok: false, answer });
  });
});

describe('checkLabels', () => {
  it('accepts distinct labels', () => {
    expect(() => checkLabels(['a', 'b'])).not.toThrow();
  });

  it.each([[[]], [['a', ' ']], [['Yes', 'yes.']]])('rejects %j with a TypeError', (labels) => {
    expect(() => checkLabels(labels)).toThrow(TypeError);
  });
});

describe('parseJsonAnswer', () => {
  it.each([
    ['{"a":1}', { a: 1 }],
    ['  [1, 2] \n', [1, 2]],
    ['```json\n{"a":1}\n```', { a: 1 }],
    ['```\n"text"\n```', 'text'],
  ])('parses %j', (answer, value) => {
    expect(parseJsonAnswer(answer)).toEqual({ ok: true, value });
  });

  it.each(['Here it is: {"a":1}', '{a: 1}', '```json\n{"a":1}\n``` and more', '   '])(
    'rejects %j',
    (answer) => {
      const decision = parseJsonAnswer(answer);
      expect(decision.ok).toBe(false);
    },
  );
});

describe('validateAnswer', () => {
  const schema = z.object({ name: z.string(), tags: z.array(z.string()) });

  it('returns the typed value when the schema accepts it', async () => {
    expect(await validateAnswer(schema, { name: 'n', tags: [] })).toEqual({
      ok: true,
      value: { name: 'n', tags: [] },
    });
  });

  it('names each failing path', async () => {
    const decision = await validateAnswer(schema, { name: 1, tags: ['a', 2] });
    expect(decision.ok).toBe(false);
    expect(!decision.ok && decision.problem).toMatch(
      /^the JSON does not match the schema: name: .*; tags\.1: /,
    );
  });

  it('says (root) for a problem with the whole value', async () => {
    const decision = await validateAnswer(schema, 'nope');
    expect(!decision.ok && decision.problem).toMatch(/: \(root\): /);
  });
});
