import { isScopeToken } from '@mcp-middleware/core';
import type { BearerErrorCode } from './errors.js';

export interface ChallengeParams {
  error?: BearerErrorCode;
  /** Scopes the client should ask for; omitted when empty. */
  scope?: readonly string[];
  /** The RFC 9728 metadata URL, so the client finds the authorization server. */
  resourceMetadata: string;
  /** Fixed, human-readable text (never anything taken from the request). */
  description?: string;
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Builds a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1). `error` comes first and
 * `error_description` last, and descriptions carry no `=`, so simple regex parsers (the SDK's among them)
 * read the right values.
 */
export function formatChallenge(params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  const scope = params.scope?.filter(isScopeToken) ?? [];
  if (scope.length > 0) parts.push(`scope=${quote(scope.join(' '))}`);
  parts.push(`resource_metadata=${quote(params.resourceMetadata)}`);
  if (params.description) parts.push(`error_description=${quote(params.description.replace(/=/g, ' '))}`);
  return `Bearer ${parts.join(', ')}`;
}
