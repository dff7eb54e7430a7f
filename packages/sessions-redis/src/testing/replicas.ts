/**
 * A multi-replica test kit: MCP server replicas as real child processes, and a round-robin reverse proxy in front
 * of them that streams both ways (SSE included), as a load balancer without session affinity does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { collectOutput, type ProcessOutput, typeScriptNodeArgs } from '@mcp-middleware/core/testing';

export interface Replica {
  readonly name: string;
  /** The replica's MCP endpoint. */
  readonly url: URL;
  readonly output: ProcessOutput;
  /** Sends `signal` (default SIGTERM) and resolves once the process exited and its output is drained. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const DEFAULT_SCRIPT = fileURLToPath(new URL('../test-replica.ts', import.meta.url));

/**
 * Starts a replica process (`script`, default `src/test-replica.ts`) with `REPLICA=name` and `env`, and waits
 * (up to 30 s: a loaded CI machine, a Node that starts slower) for its `listening on <url>` line.
 */
export async function startReplica(options: {
  name: string;
  env?: Record<string, string>;
  script?: string;
}): Promise<Replica> {
  const child: ChildProcess = spawn(process.execPath, typeScriptNodeArgs(options.script ?? DEFAULT_SCRIPT), {
    env: { ...process.env, REPLICA: options.name, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await output.closed;
  };
  let url: URL;
  try {
    url = new URL(
      await output.waitFor(
        (text) => /listening on (\S+)/.exec(text)?.[1],
        `replica ${options.name} to listen`,
        30_000,
      ),
    );
  } catch (error) {
    await kill('SIGKILL');
    throw error;
  }
  return { name: options.name, url, output, kill };
}

export interface Proxy {
  /** The proxy's base URL: a request to `<proxy><path>` goes to `<target origin><path>`. */
  readonly url: URL;
  /** Chooses the target (an index into `targets`) for each request, numbered from 0. Default: round robin. */
  route(pick: (requestNumber: number, req: IncomingMessage) => number): void;
  /**
   * Drops every open connection, as a load balancer restart does: responses in flight, SSE streams included, end
   * abruptly. Resolves with how many were dropped.
   */
  cut(): number;
  close(): Promise<void>;
}

/** Connection-level headers a proxy must not pass on (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function forwardable(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/**
 * A reverse proxy on 127.0.0.1 over `targets`: streams request and response bodies as they come (no buffering, so
 * SSE passes through), rewrites `Host` to the target's (as nginx's `proxy_pass` does), adds `X-Forwarded-For`,
 * answers 502 when the target is down, and cuts the client's response when the target dies mid-stream.
 */
export async function startRoundRobinProxy(targets: readonly URL[]): Promise<Proxy> {
  if (targets.length === 0) throw new TypeError('startRoundRobinProxy: give at least one target');
  let pick: (requestNumber: number, req: IncomingMessage) => number = (n) => n % targets.length;
  let count = 0;
  const agent = new Agent({ keepAlive: true });
  const responses = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    responses.add(res);
    res.once('close', () => responses.delete(res));
    const index = pick(count++, req);
    const target = targets[index];
    if (!target) {
      res.writeHead(502).end(`no target ${index}`);
      return;
    }
    const upstream = httpRequest(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          ...forwardable(req.headers),
          host: target.host,
          'x-forwarded-for': req.socket.remoteAddress ?? '',
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        res.flushHeaders();
        answer.pipe(res);
        // The target went away mid-body: the client must see its stream cut, not a clean end.
        answer.once('aborted', () => res.destroy());
        answer.once('error', () => res.destroy());
      },
    );
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
      else res.destroy();
    });
    // The client went away: so does the upstream request (an SSE stream the replica would otherwise keep).
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    route(next) {
      pick = next;
    },
    cut() {
      const open = [...responses];
      for (const res of open) res.destroy();
      return open.length;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
