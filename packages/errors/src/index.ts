export {
  type AnswerDecision,
  classifyError,
  decideAnswer,
  decideToolAnswer,
  type ErrorClass,
  formatDuration,
  type ToolOutcome,
} from './classify.js';
export {
  CALL_META_KEY,
  ERROR_ID_META_KEY,
  type ErrorsMiddleware,
  type ErrorsOptions,
  errors,
  type MaskedErrorReport,
  type MaskedErrorSource,
  type ToolArgs,
} from './errors.js';
export { codeForStatus, type FetchWithTimeoutInit, fetchWithTimeout } from './fetch.js';
export { invalidParams, ProtocolError, ToolError, type ToolErrorOptions } from './tool-error.js';
