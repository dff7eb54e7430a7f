import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { collectOutput } from './process-output.js';

function node(script: string) {
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('collectOutput', () => {
  it('waits for output written later, on either stream', async () => {
    const output = collectOutput(
      node("setTimeout(() => { process.stdout.write('a'); console.error('port=41 ready'); }, 200)"),
    );
    const port = await output.waitFor((t) => /port=(\d+) ready/.exec(t)?.[1], 'the ready line');
    expect(port).toBe('41');
    expect(await output.closed).toEqual({ code: 0, signal: null });
    expect(output.text()).toContain('a');
  });

  it('fails with the output when the process ends without the expected text', async () => {
    const output = collectOutput(node("console.log('something else'); process.exit(3)"));
    await expect(output.waitFor((t) => t.includes('never'), 'the word never')).rejects.toThrow(
      /closed its output before the word never:\nsomething else/,
    );
  });

  it('fails at the deadline', async () => {
    const child = node('setTimeout(() => {}, 10_000)');
    const output = collectOutput(child);
    await expect(output.waitFor((t) => t.includes('x'), 'an x', 100)).rejects.toThrow(
      /timed out after 100 ms waiting for an x/,
    );
    child.kill();
    await output.closed;
  });
});
