// The parts of oidc-provider the demo's development authorization server uses (the package ships no types).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface Configuration {
    clients?: Array<Record<string, unknown>>;
    cookies?: { keys: string[] };
    scopes?: string[];
    clientDefaults?: Record<string, unknown>;
    extraClientMetadata?: {
      properties: string[];
      validator?(ctx: unknown, key: string, value: unknown, metadata: Record<string, unknown>): void;
    };
    features?: Record<string, unknown>;
    findAccount?(
      ctx: unknown,
      id: string,
    ): Promise<{ accountId: string; claims(): Promise<Record<string, unknown>> }>;
    ttl?: Record<string, number>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: 'server_error', listener: (ctx: unknown, error: Error) => void): this;
    proxy: boolean;
  }

  export const errors: { InvalidTarget: new (description?: string) => Error };
}
