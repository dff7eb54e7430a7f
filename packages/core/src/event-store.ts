import type {
  EventId,
  EventStore,
  StreamId,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export type { EventId, EventStore, StreamId };

/** Most events a replay may hold back while it learns whose stream they belong to (stores without a lookup). */
const MAX_BUFFERED_REPLAY = 10_000;

/**
 * One session's view of an event store every session shares. The SDK names streams per transport (`_GET_stream`
 * for every session's standalone stream, a random id per POST), so a shared store would mix sessions, and a client
 * could replay another session's events with its `Last-Event-ID`. Here each stream id is stored as
 * `<session id>/<stream id>`, and an event id that belongs to another session is treated as unknown.
 */
export function sessionEventStore(store: EventStore, sessionId: string): EventStore {
  const scope = `${sessionId}/`;
  const own = (streamId: StreamId | undefined): StreamId | undefined =>
    streamId?.startsWith(scope) ? streamId.slice(scope.length) : undefined;
  const lookup = store.getStreamIdForEventId?.bind(store);
  const scoped: EventStore = {
    storeEvent: (streamId, message) => store.storeEvent(scope + streamId, message),
    async replayEventsAfter(lastEventId, { send }) {
      if (lookup) {
        if (own(await lookup(lastEventId)) === undefined) throw new Error('unknown event id');
        const streamId = own(await store.replayEventsAfter(lastEventId, { send }));
        if (streamId === undefined) throw new Error('unknown event id');
        return streamId;
      }
      // No lookup: the stream is known only once the replay returns, so events wait until it is known to be ours.
      const held: Array<[EventId, JSONRPCMessage]> = [];
      const streamId = own(
        await store.replayEventsAfter(lastEventId, {
          send: async (eventId, message) => {
            if (held.length >= MAX_BUFFERED_REPLAY) throw new Error('replay too long');
            held.push([eventId, message]);
          },
        }),
      );
      if (streamId === undefined) throw new Error('unknown event id');
      for (const [eventId, message] of held) await send(eventId, message);
      return streamId;
    },
  };
  if (lookup) scoped.getStreamIdForEventId = async (eventId) => own(await lookup(eventId));
  return scoped;
}
