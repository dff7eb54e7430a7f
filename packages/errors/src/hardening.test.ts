import { openRawSession, postJsonRpc, startTestServer, type TestServer } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, type MaskedErrorReport } from './errors.js';
import { FIXTURE_OPTIONS, fixtureServer } from './test-fixtures.js';

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
