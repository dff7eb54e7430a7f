import { connectClient, startTestServer, type TestServer, waitFor } from '@mcp-middleware/core/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CancelledNotificationSchema,
  type ClientCapabilities,
  type CreateMessageRequest,
  CreateMessageRequestSchema,
  type CreateMessageResult,
  McpError,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SamplingError } from './errors.js';
import type { ModelRequest } from './model.js';
import { classify, type SamplingOptions, sample, sampleJson, samplingContext } from './sampling.js';

const Ticket = z.object({ title: z.string(), priority: z.enum(['low', 'high']) });

interface Setup {
  options?: SamplingOptions;
  capabilities?: ClientCapabilities;
  /** The client's sampling handler: the "user's LLM" on the other end of a real protocol round trip. */
  answer?: (request: CreateMessageRequest, signal: AbortSignal) => Promise<CreateMessageResult>;
}

let server: TestServer | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

/** What each tool returns: the value, or the error's reason and message (a real tool would just throw). */
async function outcome(work: () => Promise<unknown>) {
  try {
    return { value: await work() };
  } catch (err) {
    if (SamplingError.is(err)) return { reason: err.reason, code: err.code, message: err.message };
    throw err;
  }
}

async function setup({ options = {}, capabilities = { sampling: {} }, answer }: Setup) {
  server = await startTestServer({
    server: ({ jsonSchemaValidator }) => {
      const mcp = new McpServer({ name: 'sampling', version: '1.0.0' }, { jsonSchemaValidator });
      const reply = (value: unknown) => ({
        content: [{ type: 'text' as const, text: JSON.stringify(value) }],
      });
      mcp.registerTool('summarize', { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
        const ai = samplingContext(mcp, extra, options);
        return reply({
          source: ai.source ?? null,
          canSample: ai.canSample(),
          ...(await outcome(() =>
            ai.sample({
              prompt: text,
              system: 'Summarize in five words.',
              maxTokens: 40,
              temperature: 0.2,
              stopSequences: ['\n\n'],
              modelPreferences: { hints: [{ name: 'claude-haiku' }], speedPriority: 1 },
            }),
          )),
        });
      });
      mcp.registerTool('triage', { inputSchema: { text: z.string() } }, async ({ text }, extra) =>
        reply(
          await outcome(() =>
            classify({ server: mcp, extra, ...options }, text, ['bug', 'feature', 'question']),
          ),
        ),
      );
      mcp.registerTool('ticket', { inputSchema: { text: z.string() } }, async ({ text }, extra) =>
        reply(
          await outcome(() =>
            sampleJson({ server: mcp, extra, ...options }, `Make a ticket from: ${text}`, Ticket),
          ),
        ),
      );
      mcp.registerTool('ask', { inputSchema: { text: z.string() } }, async ({ text }, extra) =>
        reply(await outcome(() => sample({ server: mcp, extra, ...options }, text))),
      );
      return mcp;
    },
  });
  client = await connectClient(server.url, { capabilities });
  const requests: CreateMessageRequest['params'][] = [];
  const requestIds: RequestId[] = [];
  if (answer) {
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => {
      requests.push(request.params);
      requestIds.push(extra.requestId);
      return answer(request, extra.signal);
    });
  }
  // Recorded here rather than through the handler's signal: SDK 1.32.2 ignores a cancellation of request id 0
  // (`if (!requestId) return`), and the first sampling request of a session has id 0.
  const cancelled: RequestId[] = [];
  client.setNotificationHandler(CancelledNotificationSchema, (n) => {
    if (n.params.requestId !== undefined) cancelled.push(n.params.requestId);
  });
  return { client, requests, requestIds, cancelled };
}

async function call(c: Client, name: string, text: string, signal?: AbortSignal) {
  const result = await c.callTool({ name, arguments: { text } }, undefined, signal ? { signal } : {});
  expect(result.isError).toBeFalsy();
  return JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Record<string, unknown>;
}

function text(t: string, model = 'client-model'): CreateMessageResult {
  return { role: 'assistant', model, content: { type: 'text', text: t } };
}

/** Answers from a list, one per request; the fallback model tests use the same script. */
function script(...answers: string[]) {
  let i = 0;
  return async () => text(answers[Math.min(i++, answers.length - 1)]!);
}

function lastUserText(params: CreateMessageRequest['params']): string {
  const last = params.messages.at(-1)!;
  return (last.content as { text: string }).text;
}

describe('sample', () => {
  describe('when the client can sample', () => {
    it("returns the client model's text, with the system prompt, limits and preferences passed through", async () => {
      const { client, requests } = await setup({ answer: script('A short summary of things') });
      expect(await call(client, 'summarize', 'A long text about many things.')).toEqual({
        source: 'client',
        canSample: true,
        value: 'A short summary of things',
      });
      expect(requests).toEqual([
        {
          messages: [{ role: 'user', content: { type: 'text', text: 'A long text about many things.' } }],
          systemPrompt: 'Summarize in five words.',
          maxTokens: 40,
          temperature: 0.2,
          stopSequences: ['\n\n'],
          modelPreferences: { hints: [{ name: 'claude-haiku' }], speedPriority: 1 },
        },
      ]);
    });

    it('uses the default maxTokens for a bare prompt', async () => {
      const { client, requests } = await setup({ options: { maxTokens: 321 }, answer: script('ok') });
      expect(await call(client, 'ask', 'hello')).toEqual({ value: 'ok' });
      expect(requests[0]!.maxTokens).toBe(321);
      expect(requests[0]!.systemPrompt).toBeUndefined();
    });

    it('fails clearly when the client answers with an image instead of text', async () => {
      const { client } = await setup({
        answer: async () => ({
          role: 'assistant',
          model: 'm',
          content: { type: 'image', data: 'aGVsbG8=', mimeType: 'image/png' },
        }),
      });
      expect(await call(client, 'ask', 'draw')).toMatchObject({
        reason: 'invalid_output',
        message: "The client's model answered with image content instead of text",
      });
    });
  });

  describe('when the client did not declare sampling', () => {
    it('answers from the fallback model, given the same request and a live signal', async () => {
      const seen: ModelRequest[] = [];
      const { client } = await setup({
        capabilities: {},
        options: {
          fallback: async (request) => {
            seen.push(request);
            return { text: `fallback: ${request.messages[0]!.content}` };
          },
        },
      });
      expect(await call(client, 'summarize', 'Some text')).toEqual({
        source: 'fallback',
        canSample: true,
        value: 'fallback: Some text',
      });
      expect(seen).toHaveLength(1);
      const { signal, ...rest } = seen[0]!;
      expect(rest).toEqual({
        system: 'Summarize in five words.',
        messages: [{ role: 'user', content: 'Some text' }],
        maxTokens: 40,
        temperature: 0.2,
        stopSequences: ['\n\n'],
        modelPreferences: { hints: [{ name: 'claude-haiku' }], speedPriority: 1 },
      });
      expect(signal).toBeInstanceOf(AbortSignal);
      expect(signal.aborted).toBe(false);
    });

    it('accepts a model object with generate() returning a string', async () => {
      const { client } = await setup({
        capabilities: {},
        options: { fallback: { generate: async (r) => `generated for ${r.messages.length} message(s)` } },
      });
      expect(await call(client, 'ask', 'hi')).toEqual({ value: 'generated for 1 message(s)' });
    });

    it('without a fallback, fails the tool with an error saying the client cannot sample', async () => {
      const { client } = await setup({ capabilities: {} });
      const result = await client.callTool({ name: 'summarize', arguments: { text: 'x' } });
      expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual({
        source: null,
        canSample: false,
        reason: 'unsupported',
        code: 'unavailable',
        message:
          'This tool needs an LLM, but the client does not support sampling and the server has no fallback model',
      });
    });
  });

  describe('when a tool lets the SamplingError escape', () => {
    it('reaches the client as an isError result carrying the message', async () => {
      server = await startTestServer({
        server: ({ jsonSchemaValidator }) => {
          const mcp = new McpServer({ name: 's', version: '1.0.0' }, { jsonSchemaValidator });
          mcp.registerTool('plain', {}, async (extra) => ({
            content: [{ type: 'text', text: await samplingContext(mcp, extra).sample('hi') }],
          }));
          return mcp;
        },
      });
      client = await connectClient(server.url);
      const result = await client.callTool({ name: 'plain', arguments: {} });
      expect(result.isError).toBe(true);
      expect((result.content as Array<{ text: string }>)[0]!.text).toContain(
        'the client does not support sampling and the server has no fallback model',
      );
    });
  });

  describe('when the client declines', () => {
    const decline = async (): Promise<CreateMessageResult> => {
      throw new McpError(-1, 'User rejected sampling request');
    };

    it('uses the fallback model', async () => {
      const { client, requests } = await setup({
        answer: decline,
        options: { fallback: async () => 'from the server model' },
      });
      expect(await call(client, 'ask', 'hi')).toEqual({ value: 'from the server model' });
      expect(requests).toHaveLength(1);
    });

    it("without a fallback, fails with the client's reason", async () => {
      const { client } = await setup({ answer: decline });
      expect(await call(client, 'ask', 'hi')).toEqual({
        reason: 'declined',
        code: 'unavailable',
        message: 'The client declined the sampling request: User rejected sampling request',
      });
    });
  });

  describe("when prefer is 'fallback'", () => {
    it('never asks the client, even one that can sample', async () => {
      const { client, requests } = await setup({
        answer: script('from the client'),
        options: { prefer: 'fallback', fallback: async () => 'from the server model' },
      });
      expect(await call(client, 'summarize', 'x')).toMatchObject({
        source: 'fallback',
        value: 'from the server model',
      });
      expect(requests).toEqual([]);
    });
  });

  describe('when the client never answers', () => {
    it('fails with a timeout error within the timeout, and cancels the request at the client', async () => {
      const { client, requests, requestIds, cancelled } = await setup({
        options: { timeout: '300ms' },
        answer: () => new Promise<never>(() => {}),
      });
      const started = performance.now();
      const result = await call(client, 'ask', 'hello?');
      const elapsed = performance.now() - started;
      expect(result).toEqual({
        reason: 'timeout',
        code: 'timeout',
        message: 'The model did not answer within 300 ms',
      });
      expect(requests).toHaveLength(1);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(300 + 2000);
      await waitFor(() => cancelled.length === 1, 'the client to get notifications/cancelled');
      expect(cancelled).toEqual(requestIds);
    });

    it('does not fall back: the time budget is spent', async () => {
      let fallbackCalls = 0;
      const { client } = await setup({
        options: {
          timeout: '200ms',
          fallback: async () => {
            fallbackCalls++;
            return 'late';
          },
        },
        answer: () => new Promise<never>(() => {}),
      });
      expect(await call(client, 'ask', 'x')).toMatchObject({ reason: 'timeout' });
      expect(fallbackCalls).toBe(0);
    });
  });

  describe('when the fallback model ignores its signal', () => {
    it('still fails at the timeout, and the signal it was given has aborted', async () => {
      let given: AbortSignal | undefined;
      const { client } = await setup({
        capabilities: {},
        options: {
          timeout: '200ms',
          fallback: (request) => {
            given = request.signal;
            return new Promise<never>(() => {});
          },
        },
      });
      const started = performance.now();
      expect(await call(client, 'ask', 'x')).toMatchObject({ reason: 'timeout' });
      expect(performance.now() - started).toBeLessThan(200 + 2000);
      expect(given?.aborted).toBe(true);
    });
  });

  describe('when the tool call is cancelled', () => {
    it('cancels the pending sampling request at the client', async () => {
      const { client, requests, requestIds, cancelled } = await setup({
        answer: () => new Promise<never>(() => {}),
      });
      const controller = new AbortController();
      const pending = call(client, 'ask', 'x', controller.signal);
      await waitFor(() => requests.length === 1, 'the sampling request to reach the client');
      controller.abort('user pressed stop');
      await expect(pending).rejects.toThrow();
      await waitFor(() => cancelled.length === 1, 'the sampling request to be cancelled');
      expect(cancelled).toEqual(requestIds);
    });
  });
});

describe('classify', () => {
  it('returns the label the model picked, ignoring case and a trailing period', async () => {
    const { client, requests } = await setup({ answer: script('Bug.') });
    expect(await call(client, 'triage', 'The app crashes on save')).toEqual({ value: 'bug' });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.systemPrompt).toContain('- bug\n- feature\n- question');
    expect(requests[0]!.temperature).toBe(0);
    expect(lastUserText(requests[0]!)).toBe('The app crashes on save');
  });

  describe('when the model answers off-label', () => {
    it('asks once more, showing its answer and the labels, and returns the corrected label', async () => {
      const { client, requests } = await setup({
        answer: script('I think this is a feature request', 'feature'),
      });
      expect(await call(client, 'triage', 'Please add dark mode')).toEqual({ value: 'feature' });
      expect(requests).toHaveLength(2);
      const retry = requests[1]!.messages.map((m) => [m.role, (m.content as { text: string }).text]);
      expect(retry).toEqual([
        ['user', 'Please add dark mode'],
        ['assistant', 'I think this is a feature request'],
        [
          'user',
          'That answer cannot be used: "I think this is a feature request" is not one of: bug, feature, question. ' +
            'Answer again, correctly.',
        ],
      ]);
    });

    it('fails with a clear error after the retry is off-label too', async () => {
      const { client, requests } = await setup({ answer: script('maybe a bug?', 'not sure') });
      expect(await call(client, 'triage', '???')).toEqual({
        reason: 'invalid_output',
        code: 'internal',
        message:
          'The model did not answer with one of the labels (bug, feature, question) after 2 tries; ' +
          'its last answer was "not sure"',
      });
      expect(requests).toHaveLength(2);
    });
  });

  it('works through the fallback model the same way', async () => {
    const answers = ['Question', 'ignored'];
    const { client } = await setup({ capabilities: {}, options: { fallback: async () => answers.shift()! } });
    expect(await call(client, 'triage', 'How do I export?')).toEqual({ value: 'question' });
  });
});

describe('sampleJson', () => {
  it('returns the validated value, having shown the model the JSON Schema', async () => {
    const { client, requests } = await setup({
      answer: script('{"title":"Crash on save","priority":"high"}'),
    });
    expect(await call(client, 'ticket', 'it crashes')).toEqual({
      value: { title: 'Crash on save', priority: 'high' },
    });
    expect(requests[0]!.systemPrompt).toContain('Answer with one JSON value and nothing else');
    expect(requests[0]!.systemPrompt).toContain('"priority":{"type":"string","enum":["low","high"]}');
  });

  it('accepts JSON inside one Markdown code fence', async () => {
    const { client } = await setup({ answer: script('```json\n{"title":"t","priority":"low"}\n```') });
    expect(await call(client, 'ticket', 'x')).toEqual({ value: { title: 't', priority: 'low' } });
  });

  describe('when the first answer is not valid JSON', () => {
    it('retries with the parse error and returns the valid second answer', async () => {
      const { client, requests } = await setup({
        answer: script("Sure! Here's your ticket: {title: 'x'}", '{"title":"Crash","priority":"low"}'),
      });
      expect(await call(client, 'ticket', 'x')).toEqual({ value: { title: 'Crash', priority: 'low' } });
      expect(requests).toHaveLength(2);
      expect(lastUserText(requests[1]!)).toMatch(
        /^That answer cannot be used: the answer is not valid JSON \(/,
      );
    });
  });

  describe('when the answer is JSON that does not match the schema', () => {
    it('retries naming the failing paths', async () => {
      const { client, requests } = await setup({
        answer: script('{"title":"Crash","priority":"urgent"}', '{"title":"Crash","priority":"high"}'),
      });
      expect(await call(client, 'ticket', 'x')).toEqual({ value: { title: 'Crash', priority: 'high' } });
      expect(lastUserText(requests[1]!)).toContain('the JSON does not match the schema: priority:');
    });

    it('fails with the last problem after the retry is invalid too', async () => {
      const { client } = await setup({ answer: script('{"title":1}') });
      const result = await call(client, 'ticket', 'x');
      expect(result).toMatchObject({ reason: 'invalid_output', code: 'internal' });
      expect(result['message']).toMatch(
        /^The model did not produce valid JSON after 2 tries: the JSON does not match the schema: title: .*; priority: /,
      );
    });
  });
});

describe('samplingContext configuration', () => {
  const mcp = new McpServer({ name: 'config', version: '1.0.0' });
  const extra = { signal: new AbortController().signal, sendRequest: mcp.server.request.bind(mcp.server) };

  it.each([
    [{ prefer: 'fallback' }, "prefer: 'fallback' needs a fallback model"],
    [{ prefer: 'server' }, "prefer must be 'client' or 'fallback', got \"server\""],
    [{ fallback: 'gpt-4o' }, 'fallback must be a function or an object with a generate() method'],
    [{ timeout: 'soon' }, 'timeout must be a non-negative number'],
    [{ timeout: 0 }, 'timeout must be longer than 0 ms'],
    [{ maxTokens: 0 }, 'maxTokens must be a whole number >= 1, got 0'],
    [{ retries: -1 }, 'retries must be a whole number >= 0, got -1'],
  ])('rejects %j with a TypeError naming the option', (options, message) => {
    expect(() => samplingContext(mcp, extra, options as SamplingOptions)).toThrow(TypeError);
    expect(() => samplingContext(mcp, extra, options as SamplingOptions)).toThrow(message);
  });

  it('rejects labels that are empty or the same after normalization', async () => {
    const ai = samplingContext(mcp, extra, { fallback: async () => 'a' });
    await expect(ai.classify('x', [])).rejects.toThrow('labels must be a non-empty array');
    await expect(ai.classify('x', ['Bug', 'bug.'])).rejects.toThrow('labels "Bug" and "bug." are the same');
  });

  it('does not call the model when the tool call is already cancelled', async () => {
    const controller = new AbortController();
    controller.abort('gone');
    let calls = 0;
    const ai = samplingContext(
      mcp,
      { ...extra, signal: controller.signal },
      {
        fallback: async () => {
          calls++;
          return 'a';
        },
      },
    );
    const err = await ai.sample('x').catch((e: unknown) => e);
    expect(SamplingError.is(err) && err.reason).toBe('aborted');
    expect(calls).toBe(0);
  });

  it('rejects a request with both or neither of prompt and messages', async () => {
    const ai = samplingContext(mcp, extra, { fallback: async () => 'a' });
    await expect(ai.sample({})).rejects.toThrow('give either prompt or messages');
    await expect(ai.sample({ prompt: 'a', messages: [{ role: 'user', content: 'b' }] })).rejects.toThrow(
      TypeError,
    );
  });
});
