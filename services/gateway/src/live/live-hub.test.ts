import { describe, expect, it } from "vitest";
import { LIVE_CLOSE } from "./frames.js";
import { createLiveHub } from "./live-hub.js";
import { createLiveSession } from "./live-session.js";
import { event, eventCursors, fakeSocket, viewer } from "./live-socket.fixture.js";

const client = (minCriticality?: number, maxBufferedBytes = 1_048_576) => {
  const socket = fakeSocket();
  const session = createLiveSession({ socket: socket.socket, principal: viewer, minCriticality, maxBufferedBytes });
  return { ...socket, session };
};

describe("the live hub", () => {
  it("fans each message out to every joined session through its filter, encoding each event once", () => {
    const hub = createLiveHub(100);
    const all = client();
    const critical = client(7);
    const waiting = client();
    for (const { session } of [all, critical, waiting]) hub.add(session);
    hub.join(all.session);
    hub.join(critical.session);
    hub.publish(101, event(3));
    hub.publish(102, event(9));
    hub.publish(103, undefined);
    expect(eventCursors(all.frames())).toEqual([101, 102]);
    expect(eventCursors(critical.frames())).toEqual([102]);
    expect(waiting.frames()).toEqual([]);
    expect(critical.sent[0]).toBe(all.sent[1]);
    expect(hub.head).toBe(103);
    expect({ size: hub.size, joined: hub.joined }).toEqual({ size: 3, joined: 2 });
  });

  it("starts a session without a cursor at the head, and one with a cursor after it", () => {
    const hub = createLiveHub(10);
    const fresh = client();
    const resumed = client();
    hub.add(fresh.session);
    hub.add(resumed.session);
    hub.join(fresh.session);
    resumed.session.cursor = 12;
    hub.join(resumed.session);
    for (let seq = 11; seq <= 14; seq++) hub.publish(seq, event(1));
    expect(eventCursors(fresh.frames())).toEqual([11, 12, 13, 14]);
    expect(eventCursors(resumed.frames())).toEqual([13, 14]);
  });

  it("moves its head up, never down, for a feed that starts again: a session joining then starts after it", () => {
    const hub = createLiveHub(10);
    hub.moveHeadTo(25);
    hub.moveHeadTo(20);
    expect(hub.head).toBe(25);
    const fresh = client();
    hub.add(fresh.session);
    hub.join(fresh.session);
    // A feed started after the head hands out the next message; one behind it would be skipped.
    hub.publish(24, event(1));
    hub.publish(26, event(1));
    expect(fresh.frames()).toEqual([expect.objectContaining({ type: "event", cursor: 26 })]);
  });

  it("tells every joined session of a hole in the feed", () => {
    const hub = createLiveHub(0);
    const one = client();
    hub.add(one.session);
    hub.join(one.session);
    hub.publish(1, event(1));
    hub.publish(5, event(1));
    expect(one.frames()[1]).toEqual({ type: "gap", from: 2, to: 4, missed: 3 });
  });

  it("closes a client that stops reading, forgets it, and keeps feeding the others", () => {
    const hub = createLiveHub(0);
    const slow = client(undefined, 32_768);
    const fast = client(undefined, 32_768);
    for (const { session } of [slow, fast]) {
      hub.add(session);
      hub.join(session);
    }
    for (let seq = 1; seq <= 2_000; seq++) {
      hub.publish(seq, event(seq % 11));
      fast.read();
    }
    expect(slow.closes).toEqual([LIVE_CLOSE.TOO_SLOW]);
    expect({ size: hub.size, joined: hub.joined }).toEqual({ size: 1, joined: 1 });
    expect(eventCursors(fast.frames())).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
  });

  it("sends heartbeats to idle sessions, joined or not, and ends them all", () => {
    const hub = createLiveHub(0);
    const joined = client();
    const replaying = client();
    hub.add(joined.session);
    hub.add(replaying.session);
    hub.join(joined.session);
    hub.tick();
    expect(joined.frames()).toEqual([{ type: "heartbeat" }]);
    expect(replaying.frames()).toEqual([{ type: "heartbeat" }]);
    hub.endAll("GOING_AWAY");
    expect(joined.closes).toEqual([LIVE_CLOSE.GOING_AWAY]);
    expect(replaying.closes).toEqual([LIVE_CLOSE.GOING_AWAY]);
    expect(hub.size).toBe(0);
  });
});
