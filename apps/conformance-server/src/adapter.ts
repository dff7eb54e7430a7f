/**
 * What the SDK adapters (`sdk-v1.ts`, `sdk-v2.ts`) share: the parts of a call context and of registration that do
 * not depend on the SDK line.
 */
import type { CallContext } from './definition.js';

type ProgressToken = string | number;
type Notify = (notification: {
  method: 'notifications/progress';
  params: { progressToken: ProgressToken; progress: number; total?: number };
}) => Promise<void>;

/** `CallContext.progress` for a call: sends only when the client asked for progress with a token. */
export function progressSender(
  progressToken: ProgressToken | undefined,
  notify: Notify,
): CallContext['progress'] {
  return async (progress, total) => {
    if (progressToken === undefined) return;
    await notify({
      method: 'notifications/progress',
      params: { progressToken, progress, ...(total === undefined ? {} : { total }) },
    });
  };
}

/** URI template variables as single strings (a list variable joined by commas). */
export function flatVariables(variables: Record<string, unknown>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables))
    flat[key] = Array.isArray(value) ? value.join(',') : String(value);
  return flat;
}
