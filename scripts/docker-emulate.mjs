#!/usr/bin/env node
/**
 * Runs a Dockerfile's build and start without a Docker daemon, to catch what would break the image in CI:
 * reads the Dockerfile (ARG, FROM, WORKDIR, ENV, COPY, RUN, USER, HEALTHCHECK, CMD), copies exactly what each COPY
 * copies from the build context (honouring .dockerignore) into a scratch root per stage, runs each RUN there, then
 * starts CMD as a non-root user in a read-only working directory and runs the HEALTHCHECK command until it passes.
 *
 *   node scripts/docker-emulate.mjs [--dockerfile apps/demo/Dockerfile] [--context .] [--node /path/to/node] [--keep]
 *
 * What it cannot be: the base image. RUN and CMD use this machine's tools, with `--node` first
 * on PATH so the image's Node major can be matched. Container paths map into the scratch root: HOME is /root of the
 * stage, `npm install -g` goes to the stage's /usr/local, and a `--mount=type=cache` target is a persistent directory
 * under the user's cache (as BuildKit keeps it between builds). The container's port is a free port here, so
 * parallel runs on one machine do not collide.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    dockerfile: { type: 'string', default: 'apps/demo/Dockerfile' },
    context: { type: 'string', default: '.' },
    node: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    'health-deadline': { type: 'string', default: '60' },
  },
});
const context = resolve(args.context);
const dockerfile = resolve(context, args.dockerfile);
const started = Date.now();
const log = (text) => console.log(`[docker-emulate +${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

// ---- Parsing ------------------------------------------------------------------------------------------------

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function instructions(text) {
  const out = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!current && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (current && line.trimStart().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const match = /^\s*(\w+)\s+([\s\S]*)$/.exec(current);
    if (!match) throw new Error(`cannot read Dockerfile line: ${current}`);
    out.push({ op: match[1].toUpperCase(), rest: match[2].trim() });
    current = '';
  }
  return out;
}

const substitute = (text, vars) =>
  text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a, b) => vars[a ?? b] ?? whole);

/** Leading `--flag=value` options of an instruction, and what follows them. */
function flags(rest) {
  const options = {};
  let remaining = rest;
  for (
    let m = /^--([\w-]+)(?:=(\S+))?\s*/.exec(remaining);
    m;
    m = /^--([\w-]+)(?:=(\S+))?\s*/.exec(remaining)
  ) {
    options[m[1]] = [...(options[m[1]] ?? []), m[2] ?? 'true'];
    remaining = remaining.slice(m[0].length);
  }
  return { options, remaining };
}

/** `KEY=value KEY2="v w"` (or the legacy `KEY value`). */
function keyValues(rest) {
  const pairs = {};
  if (!rest.includes('=')) {
    const [key, ...value] = rest.split(/\s+/);
    pairs[key] = value.join(' ');
    return pairs;
  }
  for (const m of rest.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    pairs[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return pairs;
}

/** The exec form `["a", "b"]` as an argv, or the shell form as `sh -c`. */
const command = (rest) => (rest.startsWith('[') ? JSON.parse(rest) : ['/bin/sh', '-c', rest]);

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!m) throw new Error(`cannot read duration ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]];
}

// ---- .dockerignore ------------------------------------------------------------------------------------------

function ignoreRules() {
  const file = join(context, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '(?:.*)'
            : part
                .replace(/[.+^$()|[\]{}]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      return { negate, regex: new RegExp(`^${source}(?:/.*)?$`) };
    });
}
const rules = ignoreRules();
const ignored = (path) => rules.reduce((is, rule) => (rule.regex.test(path) ? !rule.negate : is), false);

// ---- Stages ---------------------------------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'docker-emulate-'));
chmodSync(scratch, 0o755); // the unprivileged user must reach the final stage's files
const cacheRoot = join(homedir(), '.cache', 'mcp-middleware-docker-emulate');
const nodeBin = args.node ? dirname(resolve(args.node)) : '';
let child;

function cleanup() {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (args.keep) return log(`kept ${scratch}`);
  spawnSync('chmod', ['-R', 'u+w', scratch]);
  rmSync(scratch, { recursive: true, force: true });
}

const stages = [];
const global = {}; // ARGs before the first FROM
let stage;
const inStage = (path) => join(stage.root, resolve(stage.workdir, path));

function cleanEnv(extra) {
  const env = {};
  // npm exports its own settings as npm_config_*; inside the image there are none.
  for (const [k, v] of Object.entries(process.env))
    if (!k.toLowerCase().startsWith('npm_config_')) env[k] = v;
  return { ...env, ...extra };
}

function stageEnv() {
  const usrLocal = join(stage.root, 'usr/local');
  return cleanEnv({
    ...stage.env,
    HOME: join(stage.root, 'root'),
    // `npm install -g` into the stage's /usr/local, whose bin comes first on PATH as in the image.
    npm_config_prefix: usrLocal,
    PATH: [join(usrLocal, 'bin'), nodeBin, process.env.PATH].filter(Boolean).join(':'),
  });
}

function copy(rest) {
  const { options, remaining } = flags(rest);
  const parts = remaining.startsWith('[') ? JSON.parse(remaining) : remaining.split(/\s+/);
  const dest = parts.pop();
  const from = options.from?.[0];
  const source = from ? stages.find((s) => s.name === from || String(stages.indexOf(s)) === from) : undefined;
  if (from && !source) throw new Error(`COPY --from=${from}: no such stage`);
  if (options.chown) log(`COPY --chown ignored (files belong to the emulating user)`);
  const target = inStage(dest);
  const intoDir = dest.endsWith('/') || parts.length > 1;
  for (const src of parts) {
    const origin = source ? join(source.root, src) : join(context, src);
    if (!existsSync(origin)) throw new Error(`COPY ${src}: not found`);
    const isDir = statSync(origin).isDirectory();
    const to = isDir ? target : intoDir ? join(target, src.split('/').pop()) : target;
    mkdirSync(isDir ? to : dirname(to), { recursive: true });
    // A directory copies its contents; the context is filtered by .dockerignore, another stage is not.
    cpSync(origin, to, {
      recursive: true,
      verbatimSymlinks: true, // as COPY does: pnpm's relative links must stay relative
      filter: (path) => source !== undefined || !ignored(relative(context, path)),
    });
  }
  log(`COPY ${remaining}`);
}

function run(rest) {
  const { options, remaining } = flags(rest);
  // A BuildKit cache mount: a directory kept between builds, present only while this RUN runs.
  const mounts = (options.mount ?? []).map((spec) => {
    const o = Object.fromEntries(spec.split(',').map((kv) => kv.split('=')));
    if (o.type !== 'cache') throw new Error(`RUN --mount type ${o.type} is not emulated`);
    const at = join(stage.root, o.target);
    const keep = join(cacheRoot, o.id ?? o.target.replaceAll('/', '_'));
    mkdirSync(keep, { recursive: true });
    mkdirSync(dirname(at), { recursive: true });
    rmSync(at, { recursive: true, force: true });
    symlinkSync(keep, at);
    return at;
  });
  log(`RUN ${remaining}`);
  const cwd = join(stage.root, stage.workdir);
  mkdirSync(cwd, { recursive: true });
  const result = spawnSync('/bin/sh', ['-c', remaining], { cwd, env: stageEnv(), stdio: 'inherit' });
  for (const at of mounts) rmSync(at, { force: true });
  if (result.status !== 0) throw new Error(`RUN failed (${result.status ?? result.signal}): ${remaining}`);
}

function build() {
  for (const { op, rest: raw } of instructions(readFileSync(dockerfile, 'utf8'))) {
    const rest = substitute(raw, { ...global, ...(stage?.args ?? {}) });
    if (op === 'ARG') {
      const [name, value] = rest.split('=');
      if (stage) stage.args[name] = value ?? global[name] ?? '';
      else global[name] = value ?? '';
    } else if (op === 'FROM') {
      const [image, , name] = rest.split(/\s+/);
      stage = { name, image, root: join(scratch, `stage-${stages.length}`), workdir: '/', env: {}, args: {} };
      mkdirSync(join(stage.root, 'root'), { recursive: true });
      stages.push(stage);
      log(`FROM ${image}${name ? ` AS ${name}` : ''}${nodeBin ? ` (node from ${nodeBin})` : ''}`);
    } else if (op === 'WORKDIR') {
      stage.workdir = resolve(stage.workdir, rest);
      mkdirSync(join(stage.root, stage.workdir), { recursive: true });
    } else if (op === 'ENV') Object.assign(stage.env, keyValues(rest));
    else if (op === 'COPY') copy(rest);
    else if (op === 'RUN') run(rest);
    else if (op === 'USER') stage.user = rest;
    else if (op === 'HEALTHCHECK') {
      const { options, remaining } = flags(rest);
      stage.healthcheck = { options, argv: command(remaining.replace(/^CMD\s+/, '')) };
    } else if (op === 'CMD') stage.cmd = command(rest);
    else if (op === 'EXPOSE' || op === 'LABEL') continue;
    else throw new Error(`Dockerfile instruction ${op} is not emulated`);
  }
  return stage;
}

// ---- Running the image ------------------------------------------------------------------------------------

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer().once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

/** setpriv to an unprivileged user when we are root; as ourselves (already unprivileged) otherwise. */
function asUser(user, argv) {
  if (process.getuid?.() !== 0) return argv;
  const known = spawnSync('id', ['-u', user]).status === 0;
  const who = known ? user : 'nobody';
  const group = spawnSync('id', ['-gn', who], { encoding: 'utf8' }).stdout.trim();
  return ['setpriv', `--reuid=${who}`, `--regid=${group}`, '--clear-groups', ...argv];
}

/** Who runs the CMD here: the image's USER when this machine has it, else nobody; ourselves when not root. */
function runsAs(user) {
  if (user === 'root') return 'root (the image sets no USER)';
  if (process.getuid?.() !== 0) return `this user (not root, so no switch is needed)`;
  return spawnSync('id', ['-u', user]).status === 0 ? user : `nobody (USER ${user} does not exist here)`;
}

async function start(final) {
  if (!final.cmd) throw new Error('the last stage has no CMD');
  const port = await freePort();
  const cwd = join(final.root, final.workdir);
  // Read-only: nothing in the image may be written at run time (a read-only root filesystem), TMPDIR included.
  spawnSync('chmod', ['-R', 'a-w', final.root]);
  const env = cleanEnv({
    ...final.env,
    PORT: String(port),
    HOME: '/nonexistent',
    TMPDIR: cwd,
    PATH: [nodeBin, process.env.PATH].filter(Boolean).join(':'),
  });
  const user = final.user ?? 'root';
  const [file, ...argv] = user === 'root' ? final.cmd : asUser(user, final.cmd);
  const size = spawnSync('du', ['-sh', final.root], { encoding: 'utf8' }).stdout.split('\t')[0];
  log(`the image's files: ${size} besides the base image`);
  log(`CMD ${JSON.stringify(final.cmd)} as ${runsAs(user)} in read-only ${final.workdir}, PORT=${port}`);
  child = spawn(file, argv, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));

  const check = final.healthcheck;
  if (!check) throw new Error('the last stage has no HEALTHCHECK');
  const timeout = parseDuration(check.options.timeout?.[0] ?? '30s');
  const deadline = Date.now() + Number(args['health-deadline']) * 1000;
  let attempts = 0;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the server exited (${child.exitCode}) before it was healthy`);
    attempts++;
    const [hFile, ...hArgs] = user === 'root' ? check.argv : asUser(user, check.argv);
    const result = spawnSync(hFile, hArgs, { cwd, env, timeout, stdio: 'ignore' });
    if (result.status === 0) break;
    if (Date.now() > deadline)
      throw new Error(`HEALTHCHECK did not pass within ${args['health-deadline']} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`HEALTHCHECK passed (attempt ${attempts})`);

  // And it stops as an orchestrator stops it: SIGTERM, then a clean exit within the grace period.
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const end = await exited;
  clearTimeout(killer);
  if (end.code !== 0) throw new Error(`on SIGTERM the server ended with ${JSON.stringify(end)}, not exit 0`);
  log('SIGTERM: exited 0');
}

try {
  log(`${relative(context, dockerfile)} in ${scratch}`);
  await start(build());
  log('passed');
} catch (error) {
  log(`FAILED: ${error.message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
