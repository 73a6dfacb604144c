import { describe, expect, it } from "vitest";
import {
  createLatencyHistogram,
  createSequenceCheck,
  expectedTally,
  histogramFigures,
  mergeHistograms,
  readEventFrame,
  type StreamedEvent,
  stampedMessage,
  verifyTally,
} from "./live-check.js";
import { latencyFigures } from "./open-loop.js";

/** An event frame as the gateway encodes it. */
const frame = (cursor: number, criticality: number, publishedAt: number) =>
  Buffer.from(
    JSON.stringify({
      type: "event",
      cursor,
      event: {
        criticality,
        timestamp: "2026-12-02T09:00:00.123Z",
        eventMessage: stampedMessage(publishedAt),
        id: "3b241101-e2bb-4255-8caf-4136c566a962",
        source: "bench",
      },
    }),
  );

const streamed = (criticalities: readonly number[], first = 101): StreamedEvent[] =>
  criticalities.map((criticality, i) => ({ cursor: first + i, criticality, publishedAt: i }));

/** What a client with `minCriticality` makes of these cursors (criticality looked up in `events`). */
const received = (events: readonly StreamedEvent[], minCriticality: number, cursors: readonly number[]) => {
  const check = createSequenceCheck(minCriticality);
  for (const cursor of cursors) check.event(cursor, events.find((e) => e.cursor === cursor)?.criticality ?? -2);
  return check.tally();
};

describe("reading an event frame", () => {
  it("finds the cursor, the criticality and the probe's stamp as JSON.parse would", () => {
    expect(readEventFrame(frame(123_456_789, 7, 987_654.321))).toEqual({
      cursor: 123_456_789,
      criticality: 7,
      publishedAt: 987_654.321,
    });
    expect(readEventFrame(frame(1, 0, 5))).toEqual({ cursor: 1, criticality: 0, publishedAt: 5 });
  });

  it("leaves other frames to the caller, and says when an event carries no stamp", () => {
    for (const other of ['{"type":"heartbeat"}', '{"type":"gap","from":1,"to":3,"missed":3}', '{"type":"pong"}'])
      expect(readEventFrame(Buffer.from(other))).toBeUndefined();
    const unstamped = readEventFrame(
      Buffer.from('{"type":"event","cursor":9,"event":{"criticality":10,"eventMessage":"x"}}'),
    );
    expect(unstamped).toMatchObject({ cursor: 9, criticality: 10 });
    expect(unstamped?.publishedAt).toBeNaN();
  });
});

describe("checking what a client received", () => {
  const events = streamed([0, 5, 9, 3, 10, 6, 1]);
  const above4 = events.filter((e) => e.criticality > 4).map((e) => e.cursor);

  it("accepts exactly the events above the filter, in order", () => {
    expect(above4).toEqual([102, 103, 105, 106]);
    const verdict = verifyTally(received(events, 4, above4), expectedTally(events, 4));
    expect(verdict).toEqual({ exact: true, missed: 0, unexpected: 0 });
    expect(
      verifyTally(received(events, -1, [101, 102, 103, 104, 105, 106, 107]), expectedTally(events, -1)).exact,
    ).toBe(true);
  });

  it("counts events that did not come", () => {
    expect(verifyTally(received(events, 4, [102, 105, 106]), expectedTally(events, 4))).toEqual({
      exact: false,
      missed: 1,
      unexpected: 0,
    });
    expect(verifyTally(received(events, 4, []), expectedTally(events, 4)).missed).toBe(4);
  });

  it("counts duplicates, reordering and events outside the filter as unexpected", () => {
    const expected = expectedTally(events, 4);
    expect(verifyTally(received(events, 4, [102, 103, 103, 105, 106]), expected)).toEqual({
      exact: false,
      missed: 0,
      unexpected: 1,
    });
    expect(verifyTally(received(events, 4, [102, 105, 103, 106]), expected)).toMatchObject({
      exact: false,
      unexpected: 1,
    });
    expect(verifyTally(received(events, 4, [101, 102, 103, 105, 106]), expected)).toMatchObject({
      exact: false,
      unexpected: 1,
    });
  });

  it("tells the same number of other events from the right ones", () => {
    expect(verifyTally(received(events, 4, [102, 103, 104, 106]), expectedTally(events, 4)).exact).toBe(false);
  });

  it("sums what gap frames said was lost", () => {
    const check = createSequenceCheck(0);
    check.gap(3);
    check.gap(2);
    expect(check.tally().gapMissed).toBe(5);
  });

  it("digests cursors beyond 32 bits by both halves", () => {
    const big = [2 ** 32 + 1, 2 ** 33 + 1].map((cursor) => ({ cursor, criticality: 5, publishedAt: 0 }));
    const other = [1, 2 ** 33 + 1].map((cursor) => ({ cursor, criticality: 5, publishedAt: 0 }));
    expect(expectedTally(big, 0).digest).not.toBe(expectedTally(other, 0).digest);
  });
});

describe("the latency histogram", () => {
  // A spread like delivery latency: mostly a few milliseconds, a tail of seconds.
  const samples = Array.from({ length: 20_000 }, (_, i) => 0.05 + ((i * 7_919) % 20_000) ** 3 / 2e9);

  it("gives p50 and p99 within 1% (or 0.01 ms) of the exact figures, and the exact maximum", () => {
    const histogram = createLatencyHistogram();
    for (const sample of samples) histogram.record(sample);
    const approximate = histogramFigures(histogram.counts());
    const exact = latencyFigures(samples);
    expect(approximate.count).toBe(exact.count);
    expect(approximate.maxMs).toBe(exact.maxMs);
    for (const key of ["p50Ms", "p99Ms"] as const) {
      expect(approximate[key]).toBeGreaterThanOrEqual(exact[key]);
      expect(approximate[key]).toBeLessThanOrEqual(Math.max(exact[key] * 1.01, exact[key] + 0.01));
    }
  });

  it("merges the histograms of several processes into the one they would have kept together", () => {
    const whole = createLatencyHistogram();
    const parts = [createLatencyHistogram(), createLatencyHistogram(), createLatencyHistogram()];
    samples.forEach((sample, i) => {
      whole.record(sample);
      parts[i % 3]?.record(sample);
    });
    expect(histogramFigures(mergeHistograms(parts.map((part) => part.counts())))).toEqual(
      histogramFigures(whole.counts()),
    );
  });

  it("has no figures before any sample, and none after a reset", () => {
    const histogram = createLatencyHistogram();
    histogram.record(5);
    histogram.reset();
    expect(histogramFigures(histogram.counts())).toMatchObject({ count: 0, p50Ms: Number.NaN });
  });
});
