import {
  RpcErrorCode as ErrorCode,
  MiddlewareError,
  type RpcErrorObject,
  type RpcResult,
} from '@mcp-middleware/core';
import { ToolError } from './tool-error.js';

/** What a thrown value means for the client. */
export type ErrorClass =
  | { kind: 'tool'; message: string }
  | { kind: 'protocol'; error: RpcErrorObject }
  | { kind: 'unexpected' };

/** How a wrapped tool handler ended, as the middleware learns it. */
export type ToolOutcome =
  | { kind: 'returned' }
  | { kind: 'tool' }
  | { kind: 'protocol'; error: RpcErrorObject }
  | { kind: 'masked'; errorId: string }
  | { kind: 'cancelled' };

/** What to do with the server's answer: let it through, replace it with a JSON-RPC error, or mask it. */
export type AnswerDecision =
  | { ok: true }
  | { ok: false; action: 'error'; error: RpcErrorObject }
  | { ok: false; action: 'mask'; reason: string };

/** The SDK's `McpError` puts this in front of every message; on the wire the code says it already. */
const MCP_ERROR_TEXT = /^MCP error (-?\d+): ([\s\S]*)$/;

function isMcpError(value: unknown): value is Error & { code: number; data?: unknown } {
  // Duck-typed, so a second copy of the SDK in node_modules is recognised too.
  return (
    value instanceof Error &&
    value.name === 'McpError' &&
    Number.isSafeInteger((value as { code?: unknown }).code)
  );
}

function withoutPrefix(message: string, code: number): string {
  const prefix = `MCP error ${code}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** Sorts a thrown value into the three channels: tool error, protocol error, or unexpected (masked). */
export function classifyError(error: unknown): ErrorClass {
  if (ToolError.is(error)) return { kind: 'tool', message: error.message };
  if (MiddlewareError.is(error)) {
    const data = error.data;
    return {
      kind: 'protocol',
      error: { code: error.rpcCode, message: error.message, ...(data === undefined ? {} : { data }) },
    };
  }
  if (isMcpError(error)) {
    const data = error.data;
    return {
      kind: 'protocol',
      error: {
        code: error.code,
        message: withoutPrefix(error.message, error.code),
        ...(data === undefined ? {} : { data }),
      },
    };
  }
  return { kind: 'unexpected' };
}

/** The text of an `isError` result the SDK made from an exception: one text item, nothing else. */
function soleText(result: Record<string, unknown>): string | undefined {
  const content = result['content'];
  if (!Array.isArray(content) || content.length !== 1) return undefined;
  const item = content[0] as { type?: unknown; text?: unknown } | undefined;
  return item?.type === 'text' && typeof item.text === 'string' ? item.text : undefined;
}

/**
 * Decides what the client gets for a `tools/call`, from the server's answer and how the wrapped handler ended
 * (`undefined`: the handler never ran under `tool()`: an unknown tool, rejected arguments, or an unwrapped tool).
 *
 * `McpServer` turns every exception into an `isError` result holding the raw message; this puts each back on
 * its channel.
 */
export function decideToolAnswer(
  answer: RpcResult,
  outcome: ToolOutcome | undefined,
  maskUnwrapped: boolean,
): AnswerDecision {
  if (answer.error !== undefined) return decideAnswer(answer);
  const result = answer.result as Record<string, unknown>;
  if (result['isError'] !== true) return { ok: true };
  switch (outcome?.kind) {
    case 'protocol':
      return { ok: false, action: 'error', error: outcome.error };
    case 'tool':
    case 'masked':
    case 'cancelled':
      return { ok: true };
  }
  const text = soleText(result);
  const sdkError = text === undefined ? null : MCP_ERROR_TEXT.exec(text);
  if (sdkError) {
    const message = sdkError[2]!;
    // Output validation fails after the tool returned: the server is at fault, not the caller.
    if (outcome?.kind === 'returned' || message.startsWith('Output validation error')) {
      return { ok: false, action: 'mask', reason: text! };
    }
    return { ok: false, action: 'error', error: { code: Number(sdkError[1]), message } };
  }
  if (outcome?.kind === 'returned') return { ok: true }; // the tool chose to return isError
  // An unwrapped tool: its text may be a raw exception message.
  return maskUnwrapped ? { ok: false, action: 'mask', reason: text ?? 'isError result' } : { ok: true };
}

/** Any other request: only an internal error needs masking (the SDK sends the raw exception message). */
export function decideAnswer(answer: RpcResult): AnswerDecision {
  if (answer.error?.code === ErrorCode.InternalError) {
    const invalid = invalidParamsMessage(answer.error.message);
    if (invalid !== undefined) {
      return { ok: false, action: 'error', error: { code: ErrorCode.InvalidParams, message: invalid } };
    }
    return { ok: false, action: 'mask', reason: answer.error.message };
  }
  return { ok: true };
}

interface SchemaIssue {
  path: unknown[];
  message: string;
}

function isParamsIssue(value: unknown): value is SchemaIssue {
  const issue = value as Partial<SchemaIssue> | null;
  return (
    typeof issue === 'object' &&
    issue !== null &&
    Array.isArray(issue.path) &&
    issue.path[0] === 'params' &&
    typeof issue.message === 'string'
  );
}

/**
 * The SDK validates a request against its method's schema before any handler runs, and answers a failure as an
 * internal error whose message is the schema issues as JSON (`params.name` a number, `arguments` an array). That
 * is the caller's mistake: say so with -32602 and where, instead of masking it as a server fault.
 */
export function invalidParamsMessage(message: string): string | undefined {
  if (!message.startsWith('[')) return undefined;
  let issues: unknown;
  try {
    issues = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(issues) || issues.length === 0 || !issues.every(isParamsIssue)) return undefined;
  const where = issues
    .slice(0, 3)
    .map((i) => `${i.path.slice(1).join('.').slice(0, 64)}: ${i.message.slice(0, 128)}`)
    .join('; ');
  return `Invalid params: ${where}`;
}

/** `1500` → `'1.5 seconds'`, `250` → `'250 ms'`: how people say a duration. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 100) / 10;
  return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
}
