import type { ServerFactoryContext } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ErrorsMiddleware, ErrorsOptions } from './errors.js';
import { fetchWithTimeout } from './fetch.js';
import { invalidParams, ToolError } from './tool-error.js';

/** The limits every transport's fixture uses, so the same assertions hold over HTTP and stdio. */
export const FIXTURE_OPTIONS = {
  timeout: '5s',
  toolTimeouts: { slow: 300, stubborn: 300 },
} as const satisfies ErrorsOptions;

/** A secret that must never reach a client. */
export const SECRET = 'password=hunter2';

/**
 * An McpServer whose tools fail in every way the error model distinguishes. `onAbort` is told, from inside a tool,
 * when its signal aborted.
 */
export function fixtureServer(
  errs: ErrorsMiddleware,
  onAbort: (tool: string) => void,
  validator?: ServerFactoryContext['jsonSchemaValidator'],
): McpServer {
  const server = new McpServer(
    { name: 'errors-fixture', version: '1.0.0' },
    validator ? { jsonSchemaValidator: validator } : {},
  );
  server.registerTool(
    'weather',
    { description: 'Weather for a city', inputSchema: { city: z.string() } },
    errs.tool(async ({ city }) => {
      if (city === 'Atlantis')
        throw new ToolError(`No weather for ${city}: it is under water. Try a real city.`);
      return { content: [{ type: 'text', text: `Sunny in ${city}` }] };
    }),
  );
  server.registerTool(
    'book',
    { description: 'Books a date', inputSchema: { date: z.string() } },
    errs.tool(async ({ date }) => {
      throw invalidParams(`date ${date} is in the past`, { field: 'date' });
    }),
  );
  server.registerTool(
    'sdk_invalid',
    { description: 'Throws the SDK McpError' },
    errs.tool(async () => {
      throw new McpError(ErrorCode.InvalidParams, 'limit must be at most 100');
    }),
  );
  server.registerTool(
    'crash',
    { description: 'Fails unexpectedly' },
    errs.tool(async () => {
      throw new TypeError(`cannot connect to db (${SECRET})`);
    }),
  );
  server.registerTool('unwrapped_crash', { description: 'Not wrapped by errs.tool' }, async () => {
    throw new TypeError(`cannot connect to db (${SECRET})`);
  });
  server.registerTool(
    'declines',
    { description: 'Returns an isError result itself' },
    errs.tool(async () => ({ content: [{ type: 'text', text: 'Not today.' }], isError: true })),
  );
  server.registerTool(
    'slow',
    { description: 'Waits for ms, or until cancelled', inputSchema: { ms: z.number() } },
    errs.tool(async ({ ms }, extra) => {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        extra.signal.addEventListener('abort', () => {
          onAbort('slow');
          clearTimeout(timer);
          reject(new Error(`aborted (${SECRET})`));
        });
      });
      return { content: [{ type: 'text', text: `waited ${ms}` }] };
    }),
  );
  server.registerTool(
    'stubborn',
    { description: 'Waits for ms and ignores its signal', inputSchema: { ms: z.number() } },
    errs.tool(async ({ ms }, extra) => {
      extra.signal.addEventListener('abort', () => onAbort('stubborn'));
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { content: [{ type: 'text', text: `waited ${ms}` }] };
    }),
  );
  server.registerTool(
    'status',
    { description: 'Fetches a URL', inputSchema: { url: z.string(), timeoutMs: z.number() } },
    errs.tool(async ({ url, timeoutMs }, extra) => {
      const response = await fetchWithTimeout(url, { timeout: timeoutMs, signal: extra.signal });
      return { content: [{ type: 'text', text: await response.text() }] };
    }),
  );
  server.registerResource('config', 'config://app', { description: 'Fails to load' }, async () => {
    throw new Error(`config unreadable (${SECRET})`);
  });
  return server;
}
