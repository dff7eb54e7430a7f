import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ProgressToken, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

/** The part of a tool's `extra` (the SDK's `RequestHandlerExtra`) that progress needs. */
export type ProgressExtra = Pick<
  RequestHandlerExtra<ServerRequest, ServerNotification>,
  '_meta' | 'sendNotification'
>;

export interface ProgressOptions {
  /** The total work, when known up front; a report may override it. @default undefined (unknown) */
  total?: number;
}

export interface ProgressUpdate {
  /** The total work, when known. Overrides the reporter's `total` from here on. */
  total?: number;
  /** A short human-readable status, e.g. `'indexing page 3'`. */
  message?: string;
}

export interface ProgressReporter {
  /** True when the client sent a progress token, i.e. wants progress for this call; reports are no-ops otherwise. */
  readonly enabled: boolean;
  /** The last value sent (0 before the first). */
  readonly current: number;
  /**
   * Reports `progress` (absolute, e.g. items done). Resolves to true when a notification was sent; false when the
   * client did not ask for progress, the value does not increase (the protocol requires each report to grow), or
   * the notification could not be sent (progress is advisory and never fails the tool).
   */
  report(progress: number, update?: ProgressUpdate): Promise<boolean>;
  /** Reports `current + by`. */
  advance(by?: number, update?: ProgressUpdate): Promise<boolean>;
}

function checkNumber(value: number | undefined, name: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    throw new TypeError(`progressReporter: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

/**
 * Progress for a tool, from the SDK's `extra`: sends `notifications/progress` on the call's own stream, only
 * when the client asked for it with `_meta.progressToken`, with values that always increase.
 *
 * ```ts
 * server.registerTool('index', { inputSchema }, async (args, extra) => {
 *   const progress = progressReporter(extra, { total: pages.length });
 *   for (const page of pages) { await indexPage(page); await progress.advance(1, { message: page.title }); }
 * });
 * ```
 */
export function progressReporter(extra: ProgressExtra, options: ProgressOptions = {}): ProgressReporter {
  checkNumber(options.total, 'total');
  const token: ProgressToken | undefined = extra._meta?.progressToken;
  const enabled = token !== undefined;
  let total = options.total;
  let current = 0;
  // The spec asks only that progress increase: a first report of 0 ("started") is a real report.
  let reported = false;
  // Reports run one after another, so a client never sees them out of order even when a tool does not await.
  let chain: Promise<unknown> = Promise.resolve();

  const report = (progress: number, update: ProgressUpdate = {}): Promise<boolean> => {
    checkNumber(progress, 'progress');
    checkNumber(update.total, 'total');
    if (!enabled || (reported && progress <= current)) return Promise.resolve(false);
    reported = true;
    current = progress;
    if (update.total !== undefined) total = update.total;
    const params: { progressToken: ProgressToken; progress: number; total?: number; message?: string } = {
      progressToken: token,
      progress,
    };
    if (total !== undefined) params.total = total;
    if (update.message !== undefined) params.message = update.message;
    const sent = chain.then(() =>
      extra.sendNotification({ method: 'notifications/progress', params }).then(
        () => true,
        () => false,
      ),
    );
    chain = sent;
    return sent;
  };

  return {
    enabled,
    get current() {
      return current;
    },
    report,
    advance(by = 1, update) {
      checkNumber(by, 'by');
      return report(current + by, update);
    },
  };
}
