/** Test helper: the demo as its own process, as `npm run demo` starts it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collectOutput, type ProcessOutput, typeScriptNodeArgs } from '@mcp-middleware/core/testing';

/** The demo's entry point, for tests that launch it themselves (stdio). */
export const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface Demo {
  readonly url: URL;
  readonly base: URL;
  readonly devKey: string | undefined;
  readonly output: () => string;
  readonly waitForOutput: ProcessOutput['waitFor'];
  stop(): Promise<void>;
}

/** Starts the demo as its own process, as `npm run demo` does, and waits for the lines that name its URL (and key). */
export async function startDemo(env: Record<string, string>): Promise<Demo> {
  const child: ChildProcess = spawn(process.execPath, typeScriptNodeArgs(MAIN), {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const url = await output.waitFor(
    (t) => /listening on (http:\/\/\S+\/mcp)/.exec(t)?.[1],
    'the demo to listen',
    30_000,
  );
  const devKey =
    env['AUTH_MODE'] === 'apikey'
      ? await output.waitFor((t) => /development API key[^:]*: (mcpk_\S+)/.exec(t)?.[1], 'the dev key')
      : undefined;
  return {
    url: new URL(url),
    base: new URL('/', url),
    devKey,
    output: output.text,
    waitForOutput: output.waitFor,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await output.closed;
      clearTimeout(timer);
    },
  };
}
