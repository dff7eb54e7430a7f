/** A failed or timed-out Redis command. */
export class RedisCommandError extends Error {
  override readonly name = 'RedisCommandError';
}

export interface RedisCommands {
  /** Runs `command`, failing with a `RedisCommandError` that names `what` when it fails or outlasts the timeout. */
  run<T>(what: string, command: () => Promise<T>): Promise<T>;
}

/** Every Redis call under one timeout: an unresponsive Redis must not hold a stream or a request. */
export function redisCommands(timeoutMs: number): RedisCommands {
  return {
    async run(what, command) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          command(),
          new Promise<never>((_, reject) => {
            // A timer that fires late (a busy event loop) looks once more after the loop has read its sockets,
            // so an answer Redis gave in time is used rather than taken for an outage.
            timer = setTimeout(
              () =>
                setImmediate(() =>
                  reject(new RedisCommandError(`${what}: Redis did not answer within ${timeoutMs} ms`)),
                ),
              timeoutMs,
            );
          }),
        ]);
      } catch (error) {
        if (error instanceof RedisCommandError) throw error;
        throw new RedisCommandError(`${what}: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
