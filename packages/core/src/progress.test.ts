import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type Progress, ProgressNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { McpHandlerOptions } from './handler.js';
import { progressReporter } from './progress.js';
import { connectClient, startTestServer, type TestServer } from './testing/index.js';

/** A tool that reports each of `steps` in turn and answers with what each report resolved to. */
function progressServer(): McpHandlerOptions {
  return {
    server: ({ jsonSchemaValidator }) => {
      const server = new McpServer({ name: 'progress', version: '1.0.0' }, { jsonSchemaValidator });
      server.registerTool(
        'work',
        {
          inputSchema: {
            steps: z.array(z.number()),
            total: z.number().optional(),
            advance: z.boolean().optional(),
          },
        },
        async ({ steps, total, advance }, extra) => {
          const progress = progressReporter(extra, total === undefined ? {} : { total });
          const sent: boolean[] = [];
          for (const [i, step] of steps.entries()) {
            const update = { message: `step ${i + 1}` };
            sent.push(await (advance ? progress.advance(step, update) : progress.report(step, update)));
          }
          return {
            content: [{ type: 'text', text: JSON.stringify({ enabled: progress.enabled, sent }) }],
          };
        },
      );
      server.registerTool('bad', { inputSchema: { value: z.number() } }, async ({ value }, extra) => {
        await progressReporter(extra).report(value);
        return { content: [{ type: 'text', text: 'reported' }] };
      });
      return server;
    },
  };
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.content as Array<{ type: string; text: string }>)[0]!.text;
}

describe('progressReporter', () => {
  let server: TestServer | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  describe('when the client asks for progress', () => {
    it('delivers each report in order, with the total and message', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const seen: Progress[] = [];
      const result = await client.callTool(
        { name: 'work', arguments: { steps: [1, 2, 3, 4], total: 4 } },
        undefined,
        {
          onprogress: (p) => seen.push(p),
        },
      );
      expect(JSON.parse(textOf(result))).toEqual({ enabled: true, sent: [true, true, true, true] });
      expect(seen).toEqual([
        { progress: 1, total: 4, message: 'step 1' },
        { progress: 2, total: 4, message: 'step 2' },
        { progress: 3, total: 4, message: 'step 3' },
        { progress: 4, total: 4, message: 'step 4' },
      ]);
    });

    it('drops values that would not increase, so the client only sees growth', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const seen: number[] = [];
      const result = await client.callTool(
        { name: 'work', arguments: { steps: [1, 3, 2, 3, 5] } },
        undefined,
        {
          onprogress: (p) => seen.push(p.progress),
        },
      );
      expect(JSON.parse(textOf(result)).sent).toEqual([true, true, false, false, true]);
      expect(seen).toEqual([1, 3, 5]);
    });

    it('sends a first report of 0 (started), then only growth', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const seen: number[] = [];
      const result = await client.callTool(
        { name: 'work', arguments: { steps: [0, 0, 50, 100] } },
        undefined,
        {
          onprogress: (p) => seen.push(p.progress),
        },
      );
      expect(JSON.parse(textOf(result)).sent).toEqual([true, false, true, true]);
      expect(seen).toEqual([0, 50, 100]);
    });

    it('advances by increments and leaves the total out when it is unknown', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const seen: Progress[] = [];
      await client.callTool({ name: 'work', arguments: { steps: [2, 0, 3], advance: true } }, undefined, {
        onprogress: (p) => seen.push(p),
      });
      expect(seen).toEqual([
        { progress: 2, message: 'step 1' },
        { progress: 5, message: 'step 3' },
      ]);
    });
  });

  describe('when the client sent no progress token', () => {
    it('sends nothing and tells the tool so', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const notifications: unknown[] = [];
      client.setNotificationHandler(ProgressNotificationSchema, (n) => {
        notifications.push(n);
      });
      const result = await client.callTool({ name: 'work', arguments: { steps: [1, 2] } });
      expect(JSON.parse(textOf(result))).toEqual({ enabled: false, sent: [false, false] });
      expect(notifications).toEqual([]);
    });
  });

  describe('when a tool reports a value that is not a number >= 0', () => {
    it('throws a TypeError naming the value', async () => {
      server = await startTestServer(progressServer());
      client = await connectClient(server.url);
      const result = await client.callTool({ name: 'bad', arguments: { value: -1 } }, undefined, {
        onprogress: () => {},
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('progress must be a finite number >= 0, got -1');
    });

    it('rejects a bad total at construction', () => {
      expect(() =>
        progressReporter({ _meta: {}, sendNotification: async () => {} }, { total: Number.NaN }),
      ).toThrow(TypeError);
    });
  });
});
