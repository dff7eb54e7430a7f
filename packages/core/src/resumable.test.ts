import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from './event-store.js';
import { createMiddlewareHandler, type ServerFactory } from './handler.js';
import {
  connectClient,
  identifyByHeader,
  openRawSession,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from './testing/index.js';
import type { HandlerHost, Middleware, ServerNotification } from './types.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Parameters<typeof startTestServer>[0]) {
  const s = await startTestServer(options);
  servers.push(s);
  return s;
}

/** A plain in-process event store, as a user might write one: events in one list, ids `<stream>#<n>`. */
function listEventStore(withLookup = true): EventStore & { events: Array<{ id: string; stream: string }> } {
  const events: Array<{ id: string; stream: string; message: JSONRPCMessage }> = [];
  let next = 0;
  const streamOf = (eventId: string) => events.find((e) => e.id === eventId)?.stream;
  const store: EventStore & { events: typeof events } = {
    events,
    async storeEvent(stream, message) {
      const id = `${stream}#${next++}`;
      events.push({ id, stream, message });
      return id;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const stream = streamOf(lastEventId);
      if (stream === undefined) throw new Error('unknown event');
      const start = events.findIndex((e) => e.id === lastEventId) + 1;
      for (const e of events.slice(start)) {
        // The SDK's priming events are empty: not replayed.
        if (e.stream === stream && 'jsonrpc' in e.message) await send(e.id, e.message);
      }
      return stream;
    },
  };
  if (withLookup) store.getStreamIdForEventId = async (eventId) => streamOf(eventId);
  return store;
}

interface SseEvent {
  id?: string;
  retry?: string;
  data: string;
}

/** Reads SSE events from a response body as they arrive; `cut()` drops the connection. */
function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: SseEvent[] = [];
  return {
    async next(): Promise<SseEvent> {
      for (;;) {
        const event = queue.shift();
        if (event) return event;
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: SseEvent = { data: '' };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).trimStart();
            if (field === 'id') e.id = value;
            else if (field === 'retry') e.retry = value;
            else if (field === 'data') e.data += value;
          }
          if (e.id !== undefined || e.data !== '') queue.push(e);
          end = buffer.indexOf('\n\n');
        }
      }
    },
    cut: () => reader.cancel(),
  };
}

/** A server whose `countdown` tool sends two progress steps, waits for `release()`, then two more and its result. */
function countdownServer() {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const finished: string[] = [];
  const factory: ServerFactory = ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'countdown', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool('countdown', { description: 'Counts to 4 with progress' }, async (extra) => {
      const token = extra._meta?.progressToken ?? 0;
      const step = (progress: number) =>
        extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress, total: 4 },
        });
      await step(1);
      await step(2);
      await released;
      await step(3);
      await step(4);
      finished.push('countdown');
      return { content: [{ type: 'text', text: 'done' }] };
    });
    return server;
  };
  return { factory, release, finished };
}

const countdownCall = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'countdown', arguments: {}, _meta: { progressToken: 'p' } },
};

function progressOf(event: SseEvent): number | string {
  const message = JSON.parse(event.data) as { params?: { progress?: number }; result?: unknown };
  return message.result ? 'result' : (message.params?.progress ?? -1);
}

describe('resumable streams (eventStore)', () => {
  it('gives each event an id, and a client that lost the stream gets the rest exactly once with Last-Event-ID', async () => {
    const store = listEventStore();
    const countdown = countdownServer();
    const s = await start({ server: countdown.factory, eventStore: store, retryInterval: '1500ms' });
    const session = await openRawSession(s.url, '2025-11-25');

    const first = sseReader(await postJsonRpc(s.url, countdownCall, session));
    const priming = await first.next();
    expect(priming.id).toBeDefined();
    expect(priming.retry).toBe('1500');
    const seen = [await first.next(), await first.next()];
    expect(seen.map(progressOf)).toEqual([1, 2]);
    await first.cut();

    countdown.release();
    await waitFor(() => countdown.finished.length === 1, 'the tool to finish while nobody listens');
    const resumed = sseReader(
      await fetch(s.url, {
        headers: { ...session, accept: 'text/event-stream', 'last-event-id': seen[1]!.id! },
      }),
    );
    const rest = [await resumed.next(), await resumed.next(), await resumed.next()];
    expect(rest.map(progressOf)).toEqual([3, 4, 'result']);
    const ids = [priming, ...seen, ...rest].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    await resumed.cut();
  });

  it('keeps sessions apart in a shared store: another session cannot replay these events', async () => {
    const store = listEventStore();
    const countdown = countdownServer();
    countdown.release();
    const s = await start({ server: countdown.factory, eventStore: store });
    const mine = await openRawSession(s.url, '2025-11-25');
    const theirs = await openRawSession(s.url, '2025-11-25');
    const stream = sseReader(await postJsonRpc(s.url, countdownCall, mine));
    const priming = await stream.next();
    await stream.next();
    await stream.cut();
    const stolen = await fetch(s.url, {
      headers: { ...theirs, accept: 'text/event-stream', 'last-event-id': priming.id! },
    });
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).not.toContain('progress');
    // Stored under the session's own name.
    expect(store.events[0]!.stream.startsWith(`${mine['mcp-session-id']}/`)).toBe(true);
  });

  it('works with a store that has no getStreamIdForEventId (the replay is checked before it is sent)', async () => {
    const store = listEventStore(false);
    const countdown = countdownServer();
    const s = await start({ server: countdown.factory, eventStore: store });
    const session = await openRawSession(s.url, '2025-11-25');
    const other = await openRawSession(s.url, '2025-11-25');
    const stream = sseReader(await postJsonRpc(s.url, countdownCall, session));
    await stream.next();
    const step1 = await stream.next();
    await stream.cut();
    countdown.release();
    await waitFor(() => countdown.finished.length === 1, 'the tool to finish');
    const stolen = await fetch(s.url, {
      headers: { ...other, accept: 'text/event-stream', 'last-event-id': step1.id! },
    });
    expect(stolen.status).toBe(500);
    expect(await stolen.text()).not.toContain('progress');
    const resumed = sseReader(
      await fetch(s.url, {
        headers: { ...session, accept: 'text/event-stream', 'last-event-id': step1.id! },
      }),
    );
    expect(
      [await resumed.next(), await resumed.next(), await resumed.next(), await resumed.next()].map(
        progressOf,
      ),
    ).toEqual([2, 3, 4, 'result']);
    await resumed.cut();
  });

  it('refuses settings that cannot work, at creation', () => {
    const store = listEventStore();
    const server = countdownServer().factory;
    expect(() => createMiddlewareHandler({ server, eventStore: store, sessions: false })).toThrow(
      /needs sessions/,
    );
    expect(() => createMiddlewareHandler({ fetch: async () => new Response(), eventStore: store })).toThrow(
      /takes no event store/,
    );
    expect(() => createMiddlewareHandler({ server, retryInterval: '1s' })).toThrow(/needs an eventStore/);
    expect(() => createMiddlewareHandler({ server, eventStore: {} as EventStore })).toThrow(/storeEvent/);
  });
});

describe('notifications to and from sessions (HandlerHost)', () => {
  function hostProbe() {
    let host: HandlerHost | undefined;
    const seen: Array<[ServerNotification, string]> = [];
    const middleware: Middleware = {
      name: 'probe',
      attach(h) {
        host = h;
        h.onServerNotification((notification, sessionId) => void seen.push([notification, sessionId]));
      },
    };
    return { middleware, seen, host: () => host! };
  }

  it('notifySessions reaches every session on its standalone stream, and filter picks sessions', async () => {
    const probe = hostProbe();
    const s = await start({
      server: ({ jsonSchemaValidator }) =>
        new McpServer(
          { name: 'lists', version: '1.0.0' },
          { jsonSchemaValidator, capabilities: { tools: { listChanged: true } } },
        ),
      middleware: [probe.middleware],
    });
    const clients = await Promise.all([connectClient(s.url), connectClient(s.url)]);
    const got = [0, 0];
    for (const [i, client] of clients.entries()) {
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        got[i]!++;
      });
    }
    const firstId = (clients[0]!.transport as { sessionId?: string }).sessionId;
    // The GET stream opens after initialization: send until it is there.
    await waitFor(async () => {
      await probe
        .host()
        .notifySessions({ method: 'notifications/tools/list_changed' }, (id) => id === firstId);
      return got[0]! > 0;
    }, 'the first client to get list_changed');
    expect(got[1]).toBe(0);
    await waitFor(async () => {
      const sent = await probe.host().notifySessions({ method: 'notifications/tools/list_changed' });
      expect(sent).toBe(2);
      return got[1]! > 0;
    }, 'the second client to get list_changed');
    // What the handler sent on its own is not reported as sent by a server.
    expect(probe.seen).toEqual([]);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('onServerNotification tells which session a server notified, before it goes out', async () => {
    const probe = hostProbe();
    const s = await start({
      server: ({ jsonSchemaValidator }) => {
        const server = new McpServer({ name: 'lists', version: '1.0.0' }, { jsonSchemaValidator });
        server.registerTool('add_tool', { description: 'Adds a tool' }, async () => {
          server.registerTool('added', { description: 'Added at runtime' }, async () => ({ content: [] }));
          return { content: [{ type: 'text', text: 'added' }] };
        });
        return server;
      },
      middleware: [identifyByHeader, probe.middleware],
    });
    const client = await connectClient(s.url, { headers: { 'x-who': 'alice' } });
    await client.callTool({ name: 'add_tool', arguments: {} });
    const sessionId = (client.transport as { sessionId?: string }).sessionId;
    await waitFor(() => probe.seen.length > 0, 'the server notification to be reported');
    expect(probe.seen).toEqual([[{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }, sessionId]]);
    await client.close();
  });
});
