import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeScriptNodeArgs } from '@mcp-middleware/core/testing';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from './index.js';
import { TurnWriter } from './turn-writer.js';

const here = dirname(fileURLToPath(import.meta.url));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'turn-writer-'));
  dirs.push(dir);
  return join(dir, 'out.log');
}

/** Runs test-exit-logger.ts and gives its stderr once the process has closed its pipes. */
function runExitLogger(mode: 'exit' | 'throw'): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, typeScriptNodeArgs(join(here, 'test-exit-logger.ts')).concat(mode), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the child did not exit within 15 s; stderr:\n${stderr}`));
    }, 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('TurnWriter', () => {
  it('writes the lines made in one turn with a single write, in order, at the end of the turn', async () => {
    const path = await tempFile();
    const file = pino.destination({ dest: path, sync: true });
    const write = vi.spyOn(file, 'write');
    const writer = new TurnWriter(file);
    writer.write('{"n":1}\n');
    writer.write('{"n":2}\n');
    writer.write('{"n":3}\n');
    expect(write).not.toHaveBeenCalled();
    await nextTurn();
    expect(write).toHaveBeenCalledTimes(1);
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    writer.write('{"n":4}\n');
    await nextTurn();
    expect(write).toHaveBeenCalledTimes(2);
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n');
    file.end();
  });

  it('holds no process exit listener while it has nothing to write', async () => {
    const path = await tempFile();
    const file = pino.destination({ dest: path, sync: true });
    const before = process.listenerCount('exit');
    const writer = new TurnWriter(file);
    writer.write('{"n":1}\n');
    expect(process.listenerCount('exit')).toBe(before + 1);
    await nextTurn();
    expect(process.listenerCount('exit')).toBe(before);
    file.end();
  });

  it('drops a line written after its file was closed instead of throwing from a timer', async () => {
    const path = await tempFile();
    const file = pino.destination({ dest: path, sync: true });
    const writer = new TurnWriter(file);
    writer.write('{"n":1}\n');
    writer.flushSync();
    file.end();
    writer.write('{"n":2}\n');
    await nextTurn();
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n');
  });

  it.each(['exit', 'throw'] as const)(
    'loses no line when the process ends (%s) in the turn the lines were made',
    async (mode) => {
      const { code, stderr } = await runExitLogger(mode);
      expect(code).toBe(mode === 'exit' ? 0 : 1);
      const lines = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { n?: number; msg?: string });
      expect(lines.map((l) => [l.n, l.msg])).toEqual([
        [1, 'first'],
        [2, 'second'],
      ]);
      if (mode === 'throw') expect(stderr).toContain('boom after logging');
    },
  );
});

describe('jsonLogger batchLines', () => {
  it('writes each line as it is made with batchLines: false', async () => {
    const path = await tempFile();
    const log = jsonLogger({ destination: path, batchLines: false });
    log.logger.info({ n: 1 }, 'now');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ n: 1, msg: 'now' });
    await log.close?.();
  });

  it('writes batched lines by the end of the turn, and what is held on close()', async () => {
    const path = await tempFile();
    const log = jsonLogger({ destination: path });
    log.logger.info({ n: 1 }, 'batched');
    // Read synchronously: an asynchronous read would let the turn end first.
    expect(readFileSync(path, 'utf8')).toBe('');
    await nextTurn();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ n: 1 });
    log.logger.info({ n: 2 }, 'held at close');
    await log.close?.();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([1, 2]);
  });

  it('refuses a batchLines that is not a boolean', () => {
    expect(() => jsonLogger({ batchLines: 'yes' as never })).toThrow(
      /jsonLogger: batchLines must be a boolean/,
    );
  });
});
