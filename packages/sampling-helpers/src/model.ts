import type { ModelPreferences } from '@modelcontextprotocol/sdk/types.js';

/** One turn of a conversation, as both MCP sampling and most model SDKs see it. */
export interface ModelMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** What a fallback model is asked: the same fields as a sampling request, plus the signal to stop on. */
export interface ModelRequest {
  system?: string;
  messages: ModelMessage[];
  maxTokens: number;
  temperature?: number;
  stopSequences?: string[];
  /** The preferences the tool gave for the client; a fallback may use them to pick a model, or ignore them. */
  modelPreferences?: ModelPreferences;
  /** Aborted on timeout or when the tool call is cancelled. Pass it on (`abortSignal` in the Vercel AI SDK). */
  signal: AbortSignal;
}

/** What a model gives back: its text, or an object with `text` (the Vercel AI SDK's `generateText` result fits). */
export type ModelResponse = string | { readonly text: string };

export type GenerateFunction = (request: ModelRequest) => Promise<ModelResponse>;

/**
 * A server-side model: a function, or an object with `generate`. Adapting the Vercel AI SDK takes one line:
 * `(r) => generateText({ model, system: r.system, messages: r.messages, maxOutputTokens: r.maxTokens,
 * temperature: r.temperature, abortSignal: r.signal })`.
 */
export type FallbackModel = GenerateFunction | { generate: GenerateFunction };

export function isFallbackModel(value: unknown): value is FallbackModel {
  return (
    typeof value === 'function' ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { generate?: unknown }).generate === 'function')
  );
}

/** Calls either shape and returns the text, or undefined when the answer had none. */
export async function generateWith(model: FallbackModel, request: ModelRequest): Promise<string | undefined> {
  const response = typeof model === 'function' ? await model(request) : await model.generate(request);
  if (typeof response === 'string') return response;
  const text = (response as { text?: unknown } | null | undefined)?.text;
  return typeof text === 'string' ? text : undefined;
}
