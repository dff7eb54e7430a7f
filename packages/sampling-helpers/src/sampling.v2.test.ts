import {
  closeAfterEach,
  connectV2Client,
  ERAS,
  startV2TestServer,
  type V2TestServer,
} from '@mcp-middleware/core/testing/v2';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { FallbackModel } from './model.js';
import { SamplingInputRequired, withSampling } from './round-trip.js';
import { type SamplingOptions, samplingContext } from './sampling.js';

/*
 * sampling-helpers on SDK v2. A 2025-11-25 client gets `sampling/createMessage` sent during the call, as before; a
 * 2026-07-28 client gets `input_required` results naming the request, fulfils them with its own sampling handler and
 * calls again (the v2 client does this inside callTool). Without client sampling, the server-side fallback answers.
 */

const closing = closeAfterEach();

interface Runs {
  tool: number;
}

function start(options: SamplingOptions, runs: Runs = { tool: 0 }): Promise<V2TestServer> {
  return startV2TestServer({
    server: (wrap) => {
      const server = new McpServer({ name: 'sampling-v2', version: '1.0.0' });
      server.registerTool(
        'triage',
        { description: 'Classifies text', inputSchema: z.object({ text: z.string() }) },
        withSampling(async ({ text }, ctx) => {
          runs.tool++;
          const ai = samplingContext(server, ctx, options);
          const label = await ai.classify(text, ['bug', 'feature', 'question']);
          return { content: [{ type: 'text' as const, text: label }] };
        }),
      );
      server.registerTool(
        'two_steps',
        { description: 'Samples twice, the second prompt built from the first answer' },
        withSampling(async (ctx: ServerContext) => {
          runs.tool++;
          const ai = samplingContext(server, ctx, options);
          const first = await ai.sample('Name a colour');
          const second = await ai.sample(`Name a fruit that is ${first}`);
          return { content: [{ type: 'text' as const, text: `${first} ${second}` }] };
        }),
      );
      return wrap(server);
    },
  }).then((s) => closing.track(s));
}

/** A client whose "model" answers from a script, recording every prompt it is given. */
async function samplingClient(s: V2TestServer, era: 'legacy' | 'modern', answers: Record<string, string>) {
  const prompts: string[] = [];
  const client = closing.track(await connectV2Client(s.url, era, { capabilities: { sampling: {} } }));
  client.setRequestHandler('sampling/createMessage', async (request) => {
    const last = request.params.messages.at(-1)!.content as { text: string };
    prompts.push(last.text);
    const text = Object.entries(answers).find(([k]) => last.text.includes(k))?.[1] ?? 'question';
    return { role: 'assistant', content: { type: 'text', text }, model: 'scripted' };
  });
  return { client, prompts };
}

const textOf = (result: { content?: unknown }) => (result.content as Array<{ text: string }>)[0]!.text;

const fallback: FallbackModel = async (request) => {
  const last = request.messages.at(-1)!.content;
  return last.includes('colour') ? 'red' : last.includes('fruit') ? 'apple' : 'feature';
};

describe('samplingContext on SDK v2, 2026-07-28 client that can sample', () => {
  const era = 'modern';
  it('asks the client’s model when the client can sample', async () => {
    const s = await start({});
    const { client, prompts } = await samplingClient(s, era, { crash: 'bug' });
    expect(textOf(await client.callTool({ name: 'triage', arguments: { text: 'it crashes' } }))).toBe('bug');
    expect(prompts).toEqual(['it crashes']);
  });

  it('samples several times in one call, each prompt built from the answer before', async () => {
    const s = await start({});
    const { client, prompts } = await samplingClient(s, era, { colour: 'red', fruit: 'cherry' });
    expect(textOf(await client.callTool({ name: 'two_steps', arguments: {} }))).toBe('red cherry');
    expect(prompts).toEqual(['Name a colour', 'Name a fruit that is red']);
  });
});

describe.each(ERAS)('samplingContext on SDK v2, %s era', (era) => {
  it('uses the server-side fallback for a client without sampling', async () => {
    const s = await start({ fallback });
    const client = closing.track(await connectV2Client(s.url, era));
    expect(textOf(await client.callTool({ name: 'two_steps', arguments: {} }))).toBe('red apple');
  });

  it('fails the call with a clear tool error when neither the client nor a fallback can sample', async () => {
    const s = await start({});
    const client = closing.track(await connectV2Client(s.url, era));
    const result = await client.callTool({ name: 'triage', arguments: { text: 'x' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/does not support sampling/);
  });
});

describe('samplingContext in the 2026-07-28 era', () => {
  it('runs the tool once per answer: two samples are three runs, no server-initiated request', async () => {
    const runs = { tool: 0 };
    const s = await start({}, runs);
    const { client } = await samplingClient(s, 'modern', { colour: 'blue', fruit: 'plum' });
    expect(textOf(await client.callTool({ name: 'two_steps', arguments: {} }))).toBe('blue plum');
    expect(runs.tool).toBe(3);
  });

  it('withSampling returns the input_required result and lets other errors through', async () => {
    const result = {
      resultType: 'input_required' as const,
      inputRequests: { k: { method: 'sampling/createMessage' as const, params: {} } },
      requestState: 's',
    };
    await expect(
      withSampling(async () => {
        throw new SamplingInputRequired(result);
      })(),
    ).resolves.toBe(result);
    await expect(
      withSampling(async () => {
        throw new Error('other');
      })(),
    ).rejects.toThrow('other');
  });
});

describe('samplingContext on SDK v2 for a 2025-11-25 client', () => {
  it('sends sampling/createMessage during the call, in one run (the 2025 path)', async () => {
    const runs = { tool: 0 };
    const server = new McpServer({ name: 'sampling-v2-legacy', version: '1.0.0' });
    server.registerTool(
      'two_steps',
      { description: 'Samples twice' },
      withSampling(async (ctx: ServerContext) => {
        runs.tool++;
        const ai = samplingContext(server, ctx);
        const first = await ai.sample('Name a colour');
        return {
          content: [{ type: 'text' as const, text: `${first} ${await ai.sample(`A ${first} fruit`)}` }],
        };
      }),
    );
    const client = new Client({ name: 'legacy', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler('sampling/createMessage', async (request) => {
      const last = (request.params.messages.at(-1)!.content as { text: string }).text;
      return {
        role: 'assistant',
        content: { type: 'text', text: last.includes('colour') ? 'green' : 'lime' },
        model: 'm',
      };
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(a), client.connect(b)]);
    closing.track(client);
    closing.track(server);
    expect(textOf(await client.callTool({ name: 'two_steps', arguments: {} }))).toBe('green lime');
    expect(runs.tool).toBe(1);
  });

  it('cannot know the client’s capabilities on v2’s stateless legacy path, so the fallback answers', async () => {
    const s = await start({ fallback });
    const { client, prompts } = await samplingClient(s, 'legacy', { colour: 'blue' });
    expect(textOf(await client.callTool({ name: 'two_steps', arguments: {} }))).toBe('red apple');
    expect(prompts).toEqual([]);
  });
});
