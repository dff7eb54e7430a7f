/** What replaces a credential in logged text. */
export const REDACTED = '[Redacted]';

/** `Bearer …` and `Basic …` credentials inside free text, such as an error message that quotes a header. */
const CREDENTIAL_IN_TEXT = /\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi;

/** `password=…`, `"api_key": "…"`, `token: …` inside free text (a connection string, a quoted config). */
const ASSIGNED_SECRET_IN_TEXT =
  /\b((?:[\w-]*(?:passw(?:or)?d|secret|token|api[-_]?key|credential))["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi;

/** Both patterns need whitespace, `:` or `=` after their keyword: text with none of them holds nothing to scrub. */
const MAY_HOLD_SECRET = /[\s:=]/;

/** 2048 characters: enough for any message worth reading, and a bound on what one value costs a log line. */
export const MAX_LOGGED_TEXT = 2048;

/**
 * Text safe to log: credentials replaced (`Bearer …`, `Basic …`, `password=…`, `api_key: …`) and the length capped
 * at `max`. Every package's default error output goes through it, as `@mcp-middleware/logging-json` does.
 */
export function scrubSecrets(text: string, max = MAX_LOGGED_TEXT): string {
  const capped = text.length > max ? `${text.slice(0, max)}…[truncated]` : text;
  // Most logged values are ids and names: one cheap test instead of two scans.
  if (!MAY_HOLD_SECRET.test(capped)) return capped;
  return capped
    .replace(CREDENTIAL_IN_TEXT, `$1 ${REDACTED}`)
    .replace(ASSIGNED_SECRET_IN_TEXT, `$1${REDACTED}`);
}

/** An error's stack (or message), and its causes', scrubbed: what a default `onError` prints. */
export function describeError(error: unknown, depth = 0): string {
  if (!(error instanceof Error)) return scrubSecrets(String(error));
  let text = scrubSecrets(error.stack ?? `${error.name}: ${error.message}`, 8192);
  if (error.cause !== undefined && depth < 3) text += `\n  [cause] ${describeError(error.cause, depth + 1)}`;
  return text;
}
