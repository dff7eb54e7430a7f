import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import { toolScopePolicyOption } from './scope-syntax.js';
import type { AuthInfo, Middleware, RpcCall } from './types.js';

/**
 * Which scopes each tool needs. A tool not listed needs `default` (none unless set). Every listed scope is
 * required (all of them, not any).
 */
export interface ToolScopePolicy {
  /** Scopes per tool name. */
  tools?: Readonly<Record<string, readonly string[]>>;
  /** Scopes for tools not listed in `tools`. @default [] */
  default?: readonly string[];
}

export type ScopeDecision =
  | { ok: true }
  | { ok: false; required: readonly string[]; missing: readonly string[] };

/** The scopes a tool needs under a policy. */
export function requiredScopes(policy: ToolScopePolicy, toolName: string): readonly string[] {
  return (
    (policy.tools && Object.hasOwn(policy.tools, toolName) ? policy.tools[toolName] : policy.default) ?? []
  );
}

/**
 * Decides whether `authInfo` may call `toolName`. Pure, so each auth package answers a refusal in its own way
 * (an RPC error for API keys, HTTP 403 with a step-up challenge for OAuth).
 */
export function checkToolScopes(
  policy: ToolScopePolicy,
  authInfo: AuthInfo | undefined,
  toolName: string,
): ScopeDecision {
  const required = requiredScopes(policy, toolName);
  if (required.length === 0) return { ok: true };
  const granted = new Set(authInfo?.scopes ?? []);
  const missing = required.filter((s) => !granted.has(s));
  return missing.length === 0 ? { ok: true } : { ok: false, required, missing };
}

/** The RPC error code for a call the caller's scopes do not allow. */
export const INSUFFICIENT_SCOPE_CODE = -32003;

/**
 * Per-tool scopes on the RPC layer: `tools/list` shows only the tools the caller may call, and `tools/call`
 * of any other tool is refused with error -32003 naming the missing scopes. Works with any auth middleware that
 * sets `AuthInfo.scopes` (API keys, OAuth, your own). Throws a `TypeError` for a policy whose scopes are not
 * RFC 6749 scope tokens (they could never be granted).
 */
export function toolScopes(toolPolicy: ToolScopePolicy): Middleware {
  const policy = toolScopePolicyOption(toolPolicy, 'toolScopes: policy');
  return {
    name: 'tool-scopes',
    async rpc(call: RpcCall, next) {
      if (call.method === 'tools/call' && call.toolName !== undefined) {
        const decision = checkToolScopes(policy, call.authInfo, call.toolName);
        if (!decision.ok) {
          return {
            error: {
              code: INSUFFICIENT_SCOPE_CODE,
              message: `Forbidden: tool '${call.toolName}' requires scope ${decision.missing.join(' ')}`,
              data: { required: decision.required, missing: decision.missing },
            },
          };
        }
        return next();
      }
      if (call.method !== 'tools/list') return next();
      const answer = await next();
      if (!answer.result) return answer;
      const result = answer.result as ListToolsResult;
      if (!Array.isArray(result.tools)) return answer;
      return {
        result: {
          ...result,
          tools: result.tools.filter((t) => checkToolScopes(policy, call.authInfo, t.name).ok),
        },
      };
    },
  };
}
