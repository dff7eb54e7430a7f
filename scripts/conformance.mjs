#!/usr/bin/env node
// The official MCP conformance suite against apps/conformance-server, bare (the SDK alone) and through the full
// mcp-middleware stack; writes the scenario table into docs/conformance.md and fails when a scenario passes bare
// but not through the stack. The suite needs Node 22: it is installed with npm into a cache folder (the machine's
// own Node is left alone) together with the pinned suite, once, and reused by later runs.
//
//   node scripts/conformance.mjs            # run, write docs/conformance.md
//   node scripts/conformance.mjs --check    # run, do not write the docs
//   node scripts/conformance.mjs --keep     # keep server logs and the suite's checks.json files
//
// Node 22 and the suite live in node_modules/.cache/conformance/ (deleting it forces a fresh install).
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;
const app = join(root, 'apps/conformance-server');
const docs = join(root, 'docs/conformance.md');
const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (arg !== '--check' && arg !== '--keep') {
    console.error(
      `conformance: unknown option ${arg} (usage: node scripts/conformance.mjs [--check] [--keep])`,
    );
    process.exit(2);
  }
}
const write = !args.has('--check');
const keep = args.has('--keep');

/**
 * What runs: one entry per SDK line and suite version, each against the server bare and, where the line has one,
 * through the stack (the SDK v2 stack arrives with core's v2 interception point; until then v2 runs bare only).
 */
const RUNS = [
  {
    title: 'SDK v1, conformance 0.1.16, spec 2025-11-25',
    sdkPackage: '@modelcontextprotocol/sdk',
    suite: '0.1.16',
    specVersion: '2025-11-25',
    server: { bare: ['--bare'], stack: ['--stack'] },
  },
  {
    title: 'SDK v2, conformance 0.1.16, spec 2025-11-25',
    sdkPackage: '@modelcontextprotocol/server',
    suite: '0.1.16',
    specVersion: '2025-11-25',
    server: { bare: ['--bare', '--sdk', 'v2'], stack: ['--stack', '--sdk', 'v2'] },
  },
  {
    title: 'SDK v2, conformance 0.2.0-alpha.12, spec 2026-07-28',
    sdkPackage: '@modelcontextprotocol/server',
    suite: '0.2.0-alpha.12',
    specVersion: '2026-07-28',
    server: { bare: ['--bare', '--sdk', 'v2'], stack: ['--stack', '--sdk', 'v2'] },
  },
];
const NODE_RANGE = '22';

const INSTALL_TIMEOUT_MS = 5 * 60_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const SUITE_TIMEOUT_MS = 3 * 60_000;
const SERVER_STOP_TIMEOUT_MS = 10_000;
/** The whole script, installs included: CI gives this step about ten minutes. */
const TOTAL_TIMEOUT_MS = 9 * 60_000;

const cacheRoot = join(root, 'node_modules/.cache/conformance');
const work = mkdtempSync(join(tmpdir(), 'mcp-conformance-'));
const children = new Set();

function fail(message) {
  console.error(`conformance: ${message}`);
  cleanup();
  process.exit(2);
}

/** Kills whatever is still running (a suite or a server) when this script ends early. */
function cleanup() {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
}
setTimeout(
  () => fail(`gave up after ${TOTAL_TIMEOUT_MS / 60_000} minutes; logs are in ${work}`),
  TOTAL_TIMEOUT_MS,
).unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanup();
    process.exit(130);
  });
}

/** Installs `dependencies` into `dir` with npm, unless an earlier run left exactly that there. */
function npmInstall(dir, dependencies, ready) {
  const manifest = JSON.stringify(
    { name: 'mcp-middleware-conformance-cache', private: true, dependencies },
    null,
    2,
  );
  const manifestPath = join(dir, 'package.json');
  if (ready.every((path) => existsSync(path)) && readFileSafe(manifestPath) === manifest) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(manifestPath, manifest);
  console.log(
    `== installing ${Object.entries(dependencies)
      .map(([n, v]) => `${n}@${v}`)
      .join(', ')} into ${dir}`,
  );
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
    timeout: INSTALL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    env: withoutNpmConfig(),
  });
  if (result.status !== 0)
    fail(`npm install in ${dir} failed (${result.error?.message ?? `exit ${result.status}`})`);
}

/** Node 22 (one install, shared) and the suite (one install per version), in folders of their own. */
function installSuite(version) {
  const nodeDir = join(cacheRoot, `node${NODE_RANGE}`);
  const node = join(nodeDir, 'node_modules/.bin/node');
  npmInstall(nodeDir, { node: NODE_RANGE }, [node]);
  const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000 }).stdout?.trim();
  if (!nodeVersion?.startsWith(`v${NODE_RANGE}.`))
    fail(`${node} is not Node ${NODE_RANGE} (got ${nodeVersion})`);

  const suiteDir = join(cacheRoot, `suite-${version}`);
  const pkg = join(suiteDir, 'node_modules/@modelcontextprotocol/conformance');
  const cli = join(pkg, 'dist/index.js');
  npmInstall(suiteDir, { '@modelcontextprotocol/conformance': version }, [cli]);
  const suiteVersion = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
  return { node, cli, nodeVersion, suiteVersion };
}

function readFileSafe(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** npm run exports its settings as npm_config_*; a nested npm install must not inherit the workspace's. */
function withoutNpmConfig() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.toLowerCase().startsWith('npm_config_')) delete env[key];
  return env;
}

/** Spawns in its own process group, so a deadline can kill it with everything it started. */
function start(command, argv, options) {
  const child = spawn(command, argv, { ...options, detached: true });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(child));
  return { child, exited };
}

async function startServer(flags, log) {
  const { child, exited } = start(
    process.execPath,
    ['--conditions=mcp-middleware-source', '--import', 'tsx', 'src/main.ts', ...flags],
    { cwd: app, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not listen within ${SERVER_START_TIMEOUT_MS / 1000} s`)),
      SERVER_START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (${signal ?? `exit ${code}`})`));
    });
  }).catch((error) => {
    writeFileSync(log, Buffer.concat(stderr));
    process.kill(-child.pid, 'SIGKILL');
    fail(`${flags.join(' ')}: ${error.message}; its stderr is in ${log}`);
  });
  const stop = async () => {
    // SIGTERM first: the stack drains through its health middleware, the bare server closes; then SIGKILL.
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, SERVER_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    writeFileSync(log, Buffer.concat(stderr));
  };
  return { url, stop };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the suite colours its output with ANSI escapes.
const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs the suite against `url` and reads its outcome per scenario. */
async function runSuite(suite, run, url, outDir, log) {
  const argv = [suite.cli, 'server', '--url', url, '--spec-version', run.specVersion, '-o', outDir];
  const { child, exited } = start(suite.node, argv, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.on('data', (chunk) => output.push(chunk));
  child.stderr.on('data', (chunk) => output.push(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid, 'SIGKILL');
  }, SUITE_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  const text = Buffer.concat(output).toString('utf8').replace(ANSI, '');
  writeFileSync(log, text);
  if (timedOut) fail(`the suite did not finish within ${SUITE_TIMEOUT_MS / 1000} s; its output is in ${log}`);
  return parseSummary(text, outDir, log);
}

/**
 * The suite prints `✓ name: 3 passed, 0 failed` per scenario after `=== SUMMARY ===` (it exits 1 on any failure,
 * so its exit code says nothing more). Warnings come from the checks.json it writes per scenario.
 */
function parseSummary(text, outDir, log) {
  const at = text.lastIndexOf('=== SUMMARY ===');
  if (at === -1) fail(`no summary in the suite's output (see ${log})`);
  const scenarios = new Map();
  for (const match of text.slice(at).matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed$/gmu)) {
    const [, name, passed, failed] = match;
    scenarios.set(name, { passed: Number(passed), failed: Number(failed), warnings: 0, errors: [] });
  }
  if (scenarios.size === 0) fail(`the suite ran no scenario (see ${log})`);
  for (const entry of readdirSync(outDir)) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const scenario = match && scenarios.get(match[1]);
    if (!scenario) continue;
    const checks = JSON.parse(readFileSync(join(outDir, entry, 'checks.json'), 'utf8'));
    scenario.warnings = checks.filter((c) => c.status === 'WARNING').length;
    scenario.errors = checks
      .filter((c) => c.status === 'FAILURE')
      .map((c) => `${c.id}: ${c.errorMessage ?? ''}`);
  }
  return scenarios;
}

function outcome(result) {
  if (!result) return 'not run';
  const total = result.passed + result.failed;
  const warnings = result.warnings ? `${result.warnings} warning${result.warnings > 1 ? 's' : ''}` : '';
  // A scenario can end with warnings alone (e.g. no session id for the multiple-streams test): not a pass.
  if (total === 0) return `no checks${warnings ? ` (${warnings})` : ''}`;
  return `${result.failed === 0 ? 'pass' : 'FAIL'} (${result.passed}/${total}${warnings ? `, ${warnings}` : ''})`;
}

function packageVersion(name) {
  const path = join(app, 'node_modules', name, 'package.json');
  return JSON.parse(readFileSync(path, 'utf8')).version;
}

const sections = [];
const regressions = [];
for (const run of RUNS) {
  const suite = installSuite(run.suite);
  const results = {};
  const variants = Object.keys(run.server);
  for (const variant of variants) {
    const id = `${run.title.replace(/\W+/g, '-')}-${variant}`;
    const outDir = join(work, id);
    mkdirSync(outDir);
    console.log(`== ${run.title}: ${variant}`);
    const server = await startServer(run.server[variant], join(work, `${run.suite}-${variant}.server.log`));
    try {
      results[variant] = await runSuite(
        suite,
        run,
        server.url,
        outDir,
        join(work, `${run.suite}-${variant}.suite.log`),
      );
    } finally {
      await server.stop();
    }
  }

  const names = [...new Set(variants.flatMap((variant) => [...results[variant].keys()]))];
  const rows = names.map((name) => {
    const bare = results.bare.get(name);
    if (!results.stack) return `| ${name} | ${outcome(bare)} | (no v2 stack yet) | |`;
    const stack = results.stack.get(name);
    const regressed = bare?.failed === 0 && (!stack || stack.failed > 0);
    if (regressed) regressions.push({ run: run.title, name, errors: stack?.errors ?? ['not run'] });
    return `| ${name} | ${outcome(bare)} | ${outcome(stack)} | ${regressed ? 'regression' : 'same'} |`;
  });
  const count = (variant) =>
    results[variant]
      ? `${[...results[variant].values()].filter((r) => r.failed === 0 && r.passed > 0).length}/${results[variant].size}`
      : 'not run';
  sections.push(
    [
      `### ${run.title}`,
      '',
      `- suite: \`@modelcontextprotocol/conformance@${suite.suiteVersion}\` on Node ${suite.nodeVersion}`,
      `- server: \`${run.sdkPackage}@${packageVersion(run.sdkPackage)}\` on Node ${process.version}`,
      `- command: \`conformance server --url <url> --spec-version ${run.specVersion} -o <dir>\` (the active suite)`,
      `- passing scenarios: bare ${count('bare')}, stack ${count('stack')}`,
      '',
      '| scenario | bare (SDK alone) | stack (every package) | |',
      '| --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
}

const table = sections.join('\n\n');
console.log(`\n${table}\n`);
if (write) {
  const begin = '<!-- conformance:begin (written by scripts/conformance.mjs) -->';
  const end = '<!-- conformance:end -->';
  const current = readFileSafe(docs);
  if (!current?.includes(begin) || !current.includes(end))
    fail(`${docs} lacks the ${begin} … ${end} markers`);
  const next = `${current.slice(0, current.indexOf(begin) + begin.length)}\n\n${table}\n\n${current.slice(current.indexOf(end))}`;
  writeFileSync(docs, next);
  console.log(`== wrote ${docs}`);
}

if (regressions.length > 0) {
  console.error('\nconformance: scenarios that pass bare but fail through the stack:');
  for (const { run, name, errors } of regressions)
    console.error(`  ${run}: ${name}\n    ${errors.join('\n    ')}`);
  console.error(`server logs and checks.json files are in ${work}`);
  process.exit(1);
}
if (keep) console.log(`== logs and checks.json files are in ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log('== conformance: no scenario regressed through the stack');
