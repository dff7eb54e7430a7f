import { MiddlewareError } from './errors.js';

/** 1 MiB: MCP messages are small; large payloads belong in resources, not in one JSON-RPC request. */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;

function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Reads a JSON request body under `maxBytes`, refusing a declared `Content-Length` over the limit without reading.
 * Returns undefined when there is no JSON body to read (not a POST, or another content type).
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  if (req.method !== 'POST' || !isJsonContentType(req.headers.get('content-type')) || req.body === null) {
    return undefined;
  }
  const tooLarge = () =>
    new MiddlewareError(
      'payload_too_large',
      `Payload Too Large: request body must not exceed ${maxBytes} bytes`,
    );
  if (Number(req.headers.get('content-length')) > maxBytes) throw tooLarge();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const text = new TextDecoder().decode(concat(chunks, size));
  try {
    return JSON.parse(text);
  } catch {
    throw new MiddlewareError('parse_error', 'Parse error: Invalid JSON');
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}
