import { callOf, type Duration, toMs } from '@mcp-middleware/core';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  ClientCapabilities,
  ModelPreferences,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import {
  checkLabels,
  chooseSource,
  type JsonDecision,
  parseJsonAnswer,
  parseLabel,
  type SamplingPreference,
  type SamplingSource,
  validateAnswer,
} from './decisions.js';
import { SamplingError } from './errors.js';
import { type FallbackModel, generateWith, isFallbackModel, type ModelMessage } from './model.js';
import {
  envelopeCapabilities,
  isRoundTripContext,
  isRoundTripEra,
  RoundTrip,
  type RoundTripContext,
  textOfSamplingResult,
} from './round-trip.js';
import type { InferOutput, StandardSchemaV1 } from './standard-schema.js';

/** Anything that knows the client's capabilities: the low-level `Server`, or an `McpServer` (via its `server`). */
export type SamplingServer =
  | { getClientCapabilities(): ClientCapabilities | undefined }
  | { readonly server: { getClientCapabilities(): ClientCapabilities | undefined } };

/** The part of a tool's `extra` (SDK v1's `RequestHandlerExtra`) that sampling needs. */
export type SamplingExtraV1 = Pick<
  RequestHandlerExtra<ServerRequest, ServerNotification>,
  'sendRequest' | 'signal'
>;

/** The part of a tool's `ctx` (SDK v2) that sampling needs. */
export interface SamplingContextV2 extends RoundTripContext {
  readonly mcpReq: RoundTripContext['mcpReq'] & {
    readonly signal: AbortSignal;
    send(
      request: { method: 'sampling/createMessage'; params: Record<string, unknown> },
      options?: { signal?: AbortSignal; timeout?: number },
    ): Promise<unknown>;
  };
}

/** The tool handler's last argument: `extra` on SDK v1, `ctx` on SDK v2. */
export type SamplingExtra = SamplingExtraV1 | SamplingContextV2;

/**
 * SDK v1 validates a request's result with the schema it is given and accepts any object with `safeParse` (the
 * zod 3 shape). This one checks the answer's shape itself, so the package needs no SDK schema at run time.
 */
const SAMPLING_RESULT = {
  safeParse(data: unknown) {
    // Only the shape: a model answer of another kind (an image) is refused after, as invalid output.
    const content = (data as { content?: unknown } | null)?.content;
    return typeof content === 'object' && content !== null
      ? { success: true, data }
      : { success: false, error: new Error('The client answered the sampling request with no model answer') };
  },
} as unknown as Parameters<SamplingExtraV1['sendRequest']>[1];

export interface SamplingOptions {
  /**
   * A server-side model for when the client cannot sample (no `sampling` capability) or answers the request with
   * an error. Without one, such calls fail with a `SamplingError` saying the client cannot sample.
   * @default undefined
   */
  fallback?: FallbackModel;
  /**
   * `'client'` asks the client and falls back when it cannot or will not sample; `'fallback'` never asks the
   * client (sampling is deprecated from MCP 2026-07-28: switch here, keep your tool code). `'fallback'` needs
   * `fallback`.
   * @default 'client'
   */
  prefer?: SamplingPreference;
  /** How long one request to a model may take before it is cancelled. @default '60s' */
  timeout?: Duration;
  /** `maxTokens` for requests that do not set their own. @default 1000 */
  maxTokens?: number;
  /** How often `classify` and `sampleJson` ask again after an unusable answer. @default 1 */
  retries?: number;
}

export interface SampleRequest {
  /** A single user message. Give this or `messages`. */
  prompt?: string;
  /** A conversation (text only). Give this or `prompt`. */
  messages?: readonly ModelMessage[];
  /** The system prompt. */
  system?: string;
  /** @default the context's `maxTokens` */
  maxTokens?: number;
  temperature?: number;
  stopSequences?: readonly string[];
  /** Hints for the client's model choice (names, cost / speed / intelligence priorities), passed through. */
  modelPreferences?: ModelPreferences;
  /** @default the context's `timeout` */
  timeout?: Duration;
  /** Stops the request early; the tool call's own cancellation always does. */
  signal?: AbortSignal;
}

export interface ClassifyOptions {
  /** What the labels mean or how to decide, added to the system prompt. */
  instructions?: string;
  /** @default 64 */
  maxTokens?: number;
  /** @default 0 */
  temperature?: number;
  modelPreferences?: ModelPreferences;
  /** @default the context's `timeout` (per request) */
  timeout?: Duration;
  /** @default the context's `retries` */
  retries?: number;
  signal?: AbortSignal;
}

export interface SampleJsonOptions {
  /** Extra system instructions, e.g. how to fill a field. */
  instructions?: string;
  /** @default the context's `maxTokens` */
  maxTokens?: number;
  temperature?: number;
  modelPreferences?: ModelPreferences;
  /** @default the context's `timeout` (per request) */
  timeout?: Duration;
  /** @default the context's `retries` */
  retries?: number;
  signal?: AbortSignal;
}

/** Sampling for one tool call, made by `samplingContext(server, extra, options)`. */
export interface SamplingContext {
  /** Where `sample()` would go now: `'client'`, `'fallback'`, or undefined when it cannot sample at all. */
  readonly source: SamplingSource | undefined;
  /** True when `sample()` has somewhere to go: the client declared `sampling`, or there is a fallback. */
  canSample(): boolean;
  /** One model answer, as text. */
  sample(request: SampleRequest | string): Promise<string>;
  /** Exactly one of `labels`: asks again once (by default) after an off-label answer, then throws. */
  classify<const L extends string>(text: string, labels: readonly L[], options?: ClassifyOptions): Promise<L>;
  /** One JSON value that `schema` (any Standard Schema: zod 4, Valibot, ArkType) accepts, with a retry. */
  sampleJson<S extends StandardSchemaV1>(
    prompt: string,
    schema: S,
    options?: SampleJsonOptions,
  ): Promise<InferOutput<S>>;
}

const ANSWER_PREVIEW = 120;

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > ANSWER_PREVIEW ? `${flat.slice(0, ANSWER_PREVIEW)}…` : flat);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`samplingContext: ${name} must be a whole number >= 1, got ${String(value)}`);
  }
  return value;
}

function retriesOf(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`samplingContext: ${name} must be a whole number >= 0, got ${String(value)}`);
  }
  return value;
}

function positiveDuration(value: Duration, name: string): number {
  const ms = toMs(value, name);
  if (ms === 0) throw new TypeError(`${name} must be longer than 0 ms`);
  return ms;
}

function capabilitiesOf(server: SamplingServer): ClientCapabilities | undefined {
  return 'getClientCapabilities' in server
    ? server.getClientCapabilities()
    : server.server.getClientCapabilities();
}

/**
 * Sampling for a tool: ask the client's model (`sampling/createMessage`, sent as part of the current call), or a
 * server-side fallback model when the client cannot or will not sample.
 *
 * ```ts
 * server.registerTool('triage', { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
 *   const ai = samplingContext(server, extra, { fallback });
 *   const label = await ai.classify(text, ['bug', 'feature', 'question']);
 *   return { content: [{ type: 'text', text: label }] };
 * });
 * ```
 */
export function samplingContext(
  server: SamplingServer,
  extra: SamplingExtra,
  options: SamplingOptions = {},
): SamplingContext {
  if (
    typeof server !== 'object' ||
    server === null ||
    !('getClientCapabilities' in server || typeof server.server?.getClientCapabilities === 'function')
  ) {
    throw new TypeError('samplingContext: server must be an McpServer or a Server');
  }
  const v2 = isRoundTripContext(extra) ? (extra as SamplingContextV2) : undefined;
  const v1 = v2 ? undefined : (extra as SamplingExtraV1);
  const callSignal = v2 ? v2.mcpReq.signal : v1?.signal;
  if (
    (v1 !== undefined && typeof v1?.sendRequest !== 'function') ||
    (v2 !== undefined && typeof v2.mcpReq.send !== 'function') ||
    !(callSignal instanceof AbortSignal)
  ) {
    throw new TypeError(
      "samplingContext: pass the tool handler's last argument (`extra` on SDK v1, `ctx` on SDK v2)",
    );
  }
  // On 2026-07-28 requests the client's answers come back in later rounds of the same call (input_required).
  const roundTrip = v2 && isRoundTripEra(v2, callOf(v2)?.protocolVersion) ? new RoundTrip(v2) : undefined;
  const fallback = options.fallback;
  if (fallback !== undefined && !isFallbackModel(fallback)) {
    throw new TypeError('samplingContext: fallback must be a function or an object with a generate() method');
  }
  const prefer = options.prefer ?? 'client';
  if (prefer !== 'client' && prefer !== 'fallback') {
    throw new TypeError(
      `samplingContext: prefer must be 'client' or 'fallback', got ${JSON.stringify(prefer)}`,
    );
  }
  if (prefer === 'fallback' && fallback === undefined) {
    throw new TypeError("samplingContext: prefer: 'fallback' needs a fallback model");
  }
  const timeoutMs = positiveDuration(options.timeout ?? '60s', 'samplingContext: timeout');
  const maxTokens = positiveInteger(options.maxTokens ?? 1000, 'maxTokens');
  const retries = retriesOf(options.retries ?? 1, 'retries');

  const decide = () =>
    chooseSource({
      clientCanSample:
        ((roundTrip && envelopeCapabilities(v2!)) ?? capabilitiesOf(server))?.sampling !== undefined,
      hasFallback: fallback !== undefined,
      prefer,
    });

  /** Runs `work` under the timeout and every abort signal; maps the ways it can end to `SamplingError`s. */
  async function bounded<T>(
    ms: number,
    signals: readonly (AbortSignal | undefined)[],
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timer = new AbortController();
    const handle = setTimeout(
      () => timer.abort(new SamplingError('timeout', `The model did not answer within ${ms} ms`)),
      ms,
    );
    const signal = AbortSignal.any([
      timer.signal,
      ...signals.filter((s): s is AbortSignal => s !== undefined),
    ]);
    // Also race the work: a fallback model that ignores its signal must not hold the tool past the timeout.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      // Already cancelled: do not start a request nobody will read.
      if (signal.aborted) await aborted;
      return await Promise.race([work(signal), aborted]);
    } catch (err) {
      if (timer.signal.aborted) throw timer.signal.reason;
      if (signal.aborted) {
        throw new SamplingError('aborted', 'Sampling was cancelled', { cause: signal.reason });
      }
      throw err;
    } finally {
      clearTimeout(handle);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  async function askClient(request: NormalizedRequest, signal: AbortSignal, ms: number): Promise<string> {
    const message = { method: 'sampling/createMessage' as const, params: createMessageParams(request) };
    // Our own timer decides; the SDK's (60 s by default) must not fire first.
    const options = { signal, timeout: ms + 1000 };
    const result = v2
      ? await v2.mcpReq.send(message, options)
      : await v1!.sendRequest(message as unknown as ServerRequest, SAMPLING_RESULT, options);
    const checked = textOfSamplingResult(result);
    if (!checked.ok) throw new SamplingError('invalid_output', checked.problem);
    return checked.text;
  }

  async function askFallback(model: FallbackModel, request: NormalizedRequest, signal: AbortSignal) {
    const text = await generateWith(model, {
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      maxTokens: request.maxTokens,
      signal,
      ...(request.system === undefined ? {} : { system: request.system }),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.stopSequences === undefined ? {} : { stopSequences: [...request.stopSequences] }),
      ...(request.modelPreferences === undefined ? {} : { modelPreferences: request.modelPreferences }),
    });
    if (text === undefined) {
      throw new SamplingError('invalid_output', 'The fallback model returned no text');
    }
    return text;
  }

  async function run(request: NormalizedRequest): Promise<string> {
    const decision = decide();
    if (!decision.ok) {
      throw new SamplingError(
        'unsupported',
        'This tool needs an LLM, but the client does not support sampling and the server has no fallback model',
      );
    }
    const signals = [callSignal, request.signal];
    if (decision.source === 'client' && roundTrip) {
      const step = roundTrip.answer(createMessageParams(request));
      if (step.kind === 'answer') return step.text;
      if (step.kind === 'ask') throw step.error;
      if (fallback === undefined) {
        throw new SamplingError('declined', `The client declined the sampling request: ${step.why}`);
      }
    } else if (decision.source === 'client') {
      try {
        return await bounded(request.timeoutMs, signals, (signal) =>
          askClient(request, signal, request.timeoutMs),
        );
      } catch (err) {
        // The client said no (or could not answer): that is what the fallback is for. Time and cancellation are not.
        if (SamplingError.is(err)) throw err;
        if (fallback === undefined) {
          // The SDK prefixes 'MCP error <code>: ' on each side of the wire; the client's own words are what matter.
          const why = (err instanceof Error ? err.message : String(err)).replace(/^(MCP error -?\d+: )+/, '');
          throw new SamplingError('declined', `The client declined the sampling request: ${why}`, {
            cause: err,
          });
        }
      }
    }
    return bounded(request.timeoutMs, signals, (signal) => askFallback(fallback!, request, signal));
  }

  function normalize(input: SampleRequest | string): NormalizedRequest {
    const request: SampleRequest = typeof input === 'string' ? { prompt: input } : (input ?? {});
    if ((request.prompt === undefined) === (request.messages === undefined)) {
      throw new TypeError('sample: give either prompt or messages');
    }
    const messages: ModelMessage[] =
      request.prompt !== undefined ? [{ role: 'user', content: request.prompt }] : [...request.messages!];
    if (messages.length === 0) throw new TypeError('sample: messages must not be empty');
    for (const m of messages) {
      if ((m.role !== 'user' && m.role !== 'assistant') || typeof m.content !== 'string') {
        throw new TypeError("sample: each message needs role 'user' or 'assistant' and string content");
      }
    }
    return {
      messages,
      maxTokens: positiveInteger(request.maxTokens ?? maxTokens, 'maxTokens'),
      timeoutMs: request.timeout === undefined ? timeoutMs : positiveDuration(request.timeout, 'timeout'),
      system: request.system,
      temperature: request.temperature,
      stopSequences: request.stopSequences,
      modelPreferences: request.modelPreferences,
      signal: request.signal,
    };
  }

  /** Asks, checks the answer, and on an unusable one shows the model its answer and the problem, `retries` times. */
  async function askUntilValid<T>(
    request: SampleRequest,
    attempts: number,
    check: (answer: string) => Promise<JsonDecision<T>> | JsonDecision<T>,
    describeFailure: (answer: string, problem: string) => string,
  ): Promise<T> {
    const messages: ModelMessage[] = [...(request.messages ?? [])];
    let last = { answer: '', problem: '' };
    for (let attempt = 0; attempt <= attempts; attempt++) {
      const answer = await run(normalize({ ...request, messages: [...messages] }));
      const decision = await check(answer);
      if (decision.ok) return decision.value;
      last = { answer, problem: decision.problem };
      messages.push(
        { role: 'assistant', content: answer },
        {
          role: 'user',
          content: `That answer cannot be used: ${decision.problem}. Answer again, correctly.`,
        },
      );
    }
    throw new SamplingError('invalid_output', describeFailure(last.answer, last.problem));
  }

  return {
    get source() {
      const decision = decide();
      return decision.ok ? decision.source : undefined;
    },
    canSample: () => decide().ok,
    sample: async (request) => run(normalize(request)),

    async classify(text, labels, opts = {}) {
      checkLabels(labels);
      const list = labels.map((l) => `- ${l}`).join('\n');
      const system = [
        opts.instructions,
        'You are a classifier. Answer with exactly one of these labels and nothing else ' +
          '(no explanation, no punctuation):',
        list,
      ]
        .filter((s) => s !== undefined && s !== '')
        .join('\n\n');
      const attempts = retriesOf(opts.retries ?? retries, 'retries');
      return askUntilValid(
        {
          messages: [{ role: 'user', content: text }],
          system,
          maxTokens: opts.maxTokens ?? 64,
          temperature: opts.temperature ?? 0,
          ...(opts.modelPreferences === undefined ? {} : { modelPreferences: opts.modelPreferences }),
          ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        },
        attempts,
        (answer) => {
          const d = parseLabel(answer, labels);
          return d.ok
            ? { ok: true, value: d.label }
            : { ok: false, problem: `${preview(answer)} is not one of: ${labels.join(', ')}` };
        },
        (answer) =>
          `The model did not answer with one of the labels (${labels.join(', ')}) after ${attempts + 1} ` +
          `tries; its last answer was ${preview(answer)}`,
      );
    },

    async sampleJson(prompt, schema, opts = {}) {
      if (typeof schema?.['~standard']?.validate !== 'function') {
        throw new TypeError('sampleJson: schema must be a Standard Schema (zod 4, Valibot, ArkType, ...)');
      }
      const system = [
        opts.instructions,
        'Answer with one JSON value and nothing else: no prose, no Markdown code fences.',
        jsonSchemaHint(schema),
      ]
        .filter((s) => s !== undefined && s !== '')
        .join('\n\n');
      const attempts = retriesOf(opts.retries ?? retries, 'retries');
      return askUntilValid<InferOutput<typeof schema>>(
        {
          messages: [{ role: 'user', content: prompt }],
          system,
          ...(opts.maxTokens === undefined ? {} : { maxTokens: opts.maxTokens }),
          ...(opts.temperature === undefined ? {} : { temperature: opts.temperature }),
          ...(opts.modelPreferences === undefined ? {} : { modelPreferences: opts.modelPreferences }),
          ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        },
        attempts,
        async (answer) => {
          const parsed = parseJsonAnswer(answer);
          return parsed.ok ? validateAnswer(schema, parsed.value) : parsed;
        },
        (_answer, problem) => `The model did not produce valid JSON after ${attempts + 1} tries: ${problem}`,
      );
    },
  };
}

/** The `sampling/createMessage` params for a request: the same on both SDK lines and in both eras. */
function createMessageParams(request: NormalizedRequest): Record<string, unknown> {
  return {
    messages: request.messages.map((m) => ({ role: m.role, content: { type: 'text', text: m.content } })),
    maxTokens: request.maxTokens,
    ...(request.system === undefined ? {} : { systemPrompt: request.system }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.stopSequences === undefined ? {} : { stopSequences: [...request.stopSequences] }),
    ...(request.modelPreferences === undefined ? {} : { modelPreferences: request.modelPreferences }),
  };
}

interface NormalizedRequest {
  messages: ModelMessage[];
  maxTokens: number;
  timeoutMs: number;
  system: string | undefined;
  temperature: number | undefined;
  stopSequences: readonly string[] | undefined;
  modelPreferences: ModelPreferences | undefined;
  signal: AbortSignal | undefined;
}

/** The schema's JSON Schema for the prompt, when it can give one (Standard JSON Schema); nothing otherwise. */
function jsonSchemaHint(schema: StandardSchemaV1): string | undefined {
  const convert = schema['~standard'].jsonSchema?.output;
  if (typeof convert !== 'function') return undefined;
  try {
    return `The value must match this JSON Schema:\n${JSON.stringify(convert({ target: 'draft-2020-12' }))}`;
  } catch {
    // Some schemas (transforms, say) have no JSON Schema; validation still applies.
    return undefined;
  }
}

/** `samplingContext`'s arguments as one object, for the one-call functions below. */
export interface SamplingTarget extends SamplingOptions {
  server: SamplingServer;
  extra: SamplingExtra;
}

function contextOf(target: SamplingTarget): SamplingContext {
  const { server, extra, ...options } = target;
  return samplingContext(server, extra, options);
}

/** True when `sample()` can reach a model: the client declared `sampling`, or there is a fallback. */
export function canSample(target: SamplingTarget): boolean {
  return contextOf(target).canSample();
}

/** One model answer, as text. See `SamplingContext.sample`. */
export function sample(target: SamplingTarget, request: SampleRequest | string): Promise<string> {
  return contextOf(target).sample(request);
}

/** Exactly one of `labels`. See `SamplingContext.classify`. */
export function classify<const L extends string>(
  target: SamplingTarget,
  text: string,
  labels: readonly L[],
  options?: ClassifyOptions,
): Promise<L> {
  return contextOf(target).classify(text, labels, options);
}

/** One JSON value that `schema` accepts. See `SamplingContext.sampleJson`. */
export function sampleJson<S extends StandardSchemaV1>(
  target: SamplingTarget,
  prompt: string,
  schema: S,
  options?: SampleJsonOptions,
): Promise<InferOutput<S>> {
  return contextOf(target).sampleJson(prompt, schema, options);
}
