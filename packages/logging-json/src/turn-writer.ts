import type { DestinationStream } from 'pino';

/** What the writer needs of pino's destination (SonicBoom): synchronous writes and a flush. */
interface SyncDestination extends DestinationStream {
  flush?(cb?: (error?: Error) => void): void;
  flushSync?(): void;
}

/**
 * Gathers the lines made in one turn of the event loop and writes them with one call at the end of the turn
 * (`setImmediate`): under load that is one system call for many lines instead of one per line. Whatever is held
 * is written on `flush()` / `flushSync()` (the logger's `close()` flushes) and, synchronously, on process exit, so
 * a process that ends (even on an uncaught exception) loses nothing; only a hard kill within the turn does.
 */
export class TurnWriter implements DestinationStream {
  readonly #out: SyncDestination;
  #pending = '';
  #scheduled = false;
  readonly #flushNow = (): void => this.#write();

  constructor(out: SyncDestination) {
    this.#out = out;
  }

  write(line: string): void {
    this.#pending += line;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flushNow);
    // Only while lines are held: no listener piles up on `process` for an idle logger.
    process.on('exit', this.#flushNow);
  }

  /** Writes what is held, then lets the destination flush its own buffer. */
  flush(cb?: (error?: Error) => void): void {
    this.#write();
    if (typeof this.#out.flush === 'function') this.#out.flush(cb);
    else cb?.();
  }

  /** Writes what is held (the destination writes synchronously). */
  flushSync(): void {
    this.#write();
    this.#out.flushSync?.();
  }

  #write(): void {
    if (this.#scheduled) {
      this.#scheduled = false;
      process.off('exit', this.#flushNow);
    }
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    try {
      this.#out.write(text);
    } catch {
      // Written from a timer or the exit hook, a throw would crash the process: a log line written after the
      // logger's file was closed (a call ending after `close()`) is dropped, as pino's own write would refuse it.
    }
  }
}
