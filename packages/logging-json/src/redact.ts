// Redaction lives in core, shared with tracing-otel, so logs and spans hide the same things.
export {
  compileRedactPaths,
  field,
  isSensitiveKey,
  MAX_FIELD,
  REDACTED,
  type RedactPath,
  redact,
  scrubText,
} from '@mcp-middleware/core';
