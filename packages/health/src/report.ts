import type { CheckResult, HealthStatus } from './checks.js';

/** The media type of draft-inadarei-api-health-check. */
export const HEALTH_MEDIA_TYPE = 'application/health+json';

/** A response body in `application/health+json`. */
export interface HealthReport {
  status: HealthStatus;
  version?: string;
  releaseId?: string;
  serviceId?: string;
  description?: string;
  /** Why the service is not ready: `'draining'`, `'starting'`, or `'failing checks: …'`. */
  output?: string;
  checks?: Record<string, CheckResult[]>;
}

/** Why readiness fails. */
export type NotReadyReason = 'draining' | 'starting' | 'failing';

export type ReadinessDecision =
  | { ok: true; status: 'pass' | 'warn' }
  | { ok: false; status: 'fail'; reason: NotReadyReason; failing: string[] };

export interface ReadinessInput {
  /** A drain began (a signal, `drain()`, or the handler's own `close()`). */
  draining: boolean;
  /** Startup checks not yet passed, with their latest status. Empty once all have passed. */
  startup: ReadonlyArray<{ name: string; status: HealthStatus }>;
  /** The regular checks' latest status. */
  checks: ReadonlyArray<{ name: string; status: HealthStatus; critical: boolean }>;
}

/**
 * Whether the server is ready, decided from state alone. Draining wins over everything (the load balancer must
 * stop sending at once); then startup gating; then a failing critical check. A failing non-critical check, or any
 * check that warns, makes the answer `warn`: ready, with concerns.
 */
export function decideReadiness(input: ReadinessInput): ReadinessDecision {
  if (input.draining) return { ok: false, status: 'fail', reason: 'draining', failing: [] };
  const startupFailing = input.startup.filter((c) => c.status !== 'pass').map((c) => c.name);
  if (startupFailing.length > 0) {
    return { ok: false, status: 'fail', reason: 'starting', failing: startupFailing };
  }
  const failing = input.checks.filter((c) => c.critical && c.status === 'fail').map((c) => c.name);
  if (failing.length > 0) return { ok: false, status: 'fail', reason: 'failing', failing };
  const warn = input.checks.some((c) => c.status !== 'pass');
  return { ok: true, status: warn ? 'warn' : 'pass' };
}

/** The `output` a failing readiness report carries. */
export function describeNotReady(decision: Extract<ReadinessDecision, { ok: false }>): string {
  switch (decision.reason) {
    case 'draining':
      return 'draining';
    case 'starting':
      return `starting: waiting for ${decision.failing.join(', ')}`;
    case 'failing':
      return `failing checks: ${decision.failing.join(', ')}`;
  }
}

/** pass and warn answer 200, fail answers 503 (the draft's rule, and what orchestrators act on). */
export function healthResponse(report: HealthReport, method: string): Response {
  const status = report.status === 'fail' ? 503 : 200;
  return new Response(method === 'HEAD' ? null : JSON.stringify(report), {
    status,
    headers: {
      'content-type': HEALTH_MEDIA_TYPE,
      // A cached "ready" is a lie a moment later.
      'cache-control': 'no-store',
    },
  });
}
