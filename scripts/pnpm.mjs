#!/usr/bin/env node
// Runs the pinned pnpm through npx, so a fresh machine needs only Node and npm.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { packageManager } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const env = { ...process.env };
// npm exports its own settings as npm_config_*; pnpm would read them as its own.
for (const key of Object.keys(env)) if (key.toLowerCase().startsWith('npm_config_')) delete env[key];
env.TURBO_TELEMETRY_DISABLED = '1';
env.DO_NOT_TRACK = '1';

const result = spawnSync('npx', ['--yes', packageManager, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env,
  shell: process.platform === 'win32',
});
process.exit(result.status ?? 1);
