import { type Duration, type HandlerHost, type Middleware, type Route, toMs } from '@mcp-middleware/core';
import { CheckRunner, type HealthCheck } from './checks.js';
import {
  decideReadiness,
  describeNotReady,
  type HealthReport,
  healthResponse,
  type ReadinessDecision,
} from './report.js';

export interface HealthPaths {
  /** Liveness: the process is up. Never runs checks. @default '/livez' */
  live?: string;
  /** Readiness: runs the checks. @default '/readyz' */
  ready?: string;
  /** An alias of `ready`; `false` serves none. @default '/health' */
  health?: string | false;
}

export interface HealthOptions {
  /** Dependencies the server needs to take traffic, run by the readiness probes. @default [] */
  checks?: readonly HealthCheck[];
  /**
   * Checks that must pass once before the server is ready (migrations applied, caches warmed). Readiness answers
   * 503 until each has passed; after that they are not run again. @default []
   */
  startupChecks?: readonly HealthCheck[];
  /** How long a check may take before it counts as failed, unless the check sets its own. @default '1s' */
  timeout?: Duration;
  /** How long a check's result is reused, so frequent probes do not hammer dependencies. `0` disables. @default '1s' */
  cacheTtl?: Duration;
  /** Where the probes are served. @default { live: '/livez', ready: '/readyz', health: '/health' } */
  paths?: HealthPaths;
  /** Include each check's result (`checks`) in readiness reports; false answers with the overall status only. @default true */
  details?: boolean;
  /** `version` in reports: the public version of the service, e.g. `'1'`. @default undefined */
  version?: string;
  /** `releaseId` in reports, e.g. a git SHA or package version. @default undefined */
  releaseId?: string;
  /** `serviceId` in reports. @default undefined */
  serviceId?: string;
  /** `description` in reports. @default undefined */
  description?: string;
  /**
   * Signals that start a graceful drain, handled once `health` is attached to a handler. `false` (or `[]`) leaves
   * signals alone; call `drain()` yourself. @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly NodeJS.Signals[] | false;
  /** How long in-flight MCP calls may take to finish once the drain begins refusing requests. @default '10s' */
  drainTimeout?: Duration;
  /**
   * How long to keep serving after readiness starts failing, before refusing new requests: time for a load
   * balancer to notice the failing probe and stop routing here. @default 0
   */
  drainDelay?: Duration;
  /**
   * After a drain started by a signal, end the process (`process.exit()`), since handling the signal replaced
   * Node's default of exiting. A second signal during the drain gets Node's default (exit at once). @default true
   */
  exitAfterDrain?: boolean;
}

export interface DrainOptions {
  /** @default the `drainTimeout` given to `health()` */
  drainTimeout?: Duration;
}

/** What `health()` returns: a middleware that serves the probes, plus the drain and the readiness report. */
export interface HealthMiddleware extends Middleware {
  readonly name: 'health';
  readonly routes: readonly Route[];
  /** True once a drain began (here, or the handler's own `close()`). */
  readonly draining: boolean;
  /**
   * Readiness fails at once; after `drainDelay`, the handler refuses new MCP requests, waits for in-flight calls
   * (up to `drainTimeout`), closes sessions and every middleware in reverse order. Settles when the handler closed.
   * Idempotent. Without a handler attached, only readiness fails.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** The readiness report `/readyz` would answer with now (including cached check results). */
  readiness(): Promise<HealthReport>;
  /** Stops handling signals and aborts checks still running. The handler calls it when it closes. */
  close(): Promise<void>;
}

const NAME = /^\S(?:.{0,126}\S)?$/;

function validatePath(value: unknown, option: string): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new TypeError(`health: ${option} must be a path starting with '/', got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalString(value: unknown, option: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new TypeError(`health: ${option} must be a string, got ${typeof value}`);
  }
  return value;
}

function validateChecks(value: unknown, option: string): readonly HealthCheck[] {
  if (!Array.isArray(value)) throw new TypeError(`health: ${option} must be an array of checks`);
  value.forEach((c: Partial<HealthCheck> | null, i) => {
    if (typeof c !== 'object' || c === null) throw new TypeError(`health: ${option}[${i}] must be a check`);
    if (typeof c.name !== 'string' || !NAME.test(c.name)) {
      throw new TypeError(
        `health: ${option}[${i}].name must be 1 to 128 characters without surrounding spaces, got ${JSON.stringify(c.name)}`,
      );
    }
    if (typeof c.check !== 'function')
      throw new TypeError(`health: ${option}[${i}].check must be a function`);
  });
  return value as readonly HealthCheck[];
}

/**
 * Liveness and readiness probes in `application/health+json`, startup gating, and a graceful drain on SIGTERM.
 * The probes are unprotected routes, so auth and rate limits skip them.
 */
export function health(options: HealthOptions = {}): HealthMiddleware {
  const checks = validateChecks(options.checks ?? [], 'checks');
  const startupChecks = validateChecks(options.startupChecks ?? [], 'startupChecks');
  const timeoutMs = toMs(options.timeout ?? '1s', 'health: timeout');
  const cacheTtlMs = toMs(options.cacheTtl ?? '1s', 'health: cacheTtl');
  const drainTimeout = options.drainTimeout ?? '10s';
  toMs(drainTimeout, 'health: drainTimeout');
  const drainDelayMs = toMs(options.drainDelay ?? 0, 'health: drainDelay');
  const livePath = validatePath(options.paths?.live ?? '/livez', 'paths.live');
  const readyPath = validatePath(options.paths?.ready ?? '/readyz', 'paths.ready');
  const aliasPath =
    options.paths?.health === false
      ? undefined
      : validatePath(options.paths?.health ?? '/health', 'paths.health');
  const details = options.details ?? true;
  const exitAfterDrain = options.exitAfterDrain ?? true;
  const signals = options.signals === false ? [] : (options.signals ?? ['SIGTERM', 'SIGINT']);
  if (!Array.isArray(signals) || signals.some((s) => typeof s !== 'string' || !s.startsWith('SIG'))) {
    throw new TypeError(`health: signals must be false or an array of signal names such as 'SIGTERM'`);
  }
  const identity = {
    version: optionalString(options.version, 'version'),
    releaseId: optionalString(options.releaseId, 'releaseId'),
    serviceId: optionalString(options.serviceId, 'serviceId'),
    description: optionalString(options.description, 'description'),
  };

  const paths = [livePath, readyPath, ...(aliasPath ? [aliasPath] : [])];
  if (new Set(paths).size !== paths.length)
    throw new TypeError(`health: paths must differ, got ${paths.join(', ')}`);
  const names = [...checks, ...startupChecks].map((c) => c.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new TypeError(`health: two checks are named '${duplicate}'`);

  const runner = (c: HealthCheck, option: string) =>
    new CheckRunner(
      c,
      c.timeout === undefined ? timeoutMs : toMs(c.timeout, `health: ${option}.timeout`),
      cacheTtlMs,
    );
  const runners = checks.map((c, i) => runner(c, `checks[${i}]`));
  // Startup checks leave this list as they pass: passed once is passed for good.
  let pendingStartup = startupChecks.map((c, i) => runner(c, `startupChecks[${i}]`));

  let host: HandlerHost | undefined;
  let drainStarted = false;
  let draining: Promise<void> | undefined;
  let listening = false;
  const isDraining = () => drainStarted || host?.draining === true;

  const baseReport = (status: HealthReport['status']): HealthReport => {
    const report: HealthReport = { status };
    for (const [key, value] of Object.entries(identity)) {
      if (value !== undefined) report[key as keyof typeof identity] = value;
    }
    return report;
  };

  async function readiness(): Promise<HealthReport> {
    if (isDraining()) return { ...baseReport('fail'), output: 'draining' };
    const startup = pendingStartup;
    const [startupResults, checkResults] = await Promise.all([
      Promise.all(startup.map((r) => r.result())),
      Promise.all(runners.map((r) => r.result())),
    ]);
    const passed = new Set(startup.filter((_, i) => startupResults[i]!.status === 'pass'));
    if (passed.size > 0) pendingStartup = pendingStartup.filter((r) => !passed.has(r));
    const decision: ReadinessDecision = decideReadiness({
      draining: isDraining(),
      startup: startup.map((r, i) => ({ name: r.name, status: startupResults[i]!.status })),
      checks: runners.map((r, i) => ({
        name: r.name,
        status: checkResults[i]!.status,
        critical: r.critical,
      })),
    });
    const report = baseReport(decision.status);
    if (!decision.ok) report.output = describeNotReady(decision);
    if (details && (startup.length > 0 || runners.length > 0)) {
      const map: Record<string, typeof checkResults> = {};
      startup.forEach((r, i) => {
        map[r.name] = [startupResults[i]!];
      });
      runners.forEach((r, i) => {
        map[r.name] = [checkResults[i]!];
      });
      report.checks = map;
    }
    return report;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    // Once: a second signal gets Node's default (or the app's own handler), which is how an operator forces it.
    removeSignalListeners();
    void drain().then(
      () => {
        if (exitAfterDrain) process.exit();
      },
      (error: unknown) => {
        console.error(`[mcp-middleware/health] drain after ${signal} failed:`, error);
        if (exitAfterDrain) process.exit(1);
      },
    );
  };

  function removeSignalListeners(): void {
    if (!listening) return;
    listening = false;
    for (const s of signals) process.off(s, onSignal);
  }

  function drain(drainOptions: DrainOptions = {}): Promise<void> {
    if (draining) return draining;
    const timeout = drainOptions.drainTimeout ?? drainTimeout;
    toMs(timeout, 'drain: drainTimeout');
    drainStarted = true;
    draining = (async () => {
      if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      await host?.close({ drainTimeout: timeout });
    })();
    return draining;
  }

  const probe =
    (answer: () => Promise<HealthReport> | HealthReport) =>
    async (req: Request): Promise<Response> =>
      healthResponse(await answer(), req.method);

  const serveReady = probe(readiness);
  const routes: Route[] = [
    // Liveness says only that the process answers: restarting it for a dependency's outage would not help.
    { path: livePath, handle: probe(() => baseReport('pass')) },
    { path: readyPath, handle: serveReady },
    ...(aliasPath ? [{ path: aliasPath, handle: serveReady }] : []),
  ];

  return {
    name: 'health',
    routes,
    get draining() {
      return isDraining();
    },
    attach(h) {
      if (host && host !== h)
        throw new TypeError('health: one health() serves one handler; create another for this one');
      host = h;
      if (!listening && signals.length > 0) {
        listening = true;
        for (const s of signals) process.on(s, onSignal);
      }
    },
    drain,
    readiness,
    async close() {
      removeSignalListeners();
      for (const r of [...runners, ...pendingStartup]) r.abort();
    },
  };
}
