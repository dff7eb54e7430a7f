import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { readBounded } from './body.js';
import { type Duration, toMs } from './duration.js';
import type { McpHandler } from './handler.js';
import { isLoopbackHostname } from './origin.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A Node `http` / Express listener for a handler. In Express, mount it before any body parser
 * (`app.all('/mcp', listener)`; the handler reads the body itself, under its own size limit).
 */
export function toNodeListener(handler: McpHandler): NodeListener {
  return getRequestListener(async (request, env) => {
    const { incoming, outgoing } = (env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };
    if (outgoing) giveConnectionSignal(request as NodeRequest, outgoing);
    const response = await handler.fetch(request, {
      clientAddress: incoming?.socket.remoteAddress,
      ...(incoming ? { readBody: (maxBytes: number) => readIncoming(incoming, request, maxBytes) } : {}),
      // Node merges these with the response's own headers when it writes them.
      ...(outgoing
        ? {
            setHeader: (name: string, value: string) => void outgoing.setHeader(name, value),
            // 'close' comes once the response is written or the socket went away: no body copy needed to know.
            onFinished: (listener: (aborted: boolean) => void) => {
              // Asked after the connection closed (the client went away mid-upload): 'close' has been and gone.
              if (outgoing.closed) queueMicrotask(() => listener(!outgoing.writableFinished));
              else outgoing.once('close', () => listener(!outgoing.writableFinished));
            },
          }
        : {}),
    });
    if (incoming && outgoing) closeIfBodyUnread(incoming, outgoing);
    return response;
  });
}

type NodeRequest = Request & {
  [CONNECTION]?: ServerResponse;
  [SIGNAL]?: AbortSignal;
};
const CONNECTION = Symbol('mcp-middleware.connection');
const SIGNAL = Symbol('mcp-middleware.signal');

/**
 * `request.signal` as the adapter's own Request has it (aborted when the client goes away before the response is
 * written), made on first read from the connection alone. The adapter's Request builds a whole web Request, body
 * stream and all, when its signal is read, and SDK v2 reads it on every call. One descriptor for every request, so
 * they all keep one shape.
 */
const CONNECTION_SIGNAL: PropertyDescriptor = {
  get(this: NodeRequest): AbortSignal {
    if (this[SIGNAL]) return this[SIGNAL];
    const outgoing = this[CONNECTION]!;
    const controller = new AbortController();
    const closed = () => {
      if (outgoing.writableFinished) return;
      controller.abort(
        outgoing.req.errored ?? new Error('the client closed the connection before the response was sent'),
      );
    };
    if (outgoing.closed) closed();
    else outgoing.once('close', closed);
    this[SIGNAL] = controller.signal;
    return controller.signal;
  },
  configurable: true,
};

function giveConnectionSignal(request: NodeRequest, outgoing: ServerResponse): void {
  request[CONNECTION] = outgoing;
  Object.defineProperty(request, 'signal', CONNECTION_SIGNAL);
}

/**
 * Reads a request body from Node's stream itself: no web `Request`, `AbortSignal` or `ReadableStream` is built for
 * it, which is most of what a small MCP request costs the adapter. The bytes are left on the message as `rawBody`,
 * where the adapter finds them should anything read `request.body` afterwards. If something already started
 * reading the stream (it touched `request.body`), the body is read through the `Request`.
 */
function readIncoming(
  incoming: IncomingMessage,
  request: Request,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (incoming.readableFlowing !== null || incoming.readableDidRead) return readBounded(request, maxBytes);
  if (Number(incoming.headers['content-length']) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error, tooLarge = false) => {
      incoming.off('data', onData).off('end', onEnd).off('error', done).off('close', onClose);
      if (error) return reject(error);
      if (tooLarge) {
        // Stop taking the upload; the listener answers with `Connection: close` since the body was not all read.
        incoming.pause();
        return resolve(undefined);
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      (incoming as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) done(undefined, true);
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onClose = () => {
      if (!incoming.complete)
        done(new Error('the client closed the connection before sending the whole body'));
    };
    incoming.on('data', onData).once('end', onEnd).once('error', done).once('close', onClose);
  });
}

/**
 * Answered before the request body arrived (413, a 404 for an unknown session): the rest of the upload would be
 * drained for a moment and the socket then dropped under the client, failing its next request on that keep-alive
 * connection. Saying `Connection: close` makes the client open a fresh one instead.
 */
function closeIfBodyUnread(incoming: IncomingMessage, outgoing: ServerResponse): void {
  if (!incoming.complete && !outgoing.headersSent) outgoing.setHeader('connection', 'close');
}

export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. @default 3000 */
  port?: number;
  /** Address to bind. Loopback by default: exposing a server is a decision to make, not a default. @default '127.0.0.1' */
  hostname?: string;
  /** Close the handler (draining it) and the server on these signals. @default [] */
  shutdownSignals?: readonly NodeJS.Signals[];
  /** Longest a client may take to send a request's headers (slowloris). Node's own default is 60 s. @default '10s' */
  headersTimeout?: Duration;
  /**
   * Longest a client may take to send a whole request, headers and body (responses, SSE streams included, are not
   * limited). Node's own default is 300 s. @default '30s'
   */
  requestTimeout?: Duration;
  /** How long an idle keep-alive connection stays open. Behind a load balancer, set it above the balancer's. @default '5s' */
  keepAliveTimeout?: Duration;
  /**
   * Most connections open at once from one client address; more are closed as they arrive. `false` for none
   * (behind a reverse proxy every connection comes from the proxy: cap at the proxy instead).
   * @default 256
   */
  maxConnectionsPerAddress?: number | false;
}

export interface NodeServer {
  readonly server: Server;
  /** The base URL the server answers on, e.g. `http://127.0.0.1:3000`. */
  readonly url: URL;
  /** Closes the handler (draining in-flight calls) and then the HTTP server. */
  close(): Promise<void>;
}

interface ConnectionLimits {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxConnectionsPerAddress: number | false;
}

function connectionLimits(options: ServeOptions): ConnectionLimits {
  const headersTimeout = toMs(options.headersTimeout ?? '10s', 'serve: headersTimeout');
  const requestTimeout = toMs(options.requestTimeout ?? '30s', 'serve: requestTimeout');
  const keepAliveTimeout = toMs(options.keepAliveTimeout ?? '5s', 'serve: keepAliveTimeout');
  for (const [name, ms] of Object.entries({ headersTimeout, requestTimeout, keepAliveTimeout })) {
    if (ms <= 0) throw new TypeError(`serve: ${name} must be greater than 0`);
  }
  if (headersTimeout > requestTimeout) {
    throw new TypeError('serve: headersTimeout must not exceed requestTimeout');
  }
  const maxConnectionsPerAddress = options.maxConnectionsPerAddress ?? 256;
  if (
    maxConnectionsPerAddress !== false &&
    (!Number.isInteger(maxConnectionsPerAddress) || maxConnectionsPerAddress < 1)
  ) {
    throw new TypeError(
      `serve: maxConnectionsPerAddress must be a whole number >= 1 or false, got ${maxConnectionsPerAddress}`,
    );
  }
  return { headersTimeout, requestTimeout, keepAliveTimeout, maxConnectionsPerAddress };
}

/** Closes connections from an address beyond `max` as they arrive. The count map holds only open connections. */
function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Serves a handler with Node's `http` module. When bound to loopback, only loopback `Host` headers are accepted
 * (unless the handler was given its own `allowedHosts`): that is what stops DNS rebinding against a local server.
 *
 * Pass a function instead of a handler when the handler must know its own URL, which with `port: 0` exists only
 * once the port is bound (an OAuth resource identifier, say): it is called with the server's base URL, and requests
 * that arrive before it returns wait for it.
 *
 * Slow or greedy clients are bounded: header and request timeouts, a keep-alive timeout, connections per address.
 */
export async function serve(
  handler: McpHandler | ((url: URL) => McpHandler | Promise<McpHandler>),
  options: ServeOptions = {},
): Promise<NodeServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  let listener: NodeListener | undefined;
  let built: Promise<NodeListener> | undefined;
  const limits = connectionLimits(options);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeout,
      // Node checks the two timeouts on this interval (30 s by default), which would let them overrun by that much.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeout),
    },
    (req, res) => {
      if (listener) listener(req, res);
      else void built?.then((l) => l(req, res));
    },
  );
  if (limits.maxConnectionsPerAddress !== false)
    capConnectionsPerAddress(server, limits.maxConnectionsPerAddress);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = new URL(`http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`);
  let mcp: McpHandler;
  try {
    const made = typeof handler === 'function' ? handler(url) : handler;
    // The Host restriction is in place before any request, waiting ones included, reaches the handler.
    built = Promise.resolve(made).then((h) => {
      if (isLoopbackHostname(hostname)) h.restrictHostsToLoopback(port);
      return toNodeListener(h);
    });
    built.catch(() => {}); // the error reaches the caller below; waiting requests are closed with the server
    mcp = await made;
    listener = await built;
  } catch (error) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const signal of options.shutdownSignals ?? []) process.off(signal, onSignal);
      await mcp.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };
  const onSignal = () => void close();
  for (const signal of options.shutdownSignals ?? []) process.once(signal, onSignal);
  // Whoever closes the handler (a health middleware on SIGTERM, say) closes the server too.
  void mcp.closed.then(() => close());
  return { server, url, close };
}
