/**
 * What a child process writes, for tests that must wait for it: output arrives in chunks, later than the event
 * that caused it, and after `exit` (only `close` means the pipes are drained). Never read it once.
 */
import type { ChildProcess } from 'node:child_process';

export interface ProcessOutput {
  /** Everything written so far to stdout and stderr, in arrival order. */
  text(): string;
  /**
   * Resolves with the first non-empty value `find` returns for the output so far; rejects with `what` and the
   * output when `timeoutMs` passes or the process closes its pipes first.
   */
  waitFor<T>(
    find: (text: string) => T | undefined | null | false,
    what: string,
    timeoutMs?: number,
  ): Promise<T>;
  /** Resolves once the process has exited and both pipes are drained: `text()` is then complete. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts collecting `child`'s piped stdout and stderr (spawn it with `stdio: [..., 'pipe', 'pipe']`). */
export function collectOutput(child: ChildProcess): ProcessOutput {
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer | string) => {
    text += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let isClosed = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      isClosed = true;
      for (const listener of listeners) listener();
      resolve({ code, signal });
    });
  });
  return {
    text: () => text,
    closed,
    waitFor(find, what, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        const check = () => {
          const found = find(text);
          if (found) {
            finish();
            resolve(found);
          } else if (isClosed) {
            finish();
            reject(new Error(`the process closed its output before ${what}:\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}
