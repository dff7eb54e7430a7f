export {
  checkLabels,
  chooseSource,
  type JsonDecision,
  type LabelDecision,
  parseJsonAnswer,
  parseLabel,
  type SamplingPreference,
  type SamplingSource,
  type SourceDecision,
  validateAnswer,
} from './decisions.js';
export { SamplingError, type SamplingFailure } from './errors.js';
export type {
  FallbackModel,
  GenerateFunction,
  ModelMessage,
  ModelRequest,
  ModelResponse,
} from './model.js';
export {
  type InputRequiredResult,
  SamplingInputRequired,
  withSampling,
} from './round-trip.js';
export {
  type ClassifyOptions,
  canSample,
  classify,
  type SampleJsonOptions,
  type SampleRequest,
  type SamplingContext,
  type SamplingContextV2,
  type SamplingExtra,
  type SamplingExtraV1,
  type SamplingOptions,
  type SamplingServer,
  type SamplingTarget,
  sample,
  sampleJson,
  samplingContext,
} from './sampling.js';
export type {
  InferOutput,
  StandardIssue,
  StandardResult,
  StandardSchemaProps,
  StandardSchemaV1,
} from './standard-schema.js';
