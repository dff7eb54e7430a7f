export {
  type ClientLogDecision,
  type ClientLogInputs,
  decideClientLog,
  LOG_LEVEL_META_KEY,
  LOGGING_LEVELS,
  type LoggingServer,
  type LowLevelServer,
} from './client-log.js';
export {
  type CallLogger,
  type JsonLogger,
  type JsonLoggerOptions,
  jsonLogger,
  type LogFields,
  type ToolExtra,
} from './json-logger.js';
export {
  type CallOutcome,
  type ClassifiedCall,
  classifyResult,
  classifyThrown,
  parseTraceparent,
  type TraceContext,
} from './outcome.js';
export { REDACTED, redact, scrubText } from './redact.js';
