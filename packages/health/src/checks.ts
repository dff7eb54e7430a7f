import type { Duration } from '@mcp-middleware/core';

/** The three states of draft-inadarei-api-health-check: healthy, healthy with concerns, unhealthy. */
export type HealthStatus = 'pass' | 'warn' | 'fail';

/** What a check may return. Returning nothing means `pass`; throwing means `fail` with the error's message. */
export interface CheckOutcome {
  /** @default 'pass' */
  status?: HealthStatus;
  /** A short human-readable note, shown as `output`. Never put secrets here: probes are unauthenticated. */
  output?: string;
  /** A measurement to report instead of the check's response time (e.g. a queue depth). */
  observedValue?: unknown;
  /** The unit of `observedValue`, e.g. `'items'`. */
  observedUnit?: string;
}

/** One dependency the server needs to be ready: a database, a cache, an authorization server. */
export interface HealthCheck {
  /** The key of this check in the report's `checks` map, e.g. `'redis'` or `'redis:ping'`. Unique per `health()`. */
  readonly name: string;
  /**
   * Runs the check. `signal` aborts when the check's timeout passes (or `health` closes): pass it on to `fetch`
   * and clients that accept one.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: so `async () => { await db.ping(); }` is a check as written.
  check(signal: AbortSignal): CheckOutcome | void | Promise<CheckOutcome | void>;
  /** How long the check may take before it counts as failed. @default the `timeout` given to `health()` */
  readonly timeout?: Duration;
  /** When false, a failure turns the report into `warn` (still 200) instead of `fail` (503). @default true */
  readonly critical?: boolean;
  /** `componentType` in the report, e.g. `'datastore'`, `'system'`. @default undefined */
  readonly componentType?: string;
}

/** One entry of the report's `checks` map (draft-inadarei-api-health-check §4). */
export interface CheckResult {
  componentType?: string;
  status: HealthStatus;
  /** When the check ran, ISO 8601. */
  time: string;
  observedValue?: unknown;
  observedUnit?: string;
  output?: string;
}

/** Longest `output` a check's error message may put in a report. */
const MAX_OUTPUT = 200;

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > MAX_OUTPUT ? `${message.slice(0, MAX_OUTPUT - 1)}…` : message;
}

const STATUSES: ReadonlySet<unknown> = new Set(['pass', 'warn', 'fail']);

function toOutcome(returned: unknown): CheckOutcome {
  if (returned === undefined || returned === null) return { status: 'pass' };
  if (typeof returned !== 'object') {
    return { status: 'fail', output: 'check returned something other than an outcome object' };
  }
  const value = returned as CheckOutcome;
  // A check that returns something else is a bug in the check; count it as failing rather than guess.
  if (value.status !== undefined && !STATUSES.has(value.status)) {
    return { status: 'fail', output: `check returned an invalid status ${JSON.stringify(value.status)}` };
  }
  return value;
}

/**
 * Runs one check with its timeout and caches the result for `ttlMs`, so a burst of probes (or several
 * orchestrators probing at once) costs one call to the dependency. Concurrent callers share one run, and a check
 * that ignores its signal is never invoked again while its previous call is still pending: at most one call per
 * check is ever outstanding.
 */
export class CheckRunner {
  readonly critical: boolean;
  private cached: { result: CheckResult; at: number } | undefined;
  private running: Promise<CheckResult> | undefined;
  /** The check's own promise, until it settles; mapped so it never rejects. */
  private attempt: Promise<CheckOutcome> | undefined;
  private controller: AbortController | undefined;

  constructor(
    readonly check: HealthCheck,
    private readonly timeoutMs: number,
    private readonly ttlMs: number,
  ) {
    this.critical = check.critical !== false;
  }

  get name(): string {
    return this.check.name;
  }

  /** The latest result, run now unless a fresh one is cached. Never rejects. */
  result(): Promise<CheckResult> {
    const cached = this.cached;
    if (cached && performance.now() - cached.at < this.ttlMs) return Promise.resolve(cached.result);
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** Aborts the check's pending call, if any (on close). */
  abort(): void {
    this.controller?.abort(new Error('health closed'));
  }

  private invoke(): Promise<CheckOutcome> {
    const controller = new AbortController();
    this.controller = controller;
    const attempt = (async () => toOutcome(await this.check.check(controller.signal)))()
      .then(
        (outcome) => outcome,
        (error: unknown): CheckOutcome => ({ status: 'fail', output: errorMessage(error) }),
      )
      .finally(() => {
        if (this.attempt === attempt) this.attempt = undefined;
        if (this.controller === controller) this.controller = undefined;
      });
    return attempt;
  }

  private async run(): Promise<CheckResult> {
    const time = new Date().toISOString();
    const started = performance.now();
    this.attempt ??= this.invoke();
    const controller = this.controller;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckOutcome>((resolve) => {
      timer = setTimeout(() => {
        resolve({ status: 'fail', output: `timed out after ${this.timeoutMs} ms` });
        controller?.abort(new Error(`health check '${this.name}' timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref?.();
    });
    let outcome: CheckOutcome;
    try {
      outcome = await Promise.race([this.attempt, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    const elapsed = Math.round((performance.now() - started) * 10) / 10;
    const result: CheckResult = {
      ...(this.check.componentType === undefined ? {} : { componentType: this.check.componentType }),
      status: outcome.status ?? 'pass',
      time,
      observedValue: outcome.observedValue ?? elapsed,
      observedUnit: outcome.observedValue === undefined ? 'ms' : (outcome.observedUnit ?? ''),
      ...(outcome.output === undefined ? {} : { output: outcome.output }),
    };
    if (result.observedUnit === '') delete result.observedUnit;
    this.cached = { result, at: performance.now() };
    return result;
  }
}
