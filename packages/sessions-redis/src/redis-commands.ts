import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A failed or timed-out Redis command. */
export class RedisCommandError extends Error {
  override readonly name = 'RedisCommandError';
}

export interface RedisCommands {
  /** Runs `command`, failing with a `RedisCommandError` that names `what` when it fails or outlasts the timeout. */
  run<T>(what: string, command: () => Promise<T>): Promise<T>;
}

/** Makes the error a failed or timed-out command rejects with (each store has its own error class). */
export type CommandErrorFactory = (message: string, cause?: unknown) => Error;

const commandError: CommandErrorFactory = (message, cause) =>
  new RedisCommandError(message, cause === undefined ? undefined : { cause });

/** Every Redis call under one timeout: an unresponsive Redis must not hold a stream or a request. */
export function redisCommands(timeoutMs: number, toError: CommandErrorFactory = commandError): RedisCommands {
  return {
    async run(what, command) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut: Error | undefined;
      try {
        return await Promise.race([
          command(),
          new Promise<never>((_, reject) => {
            // A timer that fires late (a busy event loop) looks once more after the loop has read its sockets,
            // so an answer Redis gave in time is used rather than taken for an outage.
            timer = setTimeout(
              () =>
                setImmediate(() => {
                  timedOut = toError(`${what}: Redis did not answer within ${timeoutMs} ms`);
                  reject(timedOut);
                }),
              timeoutMs,
            );
          }),
        ]);
      } catch (error) {
        if (error !== undefined && error === timedOut) throw error;
        throw toError(`${what}: ${(error as Error)?.message ?? String(error)}`, error);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A Lua script run by its SHA-1 (`EVALSHA`); the whole text is sent (`EVAL`) only when Redis does not know it yet. */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: Redis | Cluster,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      // A Redis that restarted (or never ran it) does not know the script yet: send it once.
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return redis.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}
