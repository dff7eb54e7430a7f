/**
 * A weather server with a clear error model: external calls that fail become tool errors the model can read,
 * bad requests become JSON-RPC errors, anything else is masked behind an error id, and slow calls are cancelled.
 * Run: node --import tsx examples/weather-server.ts (serves http://127.0.0.1:3000/mcp)
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { errors, fetchWithTimeout, invalidParams, ToolError } from '@mcp-middleware/errors';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

const errs = errors({
  timeout: '30s',
  toolTimeouts: { forecast: '15s' },
  // Your logger here; the client only sees "Internal error (error id: …)" with the same id.
  onError: (error, { errorId, toolName }) => console.error(`[${errorId}] ${toolName ?? '-'}:`, error),
});

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'weather', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'forecast',
      {
        description: 'Daily maximum temperatures for a place',
        inputSchema: { latitude: z.number(), longitude: z.number(), days: z.number().int().min(1) },
      },
      errs.tool(async ({ latitude, longitude, days }, extra) => {
        // A rule the schema does not express: the caller's mistake, so a protocol error (-32602).
        if (days > 16) throw invalidParams('days must be at most 16', { max: 16 });
        const url = new URL('https://api.open-meteo.com/v1/forecast');
        url.search = new URLSearchParams({
          latitude: String(latitude),
          longitude: String(longitude),
          daily: 'temperature_2m_max',
          forecast_days: String(days),
        }).toString();
        // Timeouts, refused connections and HTTP 5xx arrive as ToolErrors the model can read.
        const response = await fetchWithTimeout(url, { timeout: '10s', signal: extra.signal });
        const body = (await response.json()) as { daily?: { time: string[]; temperature_2m_max: number[] } };
        if (!body.daily) throw new ToolError('The weather service has no forecast for that place.');
        const lines = body.daily.time.map((day, i) => `${day}: ${body.daily?.temperature_2m_max[i]} °C`);
        return { content: [{ type: 'text', text: lines.join('\n') }] };
      }),
    );
    return server;
  },
  middleware: [errs],
});

const { url } = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.error(`MCP endpoint: ${new URL('/mcp', url)}`);
