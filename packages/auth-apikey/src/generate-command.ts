import { parseArgs } from 'node:util';
import { type Duration, toMs } from '@mcp-middleware/core';
import { generateApiKey } from './generate.js';

/** Where the command writes: the process's streams in the CLI, buffers in tests. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const GENERATE_USAGE = `Usage: mcp-middleware-apikey --owner <owner> [options]

Makes a new API key. Prints the key once (it is stored nowhere) and the record to put in your key store,
which holds only a SHA-256 hash of the secret.

Options:
  --owner <owner>         who the key belongs to (required)
  --tenant <tenant>       the owner's tenant
  --scope <scope>         a scope the key grants; repeat for several
  --name <label>          a label for people, e.g. "ci"
  --expires-in <duration> e.g. 90d, 12h
  --expires-at <date>     an ISO 8601 date
  --json                  print {"key", "record"} as one JSON object
  -h, --help              show this help
`;

/**
 * The key generator as a function, so it can be tested without a process: returns the exit code (0, or 2 for
 * bad arguments).
 */
export function runGenerateCommand(
  argv: readonly string[],
  io: CommandIo,
  now: () => number = Date.now,
): number {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    io.stderr(`mcp-middleware-apikey: ${(error as Error).message}\n\n${GENERATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(GENERATE_USAGE);
    return 0;
  }
  try {
    if (values.owner === undefined) throw new TypeError('--owner is required');
    if (values['expires-in'] !== undefined && values['expires-at'] !== undefined) {
      throw new TypeError('give --expires-in or --expires-at, not both');
    }
    let expiresAt: string | undefined;
    if (values['expires-in'] !== undefined) {
      const ms = toMs(values['expires-in'] as Duration, '--expires-in');
      expiresAt = new Date(now() + ms).toISOString();
    } else if (values['expires-at'] !== undefined) {
      const at = Date.parse(values['expires-at']);
      if (Number.isNaN(at)) throw new TypeError('--expires-at must be an ISO 8601 date');
      expiresAt = new Date(at).toISOString();
    }
    const { key, record } = generateApiKey({
      owner: values.owner,
      ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
      scopes: values.scope ?? [],
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    if (values.json) {
      io.stdout(`${JSON.stringify({ key, record })}\n`);
    } else {
      io.stdout(
        `API key (shown once: hand it to its owner now, it cannot be recovered):\n${key}\n\n` +
          `Record for your key store (holds only a hash of the secret):\n${JSON.stringify(record, null, 2)}\n`,
      );
    }
    return 0;
  } catch (error) {
    io.stderr(`mcp-middleware-apikey: ${(error as Error).message}\n`);
    return 2;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      owner: { type: 'string' },
      tenant: { type: 'string' },
      scope: { type: 'string', multiple: true },
      name: { type: 'string' },
      'expires-in': { type: 'string' },
      'expires-at': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
