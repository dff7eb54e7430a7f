import type { ToolScopePolicy } from './scopes.js';

/**
 * RFC 6749 §3.3 `scope-token`: printable ASCII without space, `"` and `\`. API keys and OAuth tokens share one
 * scope syntax so one tool policy serves both, and every scope fits a `WWW-Authenticate` quoted string.
 */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** True for a string that is one RFC 6749 scope token. */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

const SYNTAX = 'printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)';

/**
 * Validates an option that lists scopes and returns a copy. Throws a `TypeError` starting with `label` (the
 * factory and option, e.g. `oauth: requiredScopes`) for anything but an array of scope tokens.
 */
export function scopeListOption(value: unknown, label: string): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${label} must be an array of scope strings`);
  for (const scope of value) {
    if (!isScopeToken(scope)) {
      throw new TypeError(`${label} has an invalid scope ${JSON.stringify(scope)}: scopes are ${SYNTAX}`);
    }
  }
  return [...value] as string[];
}

/**
 * Validates a per-tool scope policy (`{ tools: { name: [scopes] }, default: [scopes] }`) and returns a copy.
 * `label` names the option in the `TypeError`, e.g. `apiKeyAuth: toolScopes`.
 */
export function toolScopePolicyOption(value: unknown, label: string): ToolScopePolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${label} must be an object like { tools: { name: ["scope"] } }`);
  }
  const { tools, default: fallback } = value as ToolScopePolicy;
  const policy: { tools?: Record<string, string[]>; default?: string[] } = {};
  if (tools !== undefined) {
    if (typeof tools !== 'object' || tools === null || Array.isArray(tools)) {
      throw new TypeError(`${label}.tools must map tool names to arrays of scope strings`);
    }
    // A null prototype: a tool named `constructor` or `__proto__` is just a tool.
    const copy: Record<string, string[]> = Object.create(null);
    for (const [name, scopes] of Object.entries(tools)) {
      copy[name] = scopeListOption(scopes, `${label}.tools.${name}`);
    }
    policy.tools = copy;
  }
  if (fallback !== undefined) policy.default = scopeListOption(fallback, `${label}.default`);
  return policy;
}

/** Every scope a policy names, once each, in the order it names them. */
export function policyScopes(policy: ToolScopePolicy): string[] {
  return [...new Set([...Object.values(policy.tools ?? {}).flat(), ...(policy.default ?? [])])];
}
