import { createLogSink } from "@vigil/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeadLetterLog } from "./dead-letter-log.js";

const DEAD_LETTERED = "dead-lettered a message that can never be stored";
const SUMMARY =
  "dead-lettered more messages that can never be stored; each record on the dead-letter stream holds its reason";

const letter = (streamSequence: number, code: "NOT_JSON" | "INVALID_EVENT" = "NOT_JSON") => ({
  code,
  reason: `reason of ${streamSequence}`,
  streamSequence,
  eventId: undefined,
});

describe("createDeadLetterLog", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-03-01T12:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs a lone dead letter at once, with its reason, and each one a quiet interval after the last", () => {
    const { log, withMessage } = createLogSink();
    const deadLetterLog = createDeadLetterLog(log, 10_000);
    deadLetterLog.recorded(letter(1));
    vi.advanceTimersByTime(10_000);
    deadLetterLog.recorded(letter(2, "INVALID_EVENT"));
    expect(withMessage(DEAD_LETTERED)).toEqual([
      expect.objectContaining({ level: "warn", streamSequence: 1, code: "NOT_JSON", reason: "reason of 1" }),
      expect.objectContaining({ level: "warn", streamSequence: 2, code: "INVALID_EVENT", reason: "reason of 2" }),
    ]);
    vi.runAllTimers();
    expect(withMessage(SUMMARY)).toEqual([]);
  });

  it("sums the dead letters of a burst into one warning at the end of the interval", () => {
    const { log, lines, withMessage } = createLogSink();
    const deadLetterLog = createDeadLetterLog(log, 10_000);
    deadLetterLog.recorded(letter(5));
    for (const sequence of [9, 7, 8]) deadLetterLog.recorded(letter(sequence, "INVALID_EVENT"));
    deadLetterLog.recorded(letter(6));
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(9_999);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(withMessage(SUMMARY)).toEqual([
      expect.objectContaining({
        level: "warn",
        deadLettered: 4,
        byCode: { INVALID_EVENT: 3, NOT_JSON: 1 },
        lowestSequence: 6,
        highestSequence: 9,
      }),
    ]);
  });

  it("keeps to one warning per interval while dead letters keep coming", () => {
    const { log, lines } = createLogSink();
    const deadLetterLog = createDeadLetterLog(log, 10_000);
    for (let sequence = 1; sequence <= 600; sequence++) {
      deadLetterLog.recorded(letter(sequence));
      vi.advanceTimersByTime(100);
    }
    // 60 s of dead letters: the first on its own, then one summary at the end of each 10 s.
    expect(lines).toHaveLength(7);
    vi.runAllTimers();
    expect(lines).toHaveLength(7);
    const counted = lines.slice(1).reduce((sum, line) => sum + Number(line.deadLettered), 0);
    expect(counted).toBe(599);
  });

  it("logs what it counted when flushed, and each counted dead letter at debug level", () => {
    const { log, lines, withMessage } = createLogSink("debug");
    const deadLetterLog = createDeadLetterLog(log, 10_000);
    deadLetterLog.recorded(letter(1));
    deadLetterLog.recorded(letter(2));
    deadLetterLog.flush();
    expect(withMessage(DEAD_LETTERED).map((line) => [line.level, line.streamSequence])).toEqual([
      ["warn", 1],
      ["debug", 2],
    ]);
    expect(withMessage(SUMMARY)).toEqual([expect.objectContaining({ deadLettered: 1 })]);
    vi.runAllTimers();
    deadLetterLog.flush();
    expect(lines).toHaveLength(3);
  });
});
