/**
 * A minimal OTLP/HTTP trace receiver for tests: what a collector would get, decoded. Used by this package's tests
 * and the demo's; you can point your own exporter setup at it too.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP/JSON as a collector receives it (opentelemetry-proto's JSON mapping: ids in hex, typed values). */
export interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: OtlpValue }>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number; message?: string };
}
export interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{ scope: { name: string; version?: string }; spans: OtlpSpan[] }>;
  }>;
}

/** A minimal OTLP/HTTP trace receiver on loopback: keeps every decoded export request. */
export class OtlpReceiver {
  readonly received: Array<{ contentType: string | undefined; body: OtlpExport }> = [];
  readonly server: Server = createServer((req, res) => void this.#handle(req, res));

  /** Listens on a free loopback port; returns the traces endpoint (`http://127.0.0.1:PORT/v1/traces`). */
  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    this.received.push({
      contentType: req.headers['content-type'],
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  /** Every span received so far, with its scope name and resource attributes. */
  spans(): Array<OtlpSpan & { scope: string; resource: Record<string, unknown> }> {
    return this.received.flatMap(({ body }) =>
      body.resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) =>
          ss.spans.map((span) => ({
            ...span,
            scope: ss.scope.name,
            resource: Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue])),
          })),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
  }
}

/** A span's attributes as plain values. */
export function attributesOf(span: OtlpSpan): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries(
    span.attributes.map((a) => [
      a.key,
      a.value.stringValue ?? (a.value.intValue === undefined ? a.value.boolValue : Number(a.value.intValue)),
    ]),
  );
}
