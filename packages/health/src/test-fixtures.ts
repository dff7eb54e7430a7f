import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

export interface Probe {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

/** GETs a probe path and parses its health+json body. */
export async function probe(base: URL, path: string): Promise<Probe> {
  const response = await fetch(new URL(path, base));
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** The first result of one check in a health+json body. */
export function checkIn(body: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const checks = body['checks'] as Record<string, Array<Record<string, unknown>>> | undefined;
  return checks?.[name]?.[0];
}

/** A free TCP port on loopback (free when asked; the caller binds it right away). */
/** Kills a child process and waits until it is gone. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
