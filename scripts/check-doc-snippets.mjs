#!/usr/bin/env node
/**
 * Keeps the code in the docs honest: a fenced block whose info string names a source region,
 *
 *   ```ts source=packages/hello/src/hello.ts#options
 *
 * must equal the lines between `// #region options` and `// #endregion options` in that file (other region markers
 * dropped, common indentation removed). Those files are type-checked, linted and tested, so the docs' code is too.
 *
 *   node scripts/check-doc-snippets.mjs           # fails, naming each stale block
 *   node scripts/check-doc-snippets.mjs --write   # rewrites the blocks from their sources
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const write = process.argv.includes('--write');
const docs = [
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
  join(root, 'CONTRIBUTING.md'),
  ...readdirSync(join(root, 'packages')).map((dir) => join(root, 'packages', dir, 'README.md')),
].filter((file) => existsSync(file));

const MARKER = /^\s*\/\/ #(end)?region\b/;

function region(file, name) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`);
  if (start < 0 || end < 0)
    throw new Error(`${file} has no region '${name}' (// #region ${name} … // #endregion ${name})`);
  const body = lines.slice(start + 1, end).filter((l) => !MARKER.test(l));
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => /^ */.exec(l)[0].length));
  return body.map((l) => l.slice(indent)).join('\n');
}

let stale = 0;
let checked = 0;
for (const doc of docs) {
  const text = readFileSync(doc, 'utf8');
  const updated = text.replace(
    /^```(\w+) source=(\S+)#(\S+)\n([\s\S]*?)^```$/gm,
    (whole, lang, file, name, body) => {
      checked++;
      const want = region(file, name);
      if (body.replace(/\n$/, '') === want) return whole;
      stale++;
      const got = body.replace(/\n$/, '').split('\n');
      const line = want.split('\n').findIndex((l, i) => l !== got[i]);
      console.log(
        `${relative(root, doc)}: the block from ${file}#${name} differs from its source at line ${line + 1} of the block`,
      );
      return `\`\`\`${lang} source=${file}#${name}\n${want}\n\`\`\``;
    },
  );
  if (write && updated !== text) writeFileSync(doc, updated);
}
if (checked === 0) {
  console.log('no sourced code blocks found: the guide should quote packages/hello');
  process.exit(1);
}
if (stale && !write) {
  console.log(
    `${stale} of ${checked} code blocks are stale: run node scripts/check-doc-snippets.mjs --write`,
  );
  process.exit(1);
}
console.log(`${checked} code blocks match their sources${write && stale ? ` (${stale} rewritten)` : ''}`);
