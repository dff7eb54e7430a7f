#!/usr/bin/env node
// Package correctness for every package under packages/: publint (package.json and files) and
// @arethetypeswrong/cli (types resolve for ESM and CJS consumers under every module resolution). Private ones too:
// packages/hello is the template new packages are copied from, so its package.json must be right as well.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;
for (const dir of readdirSync(join(root, 'packages'))) {
  const cwd = join(root, 'packages', dir);
  const { name, bin: bins = {} } = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
  // Every command the package publishes runs from the built package (`--help` exits 0).
  for (const [command, file] of Object.entries(bins)) {
    try {
      execFileSync(process.execPath, [join(cwd, file), '--help'], { cwd, stdio: 'pipe', timeout: 15_000 });
      console.log(`ok   bin      ${name} ${command}`);
    } catch (error) {
      failed++;
      console.log(`FAIL bin      ${name} ${command}\n${error.stdout}${error.stderr}`);
    }
  }
  for (const [tool, args] of [
    ['publint', ['--strict']],
    // Node >= 20 only, so node10 resolution (no exports map) is out of scope.
    ['attw', ['--pack', '.', '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync(bin(tool), args, { cwd, stdio: 'pipe' });
      console.log(`ok   ${tool.padEnd(8)} ${name}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${tool.padEnd(8)} ${name}\n${error.stdout}${error.stderr}`);
    }
  }
}
process.exit(failed ? 1 : 0);
