/** The fixture over stdio, for the tests that show the error model works the same as over HTTP. */
import { wrapServer } from '@mcp-middleware/core';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { errors } from './errors.js';
import { FIXTURE_OPTIONS, fixtureServer } from './test-fixtures.js';

// Masked errors go to stderr as JSON lines (the default onError); the tests read them there.
const errs = errors(FIXTURE_OPTIONS);
const server = fixtureServer(errs, (tool) => console.error(JSON.stringify({ probe: 'aborted', tool })));
await wrapServer(server, { middleware: [errs] }).connect(new StdioServerTransport());
