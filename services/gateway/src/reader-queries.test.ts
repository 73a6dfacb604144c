import { NoAnswerError, ReaderError, ReplyError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { toApiError } from "./reader-queries.js";

describe("toApiError", () => {
  it("maps the reader's answers to the gateway's codes", () => {
    const cases = [
      [new NoAnswerError("no-reader", "x"), "UNAVAILABLE", 2],
      [new NoAnswerError("timeout", "x"), "UNAVAILABLE", 2],
      [new ReaderError("STORAGE_UNAVAILABLE", "InfluxDB is unavailable"), "UNAVAILABLE", 2],
      [new ReaderError("BAD_REQUEST", "limit: too big"), "BAD_REQUEST", undefined],
      [new ReaderError("PAYLOAD_TOO_LARGE", "ask for fewer"), "PAYLOAD_TOO_LARGE", undefined],
      [new ReaderError("INTERNAL", "see its log"), "INTERNAL", undefined],
      [new ReaderError("service error 500", "boom"), "INTERNAL", undefined],
      [new ReplyError("off contract"), "INTERNAL", undefined],
      [new Error("connection closed"), "INTERNAL", undefined],
    ] as const;
    for (const [err, code, retryAfter] of cases) {
      const mapped = toApiError(err);
      expect(mapped.code, err.message).toBe(code);
      expect(mapped.retryAfterSeconds, err.message).toBe(retryAfter);
    }
    expect(toApiError(new ReaderError("BAD_REQUEST", "limit: too big")).message).toBe("limit: too big");
  });
});
