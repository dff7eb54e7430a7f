// Shared by logging-json and tracing-otel, so logs and spans hide the same things.
import { REDACTED, scrubSecrets } from './scrub.js';

/** What replaces a redacted value. */
export { REDACTED };

/**
 * Keys whose values are credentials wherever they appear: headers (`authorization`, `cookie`, `x-api-key`) and any
 * key naming a token, secret, password or API key (`accessToken`, `client_secret`, `apiKey`, ...).
 */
const SENSITIVE_KEY =
  /^(?:authorization|proxy-authorization|cookie|set-cookie)$|token|secret|passw(?:or)?d|api[-_]?key|credential|private[-_]?key/i;

/** Bounds on what one logged value may cost: nesting, entries per object or array, characters per string. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 100;
/** Identifiers on a line (method, tool name, ids, path) are shorter by nature. */
export const MAX_FIELD = 256;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

/** Replaces credentials in a string (`Bearer …`, `Basic …`, `password=…`), and caps its length (core's rule). */
export const scrubText: (text: string, max?: number) => string = scrubSecrets;

/** An identifier for a log line: strings scrubbed and capped at `MAX_FIELD`, numbers as they are. */
export function field<T>(value: T): T | string {
  return typeof value === 'string' ? scrubText(value, MAX_FIELD) : value;
}

/** A compiled redaction path: dot-separated keys, where `*` matches any key or array index. */
export type RedactPath = readonly string[];

/**
 * Compiles user paths such as `'card.number'` or `'users.*.ssn'`. Throws a `TypeError` naming `optionName` for
 * anything that is not a non-empty dot path.
 */
export function compileRedactPaths(paths: unknown, optionName: string): readonly RedactPath[] {
  if (!Array.isArray(paths)) {
    throw new TypeError(
      `${optionName} must be an array of dot paths such as 'card.number', got ${typeof paths}`,
    );
  }
  return paths.map((path: unknown) => {
    if (typeof path !== 'string' || !/^[^.\s]+(?:\.[^.\s]+)*$/.test(path)) {
      throw new TypeError(
        `${optionName} entries must be dot paths such as 'card.number' or 'users.*.ssn', got ${JSON.stringify(path)}`,
      );
    }
    return path.split('.');
  });
}

/**
 * A copy of `value` safe to log: values under sensitive keys and under `paths` become `[Redacted]`, credentials in
 * strings are scrubbed, and depth, breadth and string length are bounded (so cycles end too). Never mutates `value`.
 */
export function redact(value: unknown, paths: readonly RedactPath[] = []): unknown {
  return walk(value, paths, 0);
}

function walk(value: unknown, paths: readonly RedactPath[], depth: number): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Error) return walk(errorFields(value), paths, depth);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    const n = Math.min(value.length, MAX_ENTRIES);
    for (let i = 0; i < n; i++) {
      const rest = descend(paths, String(i));
      out.push(rest === true ? REDACTED : walk(value[i], rest, depth + 1));
    }
    if (value.length > n) out.push(`[${value.length - n} more]`);
    return out;
  }
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const key of Object.keys(value)) {
    if (count++ === MAX_ENTRIES) {
      out['…'] = '[more keys]';
      break;
    }
    const rest = descend(paths, key);
    out[key] =
      rest === true || isSensitiveKey(key)
        ? REDACTED
        : walk((value as Record<string, unknown>)[key], rest, depth + 1);
  }
  return out;
}

/** What is logged of an error: its type, message, stack, code and cause, each then redacted like anything else. */
function errorFields(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: error.message };
  if (error.stack !== undefined) out['stack'] = error.stack;
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out['code'] = code;
  if (error.cause !== undefined) out['cause'] = error.cause;
  return out;
}

/** The paths that continue below `key`, or `true` when one of them ends at `key` (redact it whole). */
function descend(paths: readonly RedactPath[], key: string): readonly RedactPath[] | true {
  if (paths.length === 0) return paths;
  const rest: RedactPath[] = [];
  for (const path of paths) {
    const head = path[0];
    if (head !== '*' && head !== key) continue;
    if (path.length === 1) return true;
    rest.push(path.slice(1));
  }
  return rest;
}
