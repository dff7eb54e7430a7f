import { format } from 'node:util';
import type { Logger } from 'pino';
import { type RedactPath, redact, scrubText } from './redact.js';

/** Where pino keeps a logger's hooks; `Symbol.for`, so it is the same symbol in every copy of pino. */
const HOOKS = Symbol.for('pino.hooks');

type LogMethod = (this: Logger, ...args: unknown[]) => void;
type LogMethodHook = (this: Logger, args: unknown[], method: LogMethod, level: number) => void;

interface WithHooks {
  [HOOKS]: { logMethod?: LogMethodHook; [hook: string]: unknown };
}

/**
 * The arguments of one log call, made safe: the merging object (or error) redacted, the message and its
 * interpolation values formatted once and scrubbed, so `logger.error(err)`, `logger.info({ err }, 'failed: %s',
 * text)` and `logger.warn('Bearer ' + token)` all come out redacted.
 */
function safeArgs(args: unknown[], paths: readonly RedactPath[]): unknown[] {
  let first = args[0];
  let rest = args.slice(1);
  if (typeof first !== 'object' || first === null) {
    rest = args;
    first = undefined;
  }
  let message: string | undefined;
  if (rest.length > 0) {
    message = scrubText(typeof rest[0] === 'string' ? format(...rest) : format('%s', ...rest));
  }
  if (first === undefined) return message === undefined ? [] : [message];
  if (first instanceof Error) {
    const err = redact(first, paths) as { message?: string };
    return [{ err }, message ?? err.message];
  }
  const obj = redact(first, paths);
  return message === undefined ? [obj] : [obj, message];
}

/**
 * A child of `base` that redacts everything logged through it and through its own children: the logger users get
 * to write their lines (an `onError` hook) with the same redaction as the middleware's. Built from pino's public
 * pieces: a child with its own `err` serializer, and a `logMethod` hook (composed with any hook `base` has).
 */
export function guardLogger(base: Logger, paths: readonly RedactPath[]): Logger {
  // Errors arrive already redacted to plain objects; pino's own serializer would retype them as `Object`.
  const guarded = base.child({}, { serializers: { err: (value: unknown) => value } });
  const inherited = (base as unknown as WithHooks)[HOOKS];
  const outer = inherited?.logMethod;
  const logMethod: LogMethodHook = function (this: Logger, args, method, level) {
    const safe = safeArgs(args, paths);
    if (outer) outer.call(this, safe, method, level);
    else method.apply(this, safe);
  };
  (guarded as unknown as WithHooks)[HOOKS] = { ...inherited, logMethod };
  // Level methods are built with the hook when the level is set: set it again so they pick this one up.
  guarded.level = base.level;
  const child = guarded.child;
  // Bindings of children made from it are redacted too (pino does not run hooks on bindings).
  guarded.child = function (this: Logger, bindings, options) {
    return child.call(this, redact(bindings, paths) as typeof bindings, options);
  } as Logger['child'];
  return guarded;
}
