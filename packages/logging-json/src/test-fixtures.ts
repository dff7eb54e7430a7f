import type { ServerFactory } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LOGGING_LEVELS } from './client-log.js';
import type { JsonLogger } from './json-logger.js';

/** Collects exactly what pino writes: one string per line. */
export interface Capture {
  readonly stream: { write(line: string): void };
  readonly raw: string[];
  /** Every line parsed; throws if any line is not JSON. */
  lines(): Array<Record<string, unknown>>;
  of(kind: 'http' | 'rpc' | 'tool'): Array<Record<string, unknown>>;
}

export function capture(): Capture {
  const raw: string[] = [];
  const lines = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    stream: { write: (line: string) => void raw.push(line) },
    raw,
    lines,
    of: (kind) => lines().filter((l) => l['kind'] === kind),
  };
}

export interface FixtureOptions {
  /** Declare the `logging` capability. @default true */
  logging?: boolean;
}

/** An McpServer whose tools log through `log.forCall`. */
export function loggingServer(log: JsonLogger, options: FixtureOptions = {}): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer(
      { name: 'logging-fixture', version: '1.0.0' },
      { jsonSchemaValidator, capabilities: options.logging === false ? {} : { logging: {} } },
    );
    server.registerTool(
      'echo',
      { description: 'Echoes text and reports its correlation id', inputSchema: { text: z.string() } },
      async ({ text }, extra) => {
        const call = log.forCall(extra, server);
        await call.info('echoing', { length: text.length });
        return { content: [{ type: 'text', text: JSON.stringify({ text, requestId: call.requestId }) }] };
      },
    );
    server.registerTool(
      'every_level',
      { description: 'Logs one message at each MCP level' },
      async (extra) => {
        const call = log.forCall(extra, server);
        for (const level of LOGGING_LEVELS) await call.log(level, `at ${level}`);
        return { content: [{ type: 'text', text: 'logged' }] };
      },
    );
    server.registerTool(
      'leaky',
      {
        description: 'Logs fields and text that carry credentials',
        inputSchema: { apiKey: z.string(), note: z.string() },
      },
      async ({ apiKey, note }, extra) => {
        await log.forCall(extra, server).warning(`upstream refused Bearer ${apiKey}`, {
          token: apiKey,
          nested: { password: apiKey, client_secret: apiKey },
          note,
        });
        return { content: [{ type: 'text', text: 'done' }] };
      },
    );
    server.registerTool('fail', { description: 'Reports a tool error' }, async () => ({
      content: [{ type: 'text', text: 'nope' }],
      isError: true,
    }));
    server.registerTool(
      'slow',
      { description: 'Waits ms milliseconds, or until cancelled', inputSchema: { ms: z.number() } },
      async ({ ms }, extra) => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: `waited ${ms}` }] };
      },
    );
    return server;
  };
}
