import { openRawSession, postJsonRpc, startTestServer, type TestServer } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { errors, type MaskedErrorReport } from './errors.js';
import { FIXTURE_OPTIONS, fixtureServer, SECRET } from './test-fixtures.js';

// Wrong parameter types from a careless or hostile client, over real HTTP against a real server.

let server: TestServer;
let session: Record<string, string>;
const reports: MaskedErrorReport[] = [];

beforeAll(async () => {
  const errs = errors({ ...FIXTURE_OPTIONS, onError: (_error, report) => reports.push(report) });
  server = await startTestServer({
    middleware: [errs],
    enableJsonResponse: true,
    server: ({ jsonSchemaValidator }) => fixtureServer(errs, () => {}, jsonSchemaValidator),
  });
  session = await openRawSession(server.url, '2025-11-25');
});
afterAll(() => server.close());

async function call(id: number, method: string, params: unknown) {
  const res = await postJsonRpc(server.url, { jsonrpc: '2.0', id, method, params }, session);
  return (await res.json()) as { error?: { code: number; message: string } };
}

describe('parameters of the wrong type', () => {
  it.each([
    ['a tool name that is a number', 'tools/call', { name: 42, arguments: {} }],
    ['tool arguments that are an array', 'tools/call', { name: 'weather', arguments: ['Paris'] }],
    ['a resource uri that is a number', 'resources/read', { uri: 7 }],
  ])('answer -32602 Invalid params, not a masked internal error, for %s', async (_label, method, params) => {
    const before = reports.length;
    const answer = await call(10, method, params);
    expect(answer.error?.code).toBe(-32602);
    expect(answer.error?.message).toMatch(/^Invalid params: (name|arguments|uri): /);
    expect(reports.length).toBe(before);
  });
});

describe('the default error report', () => {
  it('is one JSON line with the error id and stack, credentials scrubbed', async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      printed.push(String(line));
    });
    const errs = errors(FIXTURE_OPTIONS);
    const s = await startTestServer({
      middleware: [errs],
      enableJsonResponse: true,
      server: ({ jsonSchemaValidator }) => fixtureServer(errs, () => {}, jsonSchemaValidator),
    });
    try {
      const headers = await openRawSession(s.url, '2025-11-25');
      const res = await postJsonRpc(
        s.url,
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'crash', arguments: {} } },
        headers,
      );
      await res.text();
      expect(printed).toHaveLength(1);
      const line = JSON.parse(printed[0]!) as { errorId: string; error: { message: string; stack: string } };
      expect(line.errorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(line.error.message).toBe('cannot connect to db (password=[Redacted]');
      expect(line.error.stack).toContain('test-fixtures.ts');
      expect(printed[0]).not.toContain(SECRET);
    } finally {
      spy.mockRestore();
      await s.close();
    }
  });
});
