// The few parts of oidc-provider the tests use (the package ships no types; @types/oidc-provider is not installed).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderClient {
    readonly clientId: string;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'jwt' | 'opaque';
    jwt?: { sign?: { alg?: string } };
  }

  export interface Configuration {
    clients?: Array<Record<string, unknown>>;
    jwks?: { keys: Array<Record<string, unknown>> };
    cookies?: { keys: string[] };
    scopes?: string[];
    extraClientMetadata?: {
      properties: string[];
      validator?(ctx: unknown, key: string, value: unknown, metadata: Record<string, unknown>): void;
    };
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      introspection?: { enabled: boolean };
      revocation?: { enabled: boolean };
      registration?: { enabled: boolean };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?(ctx: unknown, client: ProviderClient, oneOf?: string[]): string | undefined;
        useGrantedResource?(ctx: unknown, model: unknown): boolean;
        getResourceServerInfo?(ctx: unknown, indicator: string, client: ProviderClient): ResourceServerInfo;
      };
    };
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: 'server_error', listener: (ctx: unknown, error: Error) => void): this;
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
  };
}
