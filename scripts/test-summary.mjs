#!/usr/bin/env node
// Totals the JSON reports every package's vitest run leaves, and prints the plain closing line CI reads.
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../.vitest-reports/', import.meta.url);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  // CI shows only the tail of its output: name each failed test and the start of its message here, at the end.
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) {
      if (test.status !== 'failed') continue;
      const message = (test.failureMessages?.[0] ?? '').split('\n').slice(0, 3).join(' | ').slice(0, 400);
      failures.push(
        `FAILED ${suite.name.replace(/^.*?\/(packages|apps)\//, '$1/')} > ${test.fullName}\n  ${message}`,
      );
    }
  }
  console.log(
    `${file.replace(/\.json$/, '').padEnd(20)} ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
}
for (const failure of failures) console.log(failure);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
