export { type BearerExtraction, extractBearerToken } from './bearer.js';
export { type ChallengeParams, formatChallenge } from './challenge.js';
export {
  type ClaimsPolicy,
  checkAccessTokenClaims,
  checkIntrospection,
  checkJwtHeader,
  type IntrospectionPolicy,
  type TokenDecision,
} from './claims.js';
export { type BearerErrorCode, OAuthError, type OAuthErrorOptions } from './errors.js';
export {
  checkToolCalls,
  metadataPaths,
  type OAuthMiddleware,
  oauth,
  type ProtectedResourceMetadata,
  type ScopeShortfall,
} from './oauth.js';
export type {
  AuthorizationServerOptions,
  IntrospectionOptions,
  OAuthOptions,
  RequiredClaim,
} from './options.js';
export type { VerifyContext } from './verifier.js';
