import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { McpHandler } from './handler.js';
import { isLoopbackHostname } from './origin.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A Node `http` / Express listener for a handler. In Express, mount it before any body parser
 * (`app.all('/mcp', listener)`; the handler reads the body itself, under its own size limit).
 */
export function toNodeListener(handler: McpHandler): NodeListener {
  return getRequestListener((request, env) => {
    const { incoming, outgoing } = (env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };
    return handler.fetch(request, {
      clientAddress: incoming?.socket.remoteAddress,
      // Node merges these with the response's own headers when it writes them.
      ...(outgoing
        ? {
            setHeader: (name: string, value: string) => void outgoing.setHeader(name, value),
            // 'close' comes once the response is written or the socket went away: no body copy needed to know.
            onFinished: (listener: (aborted: boolean) => void) =>
              void outgoing.once('close', () => listener(!outgoing.writableFinished)),
          }
        : {}),
    });
  });
}

export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. @default 3000 */
  port?: number;
  /** Address to bind. Loopback by default: exposing a server is a decision to make, not a default. @default '127.0.0.1' */
  hostname?: string;
  /** Close the handler (draining it) and the server on these signals. @default [] */
  shutdownSignals?: readonly NodeJS.Signals[];
}

export interface NodeServer {
  readonly server: Server;
  /** The base URL the server answers on, e.g. `http://127.0.0.1:3000`. */
  readonly url: URL;
  /** Closes the handler (draining in-flight calls) and then the HTTP server. */
  close(): Promise<void>;
}

/**
 * Serves a handler with Node's `http` module. When bound to loopback, only loopback `Host` headers are accepted
 * (unless the handler was given its own `allowedHosts`): that is what stops DNS rebinding against a local server.
 *
 * Pass a function instead of a handler when the handler must know its own URL, which with `port: 0` exists only
 * once the port is bound (an OAuth resource identifier, say): it is called with the server's base URL, and requests
 * that arrive before it returns wait for it.
 */
export async function serve(
  handler: McpHandler | ((url: URL) => McpHandler | Promise<McpHandler>),
  options: ServeOptions = {},
): Promise<NodeServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  let listener: NodeListener | undefined;
  let built: Promise<NodeListener> | undefined;
  const server = createServer((req, res) => {
    if (listener) listener(req, res);
    else void built?.then((l) => l(req, res));
  });
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
