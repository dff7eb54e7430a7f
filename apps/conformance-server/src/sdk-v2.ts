/**
 * The SDK v2 adapter: registers a `ServerDefinition` on `@modelcontextprotocol/server`'s `McpServer`. Same shape as
 * `sdk-v1.ts`; v2's handler context (`ctx.mcpReq`) already offers log (with the client's level), sampling and
 * elicitation, so the mapping is shorter.
 */
import {
  type CallToolResult,
  type CreateMessageResult,
  completable,
  type GetPromptResult,
  McpServer,
  type ReadResourceResult,
  ResourceTemplate,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { type ZodType, z } from 'zod';
import { flatVariables, progressSender } from './adapter.js';
import type { CallContext, PromptDefinition, ServerDefinition, ToolDefinition } from './definition.js';

type ToolHandler = (args: Record<string, unknown>, ctx: ServerContext) => Promise<CallToolResult>;

export interface V2ServerOptions {
  /** Wraps every tool handler (a v2 build of `errs.tool`, once there is one). @default none */
  wrapTool?: (handler: ToolHandler) => ToolHandler;
}

// The definition speaks SDK v1's types; v2's have the same wire shapes, so results cross over by a cast.
const asV2 = <T>(value: unknown) => value as T;

function callContext(ctx: ServerContext): CallContext {
  const request = ctx.mcpReq;
  return {
    signal: request.signal,
    progress: progressSender(request._meta?.progressToken, request.notify),
    log: (level, data) => request.log(level, data),
    sample: async (params) => asV2<CreateMessageResult>(await request.requestSampling(asV2(params))),
    elicit: async (params) => asV2(await request.elicitInput(asV2(params))),
  };
}

function promptArgs(prompt: PromptDefinition): Record<string, ZodType> | undefined {
  if (!prompt.args) return undefined;
  const shape: Record<string, ZodType> = {};
  for (const [name, schema] of Object.entries(prompt.args)) {
    const complete = prompt.complete?.[name];
    shape[name] = (
      complete ? completable(schema as ZodType, (value) => complete(String(value))) : schema
    ) as ZodType;
  }
  return shape;
}

function registerTool(server: McpServer, tool: ToolDefinition, handler: ToolHandler): void {
  if (tool.input) {
    // v2 takes a Standard Schema object (its raw-shape form is deprecated).
    const inputSchema = z.object(tool.input);
    server.registerTool(tool.name, { description: tool.description, inputSchema }, (args, ctx) =>
      handler(args, ctx),
    );
  } else {
    server.registerTool(tool.name, { description: tool.description }, (ctx: ServerContext) =>
      handler({}, ctx),
    );
  }
}

/** Makes v2 `McpServer`s serving `definition`; what can be shared is built once (see `v1ServerFactory`). */
export function v2ServerFactory(
  definition: ServerDefinition,
  options: V2ServerOptions = {},
): () => McpServer {
  const prompts = definition.prompts.map((prompt) => ({ prompt, argsSchema: promptArgs(prompt) }));
  const wrap = options.wrapTool ?? ((handler) => handler);
  const tools = definition.tools.map((tool) => ({
    tool,
    handler: wrap(async (args, ctx) => asV2<CallToolResult>(await tool.run(args, callContext(ctx)))),
  }));

  return () => {
    const server = new McpServer(
      { name: definition.name, version: definition.version },
      {
        capabilities: {
          logging: {},
          ...(definition.subscriptions ? { resources: { subscribe: true } } : {}),
        },
      },
    );
    for (const { tool, handler } of tools) registerTool(server, tool, handler);

    for (const resource of definition.resources) {
      server.registerResource(
        resource.name,
        resource.uri,
        { description: resource.description, mimeType: resource.mimeType },
        (uri) => asV2<ReadResourceResult>(resource.read(uri)),
      );
    }
    for (const template of definition.resourceTemplates) {
      server.registerResource(
        template.name,
        new ResourceTemplate(template.uriTemplate, { list: undefined }),
        { description: template.description, mimeType: template.mimeType },
        (uri, variables) => asV2<ReadResourceResult>(template.read(uri, flatVariables(variables))),
      );
    }

    for (const { prompt, argsSchema } of prompts) {
      if (argsSchema) {
        const schema = z.object(argsSchema);
        server.registerPrompt(prompt.name, { description: prompt.description, argsSchema: schema }, (args) =>
          asV2<GetPromptResult>(prompt.get(args)),
        );
      } else {
        server.registerPrompt(prompt.name, { description: prompt.description }, () =>
          asV2<GetPromptResult>(prompt.get({})),
        );
      }
    }

    if (definition.subscriptions) {
      // As on v1: the URIs are remembered, no update is ever due.
      const subscribed = new Set<string>();
      server.server.setRequestHandler('resources/subscribe', (request) => {
        subscribed.add(request.params.uri);
        return {};
      });
      server.server.setRequestHandler('resources/unsubscribe', (request) => {
        subscribed.delete(request.params.uri);
        return {};
      });
    }
    return server;
  };
}
