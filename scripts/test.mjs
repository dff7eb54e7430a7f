#!/usr/bin/env node
// The one test command (`npm test`): install with the pinned pnpm, run every package's tests one package at a
// time (they share Redis and the CPU), then total the reports into the closing line CI reads.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
const pnpm = new URL('./pnpm.mjs', import.meta.url).pathname;

if (run([pnpm, 'install', '--frozen-lockfile']) !== 0) process.exit(1);
rmSync(new URL('../.vitest-reports/', import.meta.url), { recursive: true, force: true });
const tests = run([
  pnpm,
  'exec',
  'turbo',
  'run',
  'test',
  '--concurrency=1',
  '--continue',
  ...process.argv.slice(2),
]);
const summary = run([new URL('./test-summary.mjs', import.meta.url).pathname]);
process.exit(tests || summary);
