#!/usr/bin/env node
/**
 * Prepares release 1 of this project (commit e9abcba) for the `r1:*` arms of overhead.ts: extracts the commit from
 * this checkout's git objects into a directory of its own (`git archive | tar -x`, not a worktree: the checkout's
 * git state is left alone), installs it with its own lockfile and pinned pnpm, builds the packages the arms import,
 * and copies `release1-server.mjs` into its `bench/` (a workspace package there, with release 1's dependencies).
 *
 *   node bench/release1-setup.mjs [dir]      (default /tmp/mcp-middleware-release1)
 *
 * Idempotent: each step done is recorded in `<dir>/.release1-setup.json` and skipped next time; the server script
 * is copied again every time, so edits to it reach the extracted tree. Delete the directory to start over.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RELEASE1_COMMIT = 'e9abcba';
export const DEFAULT_DIR = '/tmp/mcp-middleware-release1';
/** What release1-server.mjs imports from release 1, built (`dist/index.js`). */
const PACKAGES = ['core', 'auth-apikey', 'auth-oauth', 'errors', 'logging-json', 'ratelimit-redis'];
/** Third-party packages release1-server.mjs imports from `<dir>/bench` (its dependencies there). */
const BENCH_DEPENDENCIES = ['@hono/node-server', '@modelcontextprotocol/sdk', 'jose', 'zod'];
const STATE_FILE = '.release1-setup.json';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

function fail(message) {
  console.error(`release1-setup: ${message}`);
  process.exit(1);
}

/** Runs a command with inherited output; fails with its name when it is missing or exits non-zero. */
function run(command, args, options = {}) {
  console.error(
    `release1-setup: $ ${[command, ...args].join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}`,
  );
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) fail(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

function readState(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8'));
  } catch {
    return {};
  }
}

function writeState(dir, state) {
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function main() {
  const arg = process.argv[2];
  if (arg === '--help' || arg === '-h') {
    console.log(`usage: node bench/release1-setup.mjs [dir]   (default ${DEFAULT_DIR})`);
    return;
  }
  const dir = resolve(arg ?? DEFAULT_DIR);
  const server = join(here, 'release1-server.mjs');
  if (!existsSync(server)) fail(`missing ${server}`);

  let state = readState(dir);
  if (state.commit && !String(state.commit).startsWith(RELEASE1_COMMIT)) {
    fail(`${dir} holds commit ${state.commit}, not ${RELEASE1_COMMIT}; delete it or give another directory`);
  }

  // 1. Extract.
  if (!state.extracted) {
    const which = spawnSync('git', ['--version'], { stdio: 'ignore' });
    if (which.error || which.status !== 0) fail('git is not installed');
    const commit = spawnSync(
      'git',
      ['-C', repo, 'rev-parse', '--verify', '--quiet', `${RELEASE1_COMMIT}^{commit}`],
      {
        encoding: 'utf8',
      },
    );
    if (commit.status !== 0) fail(`commit ${RELEASE1_COMMIT} is not in the git objects of ${repo}`);
    if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, STATE_FILE))) {
      fail(
        `${dir} exists, is not empty and was not made by this script; delete it or give another directory`,
      );
    }
    mkdirSync(dir, { recursive: true });
    // The state file first, so a half-done extraction is recognised as ours next time.
    state = { commit: commit.stdout.trim() };
    writeState(dir, state);
    run('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', repo, RELEASE1_COMMIT, dir]);
    if (!existsSync(join(dir, 'pnpm-workspace.yaml')) || !existsSync(join(dir, 'bench', 'package.json'))) {
      fail(`the extraction in ${dir} has no pnpm-workspace.yaml or bench/package.json`);
    }
    state.extracted = new Date().toISOString();
    writeState(dir, state);
  } else {
    console.error(`release1-setup: ${dir}: already extracted (${state.commit})`);
  }

  // 2. Install, the way release 1's README and scripts do: its own pinned pnpm through `scripts/pnpm.mjs`.
  if (!state.installed) {
    const npx = spawnSync('npx', ['--version'], { stdio: 'ignore' });
    if (npx.error || npx.status !== 0)
      fail('npx is not available (release 1 runs its pinned pnpm through npx)');
    run(
      process.execPath,
      ['scripts/pnpm.mjs', 'install', '--frozen-lockfile', '--config.confirmModulesPurge=false'],
      {
        cwd: dir,
      },
    );
    state.installed = new Date().toISOString();
    writeState(dir, state);
  } else {
    console.error(`release1-setup: ${dir}: already installed`);
  }

  // 3. Build (release 1's `build` is `turbo run build`): only the packages the arms import, and what they need. A
  // list that grew since the last build (auth-oauth joined it) builds again.
  if (!state.built || state.packages !== PACKAGES.join(',')) {
    run(
      process.execPath,
      [
        'scripts/pnpm.mjs',
        'exec',
        'turbo',
        'run',
        'build',
        ...PACKAGES.map((name) => `--filter=@mcp-middleware/${name}`),
      ],
      { cwd: dir },
    );
    state.built = new Date().toISOString();
    state.packages = PACKAGES.join(',');
    writeState(dir, state);
  } else {
    console.error(`release1-setup: ${dir}: already built`);
  }

  // Whatever the state file says, what the server needs must be there.
  for (const name of PACKAGES) {
    const entry = join(dir, 'packages', name, 'dist', 'index.js');
    if (!existsSync(entry))
      fail(`missing ${entry}: the build did not produce it (delete ${dir} and run again)`);
  }
  for (const name of BENCH_DEPENDENCIES) {
    const path = join(dir, 'bench', 'node_modules', name, 'package.json');
    if (!existsSync(path)) fail(`missing ${path}: the install did not link it (delete ${dir} and run again)`);
  }

  // 4. The server script, copied every time.
  copyFileSync(server, join(dir, 'bench', 'release1-server.mjs'));
  state.server = new Date().toISOString();
  writeState(dir, state);
  console.error(`release1-setup: ready: ${join(dir, 'bench', 'release1-server.mjs')}`);
  console.error(
    `release1-setup: run e.g.  node --import tsx overhead.ts --modes bare,r1:bare,core,r1:core,stack,r1:stack${
      dir === DEFAULT_DIR ? '' : ` --release1 ${dir}`
    }   (in bench/)`,
  );
}

main();
