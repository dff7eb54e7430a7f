import { MiddlewareError } from './errors.js';

/** 1 MiB: MCP messages are small; large payloads belong in resources, not in one JSON-RPC request. */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;

function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  if (value === 'application/json') return true;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Reads a request body under a size limit: the bytes, or undefined when the body is larger. An adapter that holds
 * the runtime's own stream (Node's `IncomingMessage`) gives one, so the body is read without a web `Request` or
 * `ReadableStream` being built for it.
 */
export type BodyReader = (maxBytes: number) => Promise<Uint8Array | undefined>;

// Stateless when not streaming, so one decoder serves every request.
const UTF8 = new TextDecoder();

/**
 * Reads a JSON request body under `maxBytes`, refusing a declared `Content-Length` over the limit without reading.
 * Returns undefined when there is no JSON body to read (not a POST, or another content type).
 */
export async function readJsonBody(req: Request, maxBytes: number, read?: BodyReader): Promise<unknown> {
  if (req.method !== 'POST' || !isJsonContentType(req.headers.get('content-type'))) return undefined;
  if (read === undefined) {
    if (req.body === null) return undefined;
    read = (limit) => readBounded(req, limit);
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = await read(maxBytes);
  } catch (error) {
    // The client went away mid-upload (or the runtime failed the stream): its problem, not a server error.
    throw new MiddlewareError('bad_request', 'Bad Request: the request body could not be read', {
      cause: error,
    });
  }
  if (bytes === undefined) {
    throw new MiddlewareError(
      'payload_too_large',
      `Payload Too Large: request body must not exceed ${maxBytes} bytes`,
    );
  }
  try {
    return JSON.parse(UTF8.decode(bytes));
  } catch {
    throw new MiddlewareError('parse_error', 'Parse error: Invalid JSON');
  }
}

/**
 * Reads a request's or response's body, up to `maxBytes`: undefined when it is larger (a declared
 * `Content-Length` over the limit is refused without reading, and reading stops as soon as the limit is passed).
 * An empty body reads as zero bytes. For any body from outside: memory stays bounded whatever the peer sends.
 */
export async function readBounded(
  message: Request | Response,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const body = message.body;
  if (body === null) return new Uint8Array(0);
  if (Number(message.headers.get('content-length')) > maxBytes) {
    await body.cancel().catch(() => {});
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return concat(chunks, size);
}

function concat(chunks: Uint8Array<ArrayBuffer>[], size: number): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) return chunks[0]!;
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

/**
 * Calls `done` once a response has been sent: at once when it has no body, else when its body was read to the end,
 * or with `aborted` true when it failed or was cancelled (the client went away). Send the returned response.
 */
export function onBodyEnd(response: Response, done: (aborted: boolean) => void): Response {
  if (response.body === null) {
    done(false);
    return response;
  }
  let ended = false;
  const end = (aborted: boolean) => {
    if (ended) return;
    ended = true;
    done(aborted);
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          controller.close();
          end(false);
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        controller.error(error);
        end(true);
      }
    },
    cancel(reason) {
      end(true);
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
