export {
  authRefusalReason,
  parseRateLimit,
  type RateLimitItem,
  type RpcRefusal,
  rpcRefusal,
} from './outcomes.js';
export {
  ATTR,
  type CallEnd,
  callAttributes,
  DURATION_BUCKETS,
  endOfAnswer,
  endOfThrown,
  METRIC,
  protocolVersionOf,
  spanNameOf,
  targetOf,
} from './semconv.js';
export {
  type StoreFailure,
  type Tracing,
  type TracingMode,
  type TracingOptions,
  tracing,
} from './tracing.js';
