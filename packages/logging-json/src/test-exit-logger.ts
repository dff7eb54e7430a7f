/**
 * For turn-writer.test.ts, run as a child process: logs two lines to stderr with jsonLogger's defaults, then ends
 * the process in the same turn of the event loop, before the batched lines would be written on their own.
 * argv[2]: 'exit' (process.exit) or 'throw' (an uncaught exception).
 */
import { jsonLogger } from './index.js';

const log = jsonLogger();
log.logger.info({ n: 1 }, 'first');
log.logger.info({ n: 2 }, 'second');
if (process.argv[2] === 'throw') throw new Error('boom after logging');
process.exit(0);
