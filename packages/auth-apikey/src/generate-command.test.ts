import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { apiKeyAuth } from './api-key-auth.js';
import { GENERATE_USAGE, runGenerateCommand } from './generate-command.js';
import { type ApiKeyRecord, MemoryKeyStore } from './key-store.js';

function run(argv: string[], now?: () => number) {
  let stdout = '';
  let stderr = '';
  const code = runGenerateCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, now);
  return { code, stdout, stderr };
}

describe('the mcp-middleware-apikey command', () => {
  it('prints a key once and a record that a key store accepts for exactly that key', async () => {
    const { code, stdout, stderr } = run([
      '--owner',
      'alice',
      '--tenant',
      'acme',
      '--scope',
      'read',
      '--scope',
      'tools:echo',
      '--name',
      'ci',
    ]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const key = /^(mcpk_\S+)$/m.exec(stdout)![1]!;
    expect(stdout.split(key)).toHaveLength(2); // printed once
    const record = JSON.parse(stdout.slice(stdout.indexOf('{'))) as ApiKeyRecord;
    expect(record).toMatchObject({
      owner: 'alice',
      tenant: 'acme',
      scopes: ['read', 'tools:echo'],
      name: 'ci',
    });
    expect(JSON.stringify(record)).not.toContain(key.slice(22));

    const auth = apiKeyAuth({ store: new MemoryKeyStore([record]) });
    const verdict = await auth.verify(key);
    expect(verdict.ok && verdict.authInfo).toMatchObject({
      clientId: record.id,
      scopes: ['read', 'tools:echo'],
    });
  });

  it('sets the expiry from --expires-in or --expires-at', () => {
    const now = Date.parse('2026-11-25T00:00:00Z');
    const inNinety = JSON.parse(run(['--owner', 'a', '--expires-in', '90d', '--json'], () => now).stdout);
    expect(inNinety.record.expiresAt).toBe('2027-02-23T00:00:00.000Z');
    const at = JSON.parse(run(['--owner', 'a', '--expires-at', '2027-06-01', '--json']).stdout);
    expect(at.record.expiresAt).toBe('2027-06-01T00:00:00.000Z');
    expect(at.key).toMatch(/^mcpk_/);
  });

  it.each([
    ['no owner', [], /--owner is required/],
    ['an unknown option', ['--owner', 'a', '--bogus'], /Unknown option '--bogus'/],
    ['a bad duration', ['--owner', 'a', '--expires-in', 'soon'], /--expires-in must be/],
    ['a bad date', ['--owner', 'a', '--expires-at', 'tomorrow'], /--expires-at must be an ISO 8601 date/],
    ['both expiries', ['--owner', 'a', '--expires-in', '1d', '--expires-at', '2027-01-01'], /not both/],
    ['a scope with a space', ['--owner', 'a', '--scope', 'read write'], /scopes must be/],
  ])('exits 2 with a message and prints no key for %s', (_what, argv, message) => {
    const { code, stdout, stderr } = run(argv);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).not.toContain('mcpk_');
  });

  it('prints usage for --help', () => {
    expect(run(['--help'])).toEqual({ code: 0, stdout: GENERATE_USAGE, stderr: '' });
  });

  it('runs as a real process from its entry file', async () => {
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(
      tsx,
      ['--conditions=mcp-middleware-source', cli, '--owner', 'svc', '--json'],
      { timeout: 15_000 },
    );
    const { key, record } = JSON.parse(stdout) as { key: string; record: ApiKeyRecord };
    const verdict = await apiKeyAuth({ store: new MemoryKeyStore([record]) }).verify(key);
    expect(verdict.ok).toBe(true);
  });
});
