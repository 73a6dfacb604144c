import { describe, expect, it } from "vitest";
import { encodeFrame, gapFrame, LIVE_CLOSE, LiveServerFrame, parseClientFrame } from "./frames.js";

const text = (value: string) => Buffer.from(value);

describe("parseClientFrame", () => {
  it('takes {"type":"ping"} as a text frame, whole or in fragments', () => {
    expect(parseClientFrame(text('{"type":"ping"}'), false)).toEqual({ ok: true, type: "ping" });
    expect(parseClientFrame([text('{"type":'), text('"ping"}')], false)).toEqual({ ok: true, type: "ping" });
  });

  it.each([
    ["a binary frame", text('{"type":"ping"}'), true],
    ["text that is not JSON", text("ping"), false],
    ["invalid UTF-8", Buffer.from([0x7b, 0xff, 0x7d]), false],
    ["another type", text('{"type":"pong"}'), false],
    ["a ping with more fields", text('{"type":"ping","after":3}'), false],
    ["a JSON string", text('"ping"'), false],
    ["an empty frame", Buffer.alloc(0), false],
  ])("refuses %s", (_what, data, isBinary) => {
    expect(parseClientFrame(data, isBinary).ok).toBe(false);
  });
});

describe("the close codes", () => {
  it("are distinct, in the application's range or WebSocket's own 1001 and 1013, with reasons that fit a close frame", () => {
    const codes = Object.values(LIVE_CLOSE).map(({ code }) => code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, { code, reason }] of Object.entries(LIVE_CLOSE)) {
      expect(code === 1001 || code === 1013 || (code >= 4000 && code <= 4999), name).toBe(true);
      expect(Buffer.byteLength(reason), name).toBeLessThanOrEqual(123);
      expect(reason.startsWith(`${name}: `), name).toBe(true);
    }
  });
});

describe("server frames", () => {
  it("count every cursor of a gap", () => {
    expect(gapFrame(5, 5)).toEqual({ type: "gap", from: 5, to: 5, missed: 1 });
    expect(gapFrame(3, 12).missed).toBe(10);
  });

  it("encode as the contract's JSON", () => {
    const event = { criticality: 7, timestamp: "2025-01-01T00:00:00Z", eventMessage: "x" };
    for (const frame of [
      { type: "event", cursor: 42, event },
      { type: "heartbeat" },
      gapFrame(1, 2),
      { type: "pong" },
    ] as const) {
      expect(LiveServerFrame.parse(JSON.parse(encodeFrame(frame).toString()))).toEqual(frame);
    }
  });
});
