import { headers } from "@nats-io/nats-core";
import { DEAD_LETTER_HEADERS } from "@vigil/shared";
import { describe, expect, it } from "vitest";
import { deadLetterHeaders } from "../dead-letter.js";
import { previewPayload, printableLine, toDeadLetterRecord } from "./record.js";
import { recordJson, renderOutcome, renderPage, renderRecord, renderTally } from "./render.js";

const encoder = new TextEncoder();

const written = toDeadLetterRecord({
  seq: 12,
  storedAt: new Date("2024-05-01T12:00:01Z"),
  headers: deadLetterHeaders({
    code: "INVALID_EVENT",
    reason: "criticality: Too big: expected number to be <=10",
    subject: "events",
    streamSequence: 3456,
    rejectedAt: new Date("2024-05-01T12:00:00Z"),
  }),
  data: encoder.encode('{"criticality":11,"timestamp":"2024-05-01T12:00:00Z","eventMessage":"x"}'),
});

describe("toDeadLetterRecord", () => {
  it("reads back every header the writer sets", () => {
    expect(written).toMatchObject({
      seq: 12,
      code: "INVALID_EVENT",
      reason: "criticality: Too big: expected number to be <=10",
      rejectedAt: "2024-05-01T12:00:00.000Z",
      originalSubject: "events",
      originalSequence: 3456,
    });
  });

  it("leaves out what a record from elsewhere lacks or garbles", () => {
    const h = headers();
    h.set(DEAD_LETTER_HEADERS.streamSequence, "not a number");
    const bare = toDeadLetterRecord({ seq: 1, storedAt: new Date(0), headers: h, data: new Uint8Array() });
    expect(bare).toMatchObject({ code: undefined, reason: undefined, originalSequence: undefined });
    const none = toDeadLetterRecord({ seq: 1, storedAt: new Date(0), headers: undefined, data: new Uint8Array() });
    expect(none.rejectedAt).toBeUndefined();
  });
});

describe("previewPayload", () => {
  it("shows short text as it is", () => {
    expect(previewPayload(encoder.encode('{"a":1}'))).toBe('{"a":1}');
  });

  it("cuts long text to the limit, ending with an ellipsis", () => {
    const preview = previewPayload(encoder.encode("é".repeat(500)), 20);
    expect(Array.from(preview)).toHaveLength(20);
    expect(preview.endsWith("…")).toBe(true);
  });

  it("neutralises what a terminal would act on, by the one rule of @vigil/runtime's printable", () => {
    expect(previewPayload(encoder.encode("a\nb\u001b[31mc\u202ed"))).toBe("a⏎b\ufffd[31mc\ufffdd");
    expect(printableLine("x\ry", 10)).toBe("x⏎y");
  });

  it("shows a payload that is not UTF-8 as hex", () => {
    expect(previewPayload(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toBe("(not UTF-8) 7b ff fe 7d");
    expect(previewPayload(new Uint8Array(1_000).fill(0xff), 30)).toBe("(not UTF-8) ff ff ff ff ff ff …");
  });
});

describe("rendering", () => {
  it("prints a record as sequence, time, code, origin, reason and payload", () => {
    expect(renderRecord(written)).toBe(
      [
        "#12  2024-05-01T12:00:00.000Z  INVALID_EVENT  from events seq 3456",
        "    reason   criticality: Too big: expected number to be <=10",
        '    payload  {"criticality":11,"timestamp":"2024-05-01T12:00:00Z","eventMessage":"x"}  (72 bytes)',
      ].join("\n"),
    );
  });

  it("gives JSON the full payload, as base64 when it is not UTF-8", () => {
    expect(recordJson(written)).toMatchObject({ seq: 12, payloadEncoding: "utf8", payloadBytes: 72 });
    const binary = toDeadLetterRecord({
      seq: 2,
      storedAt: new Date(0),
      headers: undefined,
      data: new Uint8Array([0xff, 0x00]),
    });
    expect(recordJson(binary)).toMatchObject({ payloadEncoding: "base64", payload: "/wA=", code: null });
  });

  it("ends a page with what it showed and how to see more", () => {
    const options = { limit: 1, from: undefined, code: undefined };
    const text = renderPage({ records: [written], bounds: { count: 3, first: 12, last: 20 }, next: 15 }, options);
    expect(text.split("\n").at(-1)).toBe("1 dead letter shown, of 3 in DEADLETTERS; more from #15: list --from 15");
    expect(renderPage({ records: [], bounds: { count: 0, first: 0, last: 0 }, next: undefined }, options)).toBe(
      "no dead letters to show (0 in DEADLETTERS)",
    );
    expect(renderPage({ records: [], bounds: undefined, next: undefined }, options)).toMatch(/does not exist/);
  });

  it("says for each outcome what happened to the record", () => {
    expect(
      renderOutcome({ kind: "replayed", record: written, ack: { seq: 99, duplicate: false }, deleted: true }),
    ).toBe("replayed #12 as EVENTS seq 99; record deleted");
    expect(
      renderOutcome({ kind: "replayed", record: written, ack: { seq: 99, duplicate: true }, deleted: false }),
    ).toMatch(/stored once\); record kept$/);
    expect(renderOutcome({ kind: "skipped", record: written, reason: "NOT_JSON: bad\nline" })).toBe(
      "skipped #12: still invalid, NOT_JSON: bad⏎line (kept; --force replays it anyway)",
    );
    expect(renderOutcome({ kind: "missing", seq: 4 })).toBe("not found #4: DEADLETTERS holds no such record");
    expect(renderOutcome({ kind: "failed", seq: 4, stage: "publish", error: new Error("timeout") })).toMatch(
      /did not confirm the replay \(timeout\); stopped, record kept/,
    );
    expect(
      renderOutcome({
        kind: "failed",
        seq: 4,
        stage: "delete",
        ack: { seq: 7, duplicate: false },
        error: new Error("x"),
      }),
    ).toMatch(/replayed as EVENTS seq 7, but deleting the record failed/);
    expect(renderTally({ replayed: 2, skipped: 1, missing: 1, failed: 1 })).toBe(
      "replay: 2 replayed, 1 skipped as still invalid, 1 not found, stopped at a failure",
    );
  });
});
