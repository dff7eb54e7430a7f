/**
 * What the official conformance suite's server scenarios call: tools, resources, prompts and completions, written
 * once as plain data. An adapter per SDK line (`sdk-v1.ts` today) registers them on that line's `McpServer`, so
 * the SDK-specific code is only the few lines that map a call context.
 *
 * Names, texts and shapes follow the scenario descriptions of `@modelcontextprotocol/conformance` 0.1.16.
 */
import type {
  CallToolResult,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequestFormParams,
  ElicitResult,
  GetPromptResult,
  LoggingLevel,
  ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** What a tool may do besides returning: the part of the SDK's call context the scenarios need. */
export interface CallContext {
  /** Aborted when the client cancels or a timeout middleware gives up. */
  readonly signal: AbortSignal;
  /** Sends `notifications/progress` when the client sent a progress token; a no-op otherwise. */
  progress(progress: number, total?: number): Promise<void>;
  /** Sends `notifications/message` on the call's own stream, unless below the level the client set. */
  log(level: LoggingLevel, data: unknown): Promise<void>;
  /** `sampling/createMessage` to the client; rejects when the client has no sampling capability. */
  sample(params: CreateMessageRequest['params']): Promise<CreateMessageResult>;
  /** `elicitation/create` (form mode) to the client; rejects when the client has no elicitation capability. */
  elicit(params: ElicitRequestFormParams): Promise<ElicitResult>;
}

type Shape = z.ZodRawShape;

export interface ToolDefinition<S extends Shape = Shape> {
  readonly name: string;
  readonly description: string;
  /** Zod fields of the arguments object; omitted for tools without arguments. */
  readonly input?: S;
  run(args: z.infer<z.ZodObject<S>>, ctx: CallContext): Promise<CallToolResult>;
}

export interface ResourceDefinition {
  readonly name: string;
  readonly uri: string;
  readonly description: string;
  readonly mimeType: string;
  read(uri: URL): ReadResourceResult;
}

export interface ResourceTemplateDefinition {
  readonly name: string;
  /** An RFC 6570 level-1 template, e.g. `test://template/{id}/data`. */
  readonly uriTemplate: string;
  readonly description: string;
  readonly mimeType: string;
  read(uri: URL, variables: Record<string, string>): ReadResourceResult;
}

export interface PromptDefinition<S extends Shape = Shape> {
  readonly name: string;
  readonly description: string;
  readonly args?: S;
  /** Completion values per argument, for `completion/complete`. */
  readonly complete?: { readonly [K in keyof S]?: (value: string) => string[] };
  get(args: z.infer<z.ZodObject<S>>): GetPromptResult;
}

export interface ServerDefinition {
  readonly name: string;
  readonly version: string;
  readonly tools: readonly ToolDefinition[];
  readonly resources: readonly ResourceDefinition[];
  readonly resourceTemplates: readonly ResourceTemplateDefinition[];
  readonly prompts: readonly PromptDefinition[];
  /** Accept `resources/subscribe` and `resources/unsubscribe` (and declare the capability). */
  readonly subscriptions: boolean;
}

/** Keeps each tool's argument types while the list holds them all under one type. */
function tool<S extends Shape>(definition: ToolDefinition<S>): ToolDefinition {
  return definition as unknown as ToolDefinition;
}

function prompt<S extends Shape>(definition: PromptDefinition<S>): PromptDefinition {
  return definition as unknown as PromptDefinition;
}

/** A 1x1 red PNG. */
export const RED_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';
/** Eight samples of 8 kHz, 8-bit mono silence. */
export const SILENT_WAV = 'UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==';

export const ERROR_TOOL_MESSAGE = 'This tool intentionally returns an error for testing';

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** Waits, but gives up as soon as the call is cancelled (so a cancelled tool stops working). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A tool without arguments that elicits `request` and reports what came back. */
function elicitationTool(
  name: string,
  description: string,
  request: ElicitRequestFormParams,
): ToolDefinition {
  return tool({
    name,
    description,
    run: async (_args, ctx) => {
      const result = await ctx.elicit(request);
      return text(
        `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
      );
    },
  });
}

/**
 * Builds the tools. `toolError` makes the error a tool reports on purpose: the stack passes errors' `ToolError`
 * (sent verbatim), the bare server a plain `Error` (which the SDK turns into the same `isError` result).
 */
export function conformanceDefinition(options: { toolError: (message: string) => Error }): ServerDefinition {
  const tools: ToolDefinition[] = [
    tool({
      name: 'test_simple_text',
      description: 'Returns a simple text response',
      run: async () => text('This is a simple text response for testing.'),
    }),
    tool({
      name: 'test_image_content',
      description: 'Returns an image (a 1x1 red PNG)',
      run: async () => ({ content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }] }),
    }),
    tool({
      name: 'test_audio_content',
      description: 'Returns audio (a short silent WAV)',
      run: async () => ({ content: [{ type: 'audio', data: SILENT_WAV, mimeType: 'audio/wav' }] }),
    }),
    tool({
      name: 'test_embedded_resource',
      description: 'Returns an embedded text resource',
      run: async () => ({
        content: [
          {
            type: 'resource',
            resource: {
              uri: 'test://embedded-resource',
              mimeType: 'text/plain',
              text: 'This is an embedded resource content.',
            },
          },
        ],
      }),
    }),
    tool({
      name: 'test_multiple_content_types',
      description: 'Returns text, an image and an embedded resource',
      run: async () => ({
        content: [
          { type: 'text', text: 'Multiple content types test:' },
          { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
          {
            type: 'resource',
            resource: {
              uri: 'test://mixed-content-resource',
              mimeType: 'application/json',
              text: JSON.stringify({ test: 'data', value: 123 }),
            },
          },
        ],
      }),
    }),
    tool({
      name: 'test_tool_with_logging',
      description: 'Sends three info log messages while it runs',
      run: async (_args, ctx) => {
        await ctx.log('info', 'Tool execution started');
        await pause(50, ctx.signal);
        await ctx.log('info', 'Tool processing data');
        await pause(50, ctx.signal);
        await ctx.log('info', 'Tool execution completed');
        return text('Logging test completed');
      },
    }),
    tool({
      name: 'test_error_handling',
      description: 'Always fails with a tool error',
      run: async () => {
        throw options.toolError(ERROR_TOOL_MESSAGE);
      },
    }),
    tool({
      name: 'test_tool_with_progress',
      description: 'Reports progress 0, 50 and 100 of 100',
      run: async (_args, ctx) => {
        await ctx.progress(0, 100);
        await pause(50, ctx.signal);
        await ctx.progress(50, 100);
        await pause(50, ctx.signal);
        await ctx.progress(100, 100);
        return text('Progress test completed');
      },
    }),
    tool({
      name: 'test_sampling',
      description: 'Asks the client to sample a completion for the prompt',
      input: { prompt: z.string().describe('The prompt to send to the LLM') },
      run: async ({ prompt }, ctx) => {
        const result = await ctx.sample({
          messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
          maxTokens: 100,
        });
        const reply = result.content.type === 'text' ? result.content.text : `[${result.content.type}]`;
        return text(`LLM response: ${reply}`);
      },
    }),
    tool({
      name: 'test_elicitation',
      description: 'Asks the user for a username and an email',
      input: { message: z.string().describe('The message to show the user') },
      run: async ({ message }, ctx) => {
        const result = await ctx.elicit({
          message,
          requestedSchema: {
            type: 'object',
            properties: {
              username: { type: 'string', description: "User's response" },
              email: { type: 'string', description: "User's email address" },
            },
            required: ['username', 'email'],
          },
        });
        return text(
          `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
        );
      },
    }),
    elicitationTool(
      'test_elicitation_sep1034_defaults',
      'Elicits one field of each primitive type, each with a default (SEP-1034)',
      {
        message: 'Please review your details',
        requestedSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'Your name', default: 'John Doe' },
            age: { type: 'integer', description: 'Your age', default: 30 },
            score: { type: 'number', description: 'Your score', default: 95.5 },
            status: {
              type: 'string',
              description: 'Your status',
              enum: ['active', 'inactive', 'pending'],
              default: 'active',
            },
            verified: { type: 'boolean', description: 'Verified?', default: true },
          },
        },
      },
    ),
    elicitationTool('test_elicitation_sep1330_enums', 'Elicits the five enum shapes of SEP-1330', {
      message: 'Please choose',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
      },
    }),
  ];

  const resources: ResourceDefinition[] = [
    {
      name: 'static-text',
      uri: 'test://static-text',
      description: 'A static text resource',
      mimeType: 'text/plain',
      read: (uri) => ({
        contents: [
          { uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
        ],
      }),
    },
    {
      name: 'static-binary',
      uri: 'test://static-binary',
      description: 'A static binary resource (a PNG)',
      mimeType: 'image/png',
      read: (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: RED_PIXEL_PNG }] }),
    },
    {
      name: 'watched-resource',
      uri: 'test://watched-resource',
      description: 'A resource clients may subscribe to',
      mimeType: 'text/plain',
      read: (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content.' }],
      }),
    },
  ];

  const resourceTemplates: ResourceTemplateDefinition[] = [
    {
      name: 'template-data',
      uriTemplate: 'test://template/{id}/data',
      description: 'Data for an id, from a template',
      mimeType: 'application/json',
      read: (uri, { id = '' }) => ({
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      }),
    },
  ];

  const prompts: PromptDefinition[] = [
    prompt({
      name: 'test_simple_prompt',
      description: 'A prompt without arguments',
      get: () => ({
        messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
      }),
    }),
    prompt({
      name: 'test_prompt_with_arguments',
      description: 'A prompt with two arguments',
      args: {
        arg1: z.string().describe('First test argument'),
        arg2: z.string().describe('Second test argument'),
      },
      complete: {
        arg1: (value) => ['paris', 'park', 'party'].filter((v) => v.startsWith(value)),
      },
      get: ({ arg1, arg2 }) => ({
        messages: [
          {
            role: 'user',
            content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
          },
        ],
      }),
    }),
    prompt({
      name: 'test_prompt_with_embedded_resource',
      description: 'A prompt embedding a resource',
      args: { resourceUri: z.string().describe('URI of the resource to embed') },
      get: ({ resourceUri }) => ({
        messages: [
          {
            role: 'user',
            content: {
              type: 'resource',
              resource: {
                uri: resourceUri,
                mimeType: 'text/plain',
                text: 'Embedded resource content for testing.',
              },
            },
          },
          { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
        ],
      }),
    }),
    prompt({
      name: 'test_prompt_with_image',
      description: 'A prompt with an image',
      get: () => ({
        messages: [
          { role: 'user', content: { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' } },
          { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
        ],
      }),
    }),
  ];

  return {
    name: 'mcp-middleware-conformance',
    version: '0.1.0',
    tools,
    resources,
    resourceTemplates,
    prompts,
    subscriptions: true,
  };
}
