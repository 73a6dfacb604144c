import { describe, expect, it } from "vitest";
import { closeAction, createLiveFeed, type LiveEvent, liveUrl, parseFrame, reconnectDelayMs } from "./live-feed.js";

const event = (id: string): LiveEvent => ({ id, criticality: 5, timestamp: "2026-01-01T00:00:00Z", eventMessage: id });

describe("the dashboard's live feed", () => {
  it("opens ws:// or wss:// on the page's own host, with the filter and the cursor", () => {
    expect(liveUrl("http://127.0.0.1:8080/", 5, undefined)).toBe("ws://127.0.0.1:8080/v1/live?minCriticality=5");
    expect(liveUrl("https://vigil.example.org/x", -1, 42)).toBe(
      "wss://vigil.example.org/v1/live?minCriticality=-1&after=42",
    );
  });

  it("resumes after the last cursor, drops what it already has, and counts gaps", () => {
    const feed = createLiveFeed();
    expect(feed.nextUrl("http://h/", 0, true, false)).not.toContain("after=");
    expect(feed.opened()).toEqual({ kind: "live" });
    expect(feed.receive({ type: "event", cursor: 7, event: event("a") }).event?.id).toBe("a");
    expect(feed.nextUrl("http://h/", 0, false, true)).toContain("after=7");
    expect(feed.opened()).toEqual({ kind: "resumed", missed: 0 });
    expect(feed.receive({ type: "event", cursor: 7, event: event("a") })).toEqual({});
    expect(feed.receive({ type: "gap", from: 8, to: 10, missed: 3 })).toEqual({
      status: { kind: "resumed", missed: 3 },
    });
    expect(feed.cursor()).toBe(10);
    expect(feed.receive({ type: "heartbeat" })).toEqual({});
  });

  it("continues a new filter from the cursor without announcing a resumption, and starts afresh when told", () => {
    const feed = createLiveFeed();
    feed.nextUrl("http://h/", 0, true, false);
    feed.receive({ type: "event", cursor: 3, event: event("b") });
    expect(feed.nextUrl("http://h/", 8, false, false)).toContain("minCriticality=8&after=3");
    expect(feed.opened()).toEqual({ kind: "live" });
    expect(feed.nextUrl("http://h/", 8, true, true)).not.toContain("after=");
  });

  it("maps the close codes to what the page does", () => {
    expect(closeAction(4001)).toEqual({ kind: "refresh-then-reconnect" });
    expect(closeAction(4002)).toEqual({ kind: "sign-out" });
    expect(closeAction(4003)).toEqual({ kind: "sign-out" });
    expect(closeAction(4004)).toEqual({ kind: "reconnect", fresh: false });
    expect(closeAction(4005)).toEqual({ kind: "reconnect", fresh: true });
    expect(closeAction(1001)).toEqual({ kind: "reconnect", fresh: false });
    expect(closeAction(1006)).toEqual({ kind: "reconnect", fresh: false });
  });

  it("backs off up to 10 s, and ignores frames it does not know", () => {
    expect([0, 1, 2, 10].map(reconnectDelayMs)).toEqual([500, 1_000, 2_000, 10_000]);
    expect(parseFrame('{"type":"pong"}')).toEqual({ type: "pong" });
    expect(parseFrame('{"type":"other"}')).toBeUndefined();
    expect(parseFrame("not json")).toBeUndefined();
  });
});
