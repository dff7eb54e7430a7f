import { progressReporter } from '@mcp-middleware/core';
import { type ErrorsMiddleware, fetchWithTimeout, invalidParams, ToolError } from '@mcp-middleware/errors';
import type { JsonLogger } from '@mcp-middleware/logging-json';
import { type SamplingOptions, samplingContext } from '@mcp-middleware/sampling-helpers';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { z } from 'zod';

export interface ToolDeps {
  errors: ErrorsMiddleware;
  sampling: SamplingOptions;
  upstreamUrl: URL;
  /** One call in a tool, two destinations: the JSON log line and, where the client asked, the client. */
  log: JsonLogger;
  jsonSchemaValidator?: jsonSchemaValidator;
}

/** Scopes each tool needs; shared by API-key and OAuth modes. */
export const TOOL_SCOPES = {
  tools: { update_record: ['records:write'] },
  default: ['records:read'],
} as const;

export const ALL_SCOPES = ['records:read', 'records:write'];

const RECORDS = new Map([
  ['rec-1001', { id: 'rec-1001', title: 'Checkout fails on Safari', owner: 'payments', status: 'open' }],
  ['rec-1002', { id: 'rec-1002', title: 'Add dark mode', owner: 'web', status: 'planned' }],
  ['rec-1003', { id: 'rec-1003', title: 'Refund not received', owner: 'billing', status: 'open' }],
]);

const TEAMS: Record<string, string> = {
  bug: 'engineering on-call',
  feature: 'product',
  question: 'support',
  billing: 'finance',
};

/** The demo's MCP server: one tool per feature of the toolkit. */
export function createDemoServer(deps: ToolDeps): McpServer {
  const server = new McpServer(
    { name: 'mcp-middleware-demo', version: '0.1.0' },
    {
      capabilities: { logging: {} },
      ...(deps.jsonSchemaValidator ? { jsonSchemaValidator: deps.jsonSchemaValidator } : {}),
      instructions:
        'A demo of mcp-middleware: records, triage with sampling, a long task, an external service.',
    },
  );
  const { errors } = deps;

  server.registerTool(
    'classify_and_route',
    {
      description:
        "Classifies a support message (bug, feature, question, billing) with the client's model, or the " +
        "server's when the client cannot sample, and names the team it goes to.",
      inputSchema: { text: z.string().min(1).max(4000) },
    },
    errors.tool(async ({ text }, extra) => {
      const ai = samplingContext(server, extra, deps.sampling);
      const label = await ai.classify(text, ['bug', 'feature', 'question', 'billing']);
      await deps.log.forCall(extra, server).info('classified', { label, source: ai.source });
      return {
        content: [
          { type: 'text', text: `${label} -> ${TEAMS[label]} (classified by the ${ai.source} model)` },
        ],
        structuredContent: { label, team: TEAMS[label], source: ai.source },
      };
    }),
  );

  server.registerTool(
    'long_task',
    {
      description: 'Works through `steps` steps, reporting progress and log messages as it goes.',
      inputSchema: {
        steps: z.number().int().min(1).max(20).default(5),
        stepMs: z.number().int().min(0).max(5000).default(200),
      },
    },
    errors.tool(async ({ steps, stepMs }, extra) => {
      const progress = progressReporter(extra, { total: steps });
      const log = deps.log.forCall(extra, server);
      for (let i = 1; i <= steps; i++) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, stepMs);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new ToolError(`Stopped at step ${i} of ${steps}: the call was cancelled.`));
          });
        });
        await log.info(`step ${i} of ${steps} done`, { step: i });
        await progress.advance(1, { message: `step ${i} of ${steps}` });
      }
      return { content: [{ type: 'text', text: `Finished ${steps} steps.` }] };
    }),
  );

  server.registerTool(
    'get_record',
    {
      description:
        "Fetches a record by id ('rec-' and four digits). A malformed id is a protocol error; an unknown one " +
        "is a tool error; the id 'rec-0000' triggers an unexpected failure to show masking.",
      inputSchema: { id: z.string() },
    },
    errors.tool(async ({ id }) => {
      if (!/^rec-\d{4}$/.test(id))
        throw invalidParams(`id must look like rec-1234, got '${id.slice(0, 40)}'`);
      if (id === 'rec-0000')
        throw new Error('connection to records-db failed: password=demo-secret rejected');
      const record = RECORDS.get(id);
      if (!record) throw new ToolError(`No record ${id}. Known ids: ${[...RECORDS.keys()].join(', ')}.`);
      return { content: [{ type: 'text', text: JSON.stringify(record) }], structuredContent: record };
    }),
  );

  server.registerTool(
    'update_record',
    {
      description: "Sets a record's status. Needs the records:write scope.",
      inputSchema: { id: z.string(), status: z.enum(['open', 'planned', 'closed']) },
    },
    errors.tool(async ({ id, status }) => {
      const record = RECORDS.get(id);
      if (!record) throw new ToolError(`No record ${id}.`);
      // The demo keeps its records read-only across calls: answer what would change.
      return { content: [{ type: 'text', text: `${id}: ${record.status} -> ${status}` }] };
    }),
  );

  server.registerTool(
    'service_status',
    {
      description:
        'Asks an external status service about a service. `delay` (ms) slows the service down to show the ' +
        '2-second timeout; `fail` makes it answer that HTTP status.',
      inputSchema: {
        service: z
          .string()
          .regex(/^[a-z0-9-]{1,40}$/)
          .default('api'),
        delay: z.number().int().min(0).max(10_000).default(0),
        fail: z.number().int().min(0).max(599).default(0),
      },
    },
    errors.tool(async ({ service, delay, fail }, extra) => {
      const url = new URL('/status', deps.upstreamUrl);
      url.search = new URLSearchParams({ service, delay: String(delay), fail: String(fail) }).toString();
      const response = await fetchWithTimeout(url, {
        timeout: '2s',
        service: 'status service',
        signal: extra.signal,
      });
      return { content: [{ type: 'text', text: await response.text() }] };
    }),
  );

  server.registerTool(
    'whoami',
    { description: 'Says who the server thinks is calling: client id, scopes and subject.' },
    errors.tool(async (extra) => {
      const auth = extra.authInfo;
      const who = auth
        ? { clientId: auth.clientId, scopes: auth.scopes, subject: auth.extra?.['subject'] ?? null }
        : { clientId: null, scopes: [], subject: null };
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    }),
  );

  return server;
}
