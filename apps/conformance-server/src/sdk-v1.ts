/**
 * The SDK v1 adapter: registers a `ServerDefinition` on `@modelcontextprotocol/sdk`'s `McpServer`. This file and
 * the serving code are all that knows the SDK line; the definition itself is plain data.
 */
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate, type ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type CallToolResult,
  type CreateMessageResult,
  type LoggingLevel,
  LoggingLevelSchema,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { ZodRawShape, ZodType, z } from 'zod';
import { flatVariables, progressSender } from './adapter.js';
import type { CallContext, PromptDefinition, ServerDefinition, ToolDefinition } from './definition.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type AnyToolCallback = ToolCallback<ZodRawShape>;

export interface V1ServerOptions {
  /** One validator shared by every server (core's handler hands one to its factory). @default a new one per server */
  jsonSchemaValidator?: AjvJsonSchemaValidator;
  /** Wraps every tool handler, e.g. `errs.tool` from `@mcp-middleware/errors`. @default none */
  wrapTool?: (handler: AnyToolCallback) => AnyToolCallback;
}

const SEVERITY = new Map(LoggingLevelSchema.options.map((level, index) => [level, index]));

/** The call context a definition's tool sees, from v1's `extra`. */
function callContext(server: McpServer, extra: Extra, minLevel: () => LoggingLevel | undefined): CallContext {
  // Related to the call, so the SDK sends them on the call's own stream rather than the standalone GET stream.
  const related = { relatedRequestId: extra.requestId, signal: extra.signal };
  return {
    signal: extra.signal,
    progress: progressSender(extra._meta?.progressToken, extra.sendNotification),
    async log(level, data) {
      const min = minLevel();
      if (min !== undefined && (SEVERITY.get(level) ?? 0) < (SEVERITY.get(min) ?? 0)) return;
      await extra.sendNotification({ method: 'notifications/message', params: { level, data } });
    },
    sample: async (params) => (await server.server.createMessage(params, related)) as CreateMessageResult,
    elicit: (params) => server.server.elicitInput(params, related),
  };
}

/** A prompt's argument fields, with completion callbacks attached where the definition has them. */
function promptArgs(prompt: PromptDefinition): ZodRawShape | undefined {
  if (!prompt.args) return undefined;
  const shape: Record<string, ZodType> = {};
  for (const [name, schema] of Object.entries(prompt.args)) {
    const complete = prompt.complete?.[name];
    // completable() returns zod's core type; it is the same schema with a completer attached.
    shape[name] = (
      complete ? completable(schema as z.ZodString, (value) => complete(value)) : schema
    ) as ZodType;
  }
  return shape;
}

function registerTool(server: McpServer, tool: ToolDefinition, handler: AnyToolCallback): void {
  if (tool.input) {
    server.registerTool(tool.name, { description: tool.description, inputSchema: tool.input }, handler);
  } else {
    // Without an input schema the SDK calls the handler with `extra` alone.
    const noArgs = handler as unknown as (args: undefined, extra: Extra) => Promise<CallToolResult>;
    server.registerTool(tool.name, { description: tool.description }, (extra: Extra) =>
      noArgs(undefined, extra),
    );
  }
}

/**
 * Makes v1 `McpServer`s serving `definition`: tools, resources, templates, prompts, completions, logging and
 * subscriptions. What can be shared (prompt schemas with their completers) is built once, here; the returned
 * function makes one server per session (or per request) from it.
 */
export function v1ServerFactory(
  definition: ServerDefinition,
  options: Pick<V1ServerOptions, 'wrapTool'> = {},
): (perServer?: Pick<V1ServerOptions, 'jsonSchemaValidator'>) => McpServer {
  // completable() marks the schema it is given, so each prompt's schema is made once, not once per server.
  const prompts = definition.prompts.map((prompt) => ({ prompt, argsSchema: promptArgs(prompt) }));
  const wrap = options.wrapTool ?? ((handler) => handler);
  return (perServer = {}) => {
    const server = new McpServer(
      { name: definition.name, version: definition.version },
      {
        capabilities: { logging: {} },
        ...(perServer.jsonSchemaValidator ? { jsonSchemaValidator: perServer.jsonSchemaValidator } : {}),
      },
    );

    // The level the client chose with logging/setLevel; one server per session, so one level per session.
    let minLevel: LoggingLevel | undefined;
    server.server.setRequestHandler(SetLevelRequestSchema, (request) => {
      minLevel = request.params.level;
      return {};
    });

    for (const tool of definition.tools) {
      const handler: AnyToolCallback = (args, extra) =>
        tool.run(
          args ?? {},
          callContext(server, extra, () => minLevel),
        );
      registerTool(server, tool, wrap(handler));
    }

    for (const resource of definition.resources) {
      server.registerResource(
        resource.name,
        resource.uri,
        { description: resource.description, mimeType: resource.mimeType },
        (uri) => resource.read(uri),
      );
    }
    for (const template of definition.resourceTemplates) {
      server.registerResource(
        template.name,
        new ResourceTemplate(template.uriTemplate, { list: undefined }),
        { description: template.description, mimeType: template.mimeType },
        (uri, variables) => template.read(uri, flatVariables(variables)),
      );
    }

    for (const { prompt, argsSchema } of prompts) {
      if (argsSchema) {
        server.registerPrompt(prompt.name, { description: prompt.description, argsSchema }, (args) =>
          prompt.get(args),
        );
      } else {
        server.registerPrompt(prompt.name, { description: prompt.description }, () => prompt.get({}));
      }
    }

    if (definition.subscriptions) {
      // McpServer has no subscription API; the low-level server takes the two methods. Updates are never sent
      // (nothing here changes), so remembering the URIs is all a subscription needs.
      const subscribed = new Set<string>();
      server.server.registerCapabilities({ resources: { subscribe: true } });
      server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
        subscribed.add(request.params.uri);
        return {};
      });
      server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
        subscribed.delete(request.params.uri);
        return {};
      });
    }
    return server;
  };
}
