/**
 * A support-triage MCP server: tools that ask an LLM, through the client when it can sample and through a
 * server-side model when it cannot. Run: `npx tsx examples/triage-server.ts` (set OPENAI_API_KEY for the
 * fallback; SAMPLING_PREFER=fallback to stop asking clients at all).
 */
import { createMiddlewareHandler, progressReporter, serve } from '@mcp-middleware/core';
import { type FallbackModel, type SamplingOptions, samplingContext } from '@mcp-middleware/sampling-helpers';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** A server-side model as a plain function: any OpenAI-compatible chat completions endpoint. */
function openAiCompatible(apiKey: string, model = 'gpt-4o-mini'): FallbackModel {
  return async ({ system, messages, maxTokens, temperature, signal }) => {
    const response = await fetch('https://api.openai.com/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [...(system ? [{ role: 'system', content: system }] : []), ...messages],
        max_tokens: maxTokens,
        temperature,
      }),
      // Aborted on the sampling timeout and when the tool call is cancelled.
      signal,
    });
    if (!response.ok) throw new Error(`model API answered ${response.status}`);
    const body = (await response.json()) as { choices: Array<{ message: { content: string } }> };
    return { text: body.choices[0]?.message.content ?? '' };
  };
}

const apiKey = process.env['OPENAI_API_KEY'];
const sampling: SamplingOptions = {
  timeout: '30s',
  ...(apiKey ? { fallback: openAiCompatible(apiKey) } : {}),
  ...(apiKey && process.env['SAMPLING_PREFER'] === 'fallback' ? { prefer: 'fallback' as const } : {}),
};

const Ticket = z.object({
  title: z.string().max(80),
  priority: z.enum(['low', 'normal', 'urgent']),
  component: z.string().optional(),
});

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'triage', version: '1.0.0' }, { jsonSchemaValidator });

    server.registerTool(
      'triage',
      { description: 'Classifies a support message', inputSchema: { text: z.string() } },
      async ({ text }, extra) => {
        const ai = samplingContext(server, extra, sampling);
        if (!ai.canSample()) {
          return { content: [{ type: 'text', text: 'This tool needs a client that supports sampling.' }] };
        }
        const label = await ai.classify(text, ['bug', 'feature', 'question', 'billing']);
        return { content: [{ type: 'text', text: label }] };
      },
    );

    server.registerTool(
      'make_tickets',
      { description: 'Turns support messages into tickets', inputSchema: { messages: z.array(z.string()) } },
      async ({ messages }, extra) => {
        const ai = samplingContext(server, extra, sampling);
        const progress = progressReporter(extra, { total: messages.length });
        const tickets: Array<z.infer<typeof Ticket>> = [];
        for (const message of messages) {
          tickets.push(await ai.sampleJson(`Write a ticket for this support message:\n\n${message}`, Ticket));
          await progress.advance(1, { message: `ticket ${tickets.length} of ${messages.length}` });
        }
        return { content: [{ type: 'text', text: JSON.stringify(tickets, null, 2) }] };
      },
    );

    return server;
  },
});

const node = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.log(`triage server on ${new URL('/mcp', node.url)}`);
