/**
 * Sampling in protocol 2026-07-28 (SEP-2322): the server cannot send `sampling/createMessage` during a call. The
 * tool instead returns an `input_required` result naming the request; the client runs it and calls the tool again
 * with the answer in `inputResponses` and the server's `requestState` echoed back. So a tool that samples runs once
 * per answer: each run replays the answers it already has, in order, and stops at the first one it lacks.
 *
 * The answers travel in `requestState`. They came from the client's model in the first place, so a client that
 * edits them can do no more than it could by answering differently; each is tied to a hash of its request, so an
 * answer is only reused for the same request at the same position.
 */

/** The reserved `_meta` key of 2026-07-28 requests that carries the client's capabilities. */
export const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
/** The reserved `_meta` key that carries a 2026-07-28 request's protocol version. */
export const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
/** The first protocol revision where sampling goes through `input_required`. */
export const ROUND_TRIP_SINCE = '2026-07-28';

/** How many answers one call may collect: bounds the state the client echoes and the rounds of one call. */
export const MAX_ROUNDS = 16;
const MAX_STATE = 256 * 1024;
const STATE_VERSION = 1;
const KEY_PREFIX = 'mcp-middleware-sampling-';

/** The part of SDK v2's handler `ctx` the round trip needs. */
export interface RoundTripContext {
  readonly mcpReq: {
    readonly envelope?: Record<string, unknown>;
    readonly inputResponses?: Record<string, unknown>;
    requestState(): unknown;
  };
}

interface Answer {
  /** Hash of the request the answer is for. */
  readonly h: string;
  readonly text: string;
}

interface State {
  readonly v: number;
  readonly answers: readonly Answer[];
  /** The request the previous round asked for, awaiting its answer in `inputResponses`. */
  readonly pending?: string;
}

/** What a tool returns to ask the client for input (the 2026-07-28 `input_required` result). */
export interface InputRequiredResult {
  [key: string]: unknown;
  resultType: 'input_required';
  inputRequests: Record<string, { method: 'sampling/createMessage'; params: Record<string, unknown> }>;
  requestState: string;
}

const BRAND = Symbol.for('@mcp-middleware/sampling-helpers.SamplingInputRequired');

/**
 * Thrown by `sample()` (and `classify`, `sampleJson`) on a 2026-07-28 request when the client's answer is not in
 * yet. Not a failure: the tool returns `error.result`, which `withSampling(handler)` does for you.
 */
export class SamplingInputRequired extends Error {
  readonly result: InputRequiredResult;

  constructor(result: InputRequiredResult) {
    super('Sampling needs a round trip to the client: return this error’s result from the tool');
    this.name = 'SamplingInputRequired';
    this.result = result;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a `SamplingInputRequired`, across duplicate bundled copies of this package. */
  static is(value: unknown): value is SamplingInputRequired {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/**
 * Wraps a tool handler (SDK v1 or v2) so that a sampling round trip ends the run with the `input_required`
 * result instead of an error. Other errors pass through unchanged.
 *
 * ```ts
 * server.registerTool('triage', { inputSchema }, withSampling(async ({ text }, ctx) => {
 *   const label = await samplingContext(server, ctx, { fallback }).classify(text, ['bug', 'feature']);
 *   return { content: [{ type: 'text', text: label }] };
 * }));
 * ```
 */
export function withSampling<A extends unknown[], R>(
  handler: (...args: A) => R | Promise<R>,
): (...args: A) => Promise<R> {
  if (typeof handler !== 'function') throw new TypeError('withSampling: handler must be a function');
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      // Typed as the handler's own result so registerTool accepts it: SDK v2 takes input_required for tools/call,
      // and on SDK v1 (no 2026 requests) it never happens.
      if (SamplingInputRequired.is(error)) return error.result as unknown as R;
      throw error;
    }
  };
}

export function isRoundTripContext(value: unknown): value is RoundTripContext {
  const mcpReq = (value as { mcpReq?: { requestState?: unknown } } | null)?.mcpReq;
  return typeof mcpReq === 'object' && mcpReq !== null && typeof mcpReq.requestState === 'function';
}

/** FNV-1a over the request's JSON: tells requests apart, not a security measure. */
function hashOf(params: Record<string, unknown>): string {
  const text = JSON.stringify(params);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${hash.toString(36)}.${text.length.toString(36)}`;
}

function encode(state: State): string {
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

function decode(raw: unknown): State | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_STATE) return undefined;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<State>;
    if (value.v !== STATE_VERSION || !Array.isArray(value.answers) || value.answers.length > MAX_ROUNDS) {
      return undefined;
    }
    const answers = value.answers.filter(
      (a): a is Answer => typeof a?.h === 'string' && typeof a?.text === 'string',
    );
    if (answers.length !== value.answers.length) return undefined;
    return {
      v: STATE_VERSION,
      answers,
      ...(typeof value.pending === 'string' ? { pending: value.pending } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The text of a `sampling/createMessage` answer, checked by shape; an error message when it is not one. */
export function textOfSamplingResult(
  value: unknown,
): { ok: true; text: string } | { ok: false; problem: string } {
  const result = value as { role?: unknown; content?: unknown } | null;
  if (
    typeof result !== 'object' ||
    result === null ||
    typeof result.content !== 'object' ||
    result.content === null
  ) {
    return {
      ok: false,
      problem: 'The client answered the sampling request with something that is not a model answer',
    };
  }
  const blocks = Array.isArray(result.content) ? result.content : [result.content];
  const text = blocks.find(
    (b): b is { type: 'text'; text: string } => b?.type === 'text' && typeof b.text === 'string',
  );
  if (text === undefined) {
    const kind = (blocks[0] as { type?: unknown } | undefined)?.type;
    return {
      ok: false,
      problem: `The client's model answered with ${String(kind ?? 'no')} content instead of text`,
    };
  }
  return { ok: true, text: text.text };
}

/** A 2026-07-28 call's sampling rounds: which answers it has, and the result that asks for the next one. */
export class RoundTrip {
  private readonly answers: Answer[];
  private readonly fresh: { index: number; text: unknown } | undefined;
  private next = 0;

  constructor(ctx: RoundTripContext) {
    const state = decode(ctx.mcpReq.requestState());
    this.answers = [...(state?.answers ?? [])];
    const index = this.answers.length;
    const responses = ctx.mcpReq.inputResponses;
    // The answer to the previous round's request, if the client sent one.
    this.fresh =
      state?.pending !== undefined && responses !== undefined
        ? { index, text: responses[`${KEY_PREFIX}${index}`] }
        : undefined;
    this.pending = state?.pending;
  }

  private readonly pending: string | undefined;

  /**
   * The answer for the next request in this run: a replayed one, this round's fresh one, `declined` when the client
   * did not answer what it was asked, or a `SamplingInputRequired` to throw.
   */
  answer(
    params: Record<string, unknown>,
  ):
    | { kind: 'answer'; text: string }
    | { kind: 'declined'; why: string }
    | { kind: 'ask'; error: SamplingInputRequired } {
    const index = this.next++;
    const hash = hashOf(params);
    const known = this.answers[index];
    if (known !== undefined && known.h === hash) return { kind: 'answer', text: known.text };
    // A different request at this position (the tool is not deterministic): forget what came after.
    if (known !== undefined) this.answers.length = index;
    if (this.fresh !== undefined && this.fresh.index === index && this.pending === hash) {
      if (this.fresh.text === undefined) {
        return { kind: 'declined', why: 'the client sent no answer to the sampling request' };
      }
      const checked = textOfSamplingResult(this.fresh.text);
      if (!checked.ok) return { kind: 'declined', why: checked.problem };
      this.answers.push({ h: hash, text: checked.text });
      return { kind: 'answer', text: checked.text };
    }
    if (index >= MAX_ROUNDS) {
      return { kind: 'declined', why: `a tool call may sample at most ${MAX_ROUNDS} times on this protocol` };
    }
    const state: State = { v: STATE_VERSION, answers: this.answers.slice(0, index), pending: hash };
    return {
      kind: 'ask',
      error: new SamplingInputRequired({
        resultType: 'input_required',
        inputRequests: { [`${KEY_PREFIX}${index}`]: { method: 'sampling/createMessage', params } },
        requestState: encode(state),
      }),
    };
  }
}

/** Whether a v2 `ctx` is serving a 2026-07-28 request (from our call context, or the request's envelope). */
export function isRoundTripEra(ctx: RoundTripContext, protocolVersion: string | undefined): boolean {
  const version = protocolVersion ?? ctx.mcpReq.envelope?.[PROTOCOL_VERSION_KEY];
  return typeof version === 'string' && version >= ROUND_TRIP_SINCE;
}

/** The client's capabilities as a 2026-07-28 request states them. */
export function envelopeCapabilities(ctx: RoundTripContext): { sampling?: unknown } | undefined {
  const caps = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_KEY];
  return typeof caps === 'object' && caps !== null ? (caps as { sampling?: unknown }) : undefined;
}
