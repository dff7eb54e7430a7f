/** Test helper: the demo as its own process, as `npm run demo` starts it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { typeScriptNodeArgs } from '@mcp-middleware/core/testing';

/** The demo's entry point, for tests that launch it themselves (stdio). */
export const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface Demo {
  readonly url: URL;
  readonly base: URL;
  readonly devKey: string | undefined;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts the demo as its own process, as `npm run demo` does, and waits for the line that names its URL. */
export async function startDemo(env: Record<string, string>): Promise<Demo> {
  const child: ChildProcess = spawn(process.execPath, typeScriptNodeArgs(MAIN), {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start in 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+\/mcp)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(new URL(match[1]!));
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the demo exited with ${code}:\n${output}`)));
  });
  return {
    url,
    base: new URL('/', url),
    devKey: /development API key[^:]*: (mcpk_\S+)/.exec(output)?.[1],
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
