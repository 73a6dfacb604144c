import { describe, expect, it } from "vitest";
import { createLiveHub, type LiveHub } from "./live-hub.js";
import { createLiveSession } from "./live-session.js";
import { event, eventBytes, eventCursors, fakeSocket, viewer } from "./live-socket.fixture.js";
import { type LiveMessage, liveMessage, memoryFirstReplays, type ReplaySource, resumeSession } from "./resume.js";

/**
 * The stream `LIVE` in memory, read a batch of `batchSize` at a time; `afterBatch` runs when a
 * batch was read to its end (the shared feed moving on meanwhile).
 */
const memoryStream = (first: number, last: number, batchSize: number) => {
  const messages = new Map<number, Uint8Array>();
  const append = (seq: number) => messages.set(seq, eventBytes(seq % 11));
  for (let seq = first; seq <= last; seq++) append(seq);
  const stats = { opened: [] as number[], batches: 0, closed: 0 };
  let afterBatch = (): void => {};
  const source: ReplaySource = {
    async open(fromSeq) {
      stats.opened.push(fromSeq);
      let next = fromSeq;
      return {
        async *batch(): AsyncGenerator<LiveMessage> {
          stats.batches++;
          const seqs = [...messages.keys()].filter((seq) => seq >= next).slice(0, batchSize);
          for (const seq of seqs) {
            next = seq + 1;
            yield liveMessage(seq, messages.get(seq) ?? new Uint8Array());
          }
          afterBatch();
        },
        close: async () => {
          stats.closed++;
        },
      };
    },
  };
  return {
    source,
    stats,
    append,
    forget: (seq: number) => messages.delete(seq),
    afterEachBatch: (run: () => void) => {
      afterBatch = run;
    },
  };
};

const resumingClient = (hub: LiveHub, options: { reading?: boolean } = {}) => {
  const client = fakeSocket({ reading: options.reading ?? true });
  const session = createLiveSession({
    socket: client.socket,
    principal: viewer,
    minCriticality: undefined,
    maxBufferedBytes: 1_048_576,
  });
  hub.add(session);
  return { ...client, session };
};

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("resuming a live-tail client", () => {
  it("replays what it missed, in order, while the feed moves on, then joins the feed without a gap or a duplicate", async () => {
    const stream = memoryStream(1, 20, 4);
    const hub = createLiveHub(20);
    let last = 20;
    // Two new events reach the stream and the shared feed after every batch the replay reads.
    stream.afterEachBatch(() => {
      for (let i = 0; i < 2; i++) {
        stream.append(++last);
        hub.publish(last, undefined);
      }
    });
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 5);
    expect(hub.joined).toBe(1);
    for (let i = 0; i < 3; i++) {
      stream.append(++last);
      hub.publish(last, { criticality: 1, timestamp: "2025-01-01T00:00:00Z", eventMessage: "x" });
    }
    const cursors = eventCursors(client.frames());
    // The feed's own events before the join carried no event (undefined): those cursors came by replay.
    expect(cursors).toEqual(range(6, last));
    expect(stream.stats.closed).toBe(1);
  });

  it("joins the feed at once when it has everything up to the head, opening no replay", async () => {
    const stream = memoryStream(1, 10, 4);
    const hub = createLiveHub(10);
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 10);
    hub.publish(11, undefined);
    stream.append(11);
    expect(stream.stats.opened).toEqual([]);
    expect(client.session.cursor).toBe(11);
  });

  it("joins at a cursor beyond a lagging feed's head, then gets exactly what follows the cursor", async () => {
    const stream = memoryStream(1, 15, 4);
    const hub = createLiveHub(10);
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 12);
    expect(stream.stats.opened).toEqual([]);
    for (let seq = 11; seq <= 16; seq++) hub.publish(seq, event(1));
    expect(client.frames()).toEqual(range(13, 16).map((cursor) => expect.objectContaining({ type: "event", cursor })));
  });

  it("joins a feed that started after a pause at its head, with neither the head's event twice nor the next one lost", async () => {
    // The feed was stopped at 5; the stream went on to 12, and the feed starts again after 12.
    const stream = memoryStream(1, 12, 3);
    const hub = createLiveHub(5);
    hub.moveHeadTo(12);
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 5);
    expect(client.session.cursor).toBe(12);
    stream.append(13);
    hub.publish(13, event(1));
    expect(client.frames()).toEqual(range(6, 13).map((cursor) => expect.objectContaining({ type: "event", cursor })));
  });

  it("says first which cursors left the window, then replays what is left", async () => {
    const stream = memoryStream(8, 12, 100);
    const hub = createLiveHub(12);
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 2);
    expect(client.frames()[0]).toEqual({ type: "gap", from: 3, to: 7, missed: 5 });
    expect(eventCursors(client.frames())).toEqual(range(8, 12));
  });

  it("says so and joins when the stream holds nothing after the cursor although the feed went further", async () => {
    const stream = memoryStream(1, 5, 100);
    const hub = createLiveHub(9);
    const client = resumingClient(hub);
    await resumeSession(client.session, hub, stream.source, 5);
    expect(client.frames()).toEqual([{ type: "gap", from: 6, to: 9, missed: 4 }]);
    expect(hub.joined).toBe(1);
  });

  it("reads the next batch only once the client has taken the previous one", async () => {
    const stream = memoryStream(1, 30, 10);
    const hub = createLiveHub(30);
    const client = resumingClient(hub, { reading: false });
    const resuming = resumeSession(client.session, hub, stream.source, 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.stats.batches).toBe(1);
    expect(eventCursors(client.frames())).toEqual(range(1, 10));
    client.read();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.stats.batches).toBe(2);
    while (hub.joined === 0) {
      client.read();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await resuming;
    expect(eventCursors(client.frames())).toEqual(range(1, 30));
  });

  it("stops replaying and frees the reader when the client goes away", async () => {
    const stream = memoryStream(1, 30, 10);
    const hub = createLiveHub(30);
    const client = resumingClient(hub, { reading: false });
    const resuming = resumeSession(client.session, hub, stream.source, 0);
    await new Promise((resolve) => setImmediate(resolve));
    client.session.end("CLIENT_CLOSED");
    await resuming;
    expect(stream.stats).toMatchObject({ batches: 1, closed: 1 });
    expect(hub.size).toBe(0);
  });

  describe("from the hub's memory first", () => {
    /** A hub whose feed handed out 1 to `head`, keeping the newest `recent` of them. */
    const feedHub = (head: number, recent: number) => {
      const hub = createLiveHub(0, recent);
      for (let seq = 1; seq <= head; seq++) hub.publish(seq, event(seq % 11), 100);
      return hub;
    };

    it("replays a client within the memory from there, opening no reader of the stream, and encodes each frame once for all", async () => {
      const stream = memoryStream(1, 40, 4);
      const hub = feedHub(40, 30);
      const [first, second] = [resumingClient(hub), resumingClient(hub)];
      for (const client of [first, second]) {
        await resumeSession(client.session, hub, memoryFirstReplays(hub, stream.source, 1_000), 15);
      }
      expect(stream.stats.opened).toEqual([]);
      expect(hub.joined).toBe(2);
      hub.publish(41, event(1), 100);
      for (const client of [first, second]) expect(eventCursors(client.frames())).toEqual(range(16, 41));
      expect(first.sent.every((frame, i) => frame === second.sent[i])).toBe(true);
    });

    it("reads the stream for what the memory no longer holds, then the memory, each message once and in order", async () => {
      const stream = memoryStream(1, 40, 4);
      const hub = feedHub(40, 30);
      const client = resumingClient(hub);
      await resumeSession(client.session, hub, memoryFirstReplays(hub, stream.source, 1_000), 2);
      // 3 to 10 come from the stream, 4 at a time; the memory holds 11 to 40.
      expect(stream.stats).toMatchObject({ opened: [3], batches: 2, closed: 1 });
      expect(eventCursors(client.frames())).toEqual(range(3, 40));
    });

    it("bounds each batch from memory by the payload bytes it holds", async () => {
      const stream = memoryStream(1, 40, 4);
      const hub = feedHub(40, 40);
      const client = resumingClient(hub, { reading: false });
      const resuming = resumeSession(client.session, hub, memoryFirstReplays(hub, stream.source, 1_000), 0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(eventCursors(client.frames())).toEqual(range(1, 10));
      while (hub.joined === 0) {
        client.read();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await resuming;
      expect(eventCursors(client.frames())).toEqual(range(1, 40));
      expect(stream.stats.opened).toEqual([]);
    });
  });
});
