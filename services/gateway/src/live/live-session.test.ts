import { describe, expect, it } from "vitest";
import { LIVE_CLOSE } from "./frames.js";
import { createLiveSession, type LiveEndReason } from "./live-session.js";
import { event, eventCursors, fakeSocket, viewer } from "./live-socket.fixture.js";

const session = (options: { minCriticality?: number; maxBufferedBytes?: number } = {}) => {
  const client = fakeSocket();
  const ended: LiveEndReason[] = [];
  const live = createLiveSession({
    socket: client.socket,
    principal: viewer,
    minCriticality: options.minCriticality,
    maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
    events: { frameSent: () => {}, ended: (reason) => ended.push(reason) },
  });
  return { client, live, ended };
};

describe("a live session", () => {
  it("sends only events strictly above minCriticality, and moves its cursor over the others", () => {
    const { client, live } = session({ minCriticality: 5 });
    live.cursor = 0;
    for (const [seq, criticality] of [
      [1, 5],
      [2, 6],
      [3, 0],
      [4, 10],
    ] as const) {
      live.deliver(seq, event(criticality));
    }
    live.deliver(5, undefined);
    expect(client.frames()).toEqual([
      { type: "event", cursor: 2, event: event(6) },
      { type: "event", cursor: 4, event: event(10) },
    ]);
    expect(live.cursor).toBe(5);
  });

  it("skips what it had already, and says which cursors it will never get before a jump", () => {
    const { client, live } = session();
    live.cursor = 10;
    live.deliver(9, event(1));
    live.deliver(10, event(1));
    live.deliver(11, event(1));
    live.deliver(15, event(1));
    live.deliver(15, event(1));
    expect(client.frames()).toEqual([
      { type: "event", cursor: 11, event: event(1) },
      { type: "gap", from: 12, to: 14, missed: 3 },
      { type: "event", cursor: 15, event: event(1) },
    ]);
  });

  it("sends a heartbeat only after a tick in which nothing else was sent", () => {
    const { client, live } = session();
    live.cursor = 0;
    live.tick();
    live.deliver(1, event(3));
    live.tick();
    live.tick();
    expect(client.frames().map((frame) => frame.type)).toEqual(["heartbeat", "event", "heartbeat"]);
  });

  it("closes TOO_SLOW when a frame would pass its bound, and sends nothing after", () => {
    const frameBytes = Buffer.byteLength(JSON.stringify({ type: "event", cursor: 1, event: event(3) }));
    const { client, live, ended } = session({ maxBufferedBytes: 3 * frameBytes + 2 });
    live.cursor = 0;
    for (let seq = 1; seq <= 3; seq++) live.deliver(seq, event(3));
    expect(client.closes).toEqual([]);
    live.deliver(4, event(3));
    expect(client.closes).toEqual([LIVE_CLOSE.TOO_SLOW]);
    expect(ended).toEqual(["TOO_SLOW"]);
    expect(live.closed).toBe(true);
    live.deliver(5, event(3));
    live.tick();
    live.end("TOKEN_EXPIRED");
    expect(eventCursors(client.frames())).toEqual([1, 2, 3]);
    expect(client.closes).toHaveLength(1);
  });

  it("keeps a client that reads, however much goes through", () => {
    const { client, live } = session({ maxBufferedBytes: 32_768 });
    live.cursor = 0;
    for (let seq = 1; seq <= 10_000; seq++) {
      live.deliver(seq, event(3));
      if (seq % 100 === 0) client.read();
    }
    expect(live.closed).toBe(false);
    expect(eventCursors(client.frames())).toHaveLength(10_000);
  });

  it("is drained once the client has read what was sent, or once it ended", async () => {
    const { client, live } = session();
    live.cursor = 0;
    await live.drained();
    live.deliver(1, event(3));
    let drained = false;
    const waiting = live.drained().then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    client.read();
    await waiting;
    live.deliver(2, event(3));
    const ending = live.drained();
    live.end("GOING_AWAY");
    await ending;
  });

  it("ends once, telling its listeners why; a client's own close sends no close frame", () => {
    const { client, live, ended } = session();
    const heard: LiveEndReason[] = [];
    live.onEnd((reason) => heard.push(reason));
    live.end("CLIENT_CLOSED");
    live.end("BAD_FRAME");
    expect(client.closes).toEqual([]);
    expect(ended).toEqual(["CLIENT_CLOSED"]);
    expect(heard).toEqual(["CLIENT_CLOSED"]);
  });
});
