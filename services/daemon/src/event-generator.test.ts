import { SecurityEvent } from "@vigil/shared";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRITICALITY_LEVELS, DEFAULT_CRITICALITY_WEIGHTS, parseCriticalityWeights } from "./criticality.js";
import { createEventGenerator } from "./event-generator.js";

/** A small seeded generator of uniform numbers in [0, 1) (mulberry32). */
const seeded = (seed: number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

const defaultWeights = (() => {
  const parsed = parseCriticalityWeights(DEFAULT_CRITICALITY_WEIGHTS);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.weights;
})();

const weightsArbitrary = fc
  .array(fc.integer({ min: 0, max: 5 }), { minLength: CRITICALITY_LEVELS, maxLength: CRITICALITY_LEVELS })
  .filter((weights) => weights.some((weight) => weight > 0));

describe("createEventGenerator", () => {
  it("makes only events that pass the SecurityEvent contract, at levels that have weight", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        weightsArbitrary,
        fc.constantFrom("daemon", "sensor-7", "a.b_c-d"),
        (seed, weights, source) => {
          const next = createEventGenerator({ weights, source, random: seeded(seed) });
          for (let i = 0; i < 50; i++) {
            const event = next();
            const parsed = SecurityEvent.safeParse(event);
            expect(parsed.success, JSON.stringify(event)).toBe(true);
            expect(weights[event.criticality]).toBeGreaterThan(0);
            expect(event.source).toBe(source);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("stamps each event with the current time to the millisecond in UTC, and a fresh UUID", () => {
    let now = Date.parse("2026-11-24T10:15:30.123Z");
    const next = createEventGenerator({ weights: defaultWeights, source: "daemon", now: () => now++ });
    const events = Array.from({ length: 1_000 }, next);
    expect(events[0]?.timestamp).toBe("2026-11-24T10:15:30.123Z");
    expect(events[1]?.timestamp).toBe("2026-11-24T10:15:30.124Z");
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
  });

  it("stamps the time of each event, however the clock repeats or steps back", () => {
    const base = Date.parse("2026-11-24T10:15:30.123Z");
    const times = [0, 0, 0, 1, 0, 5, 5, -3_600_000, 0].map((offset) => base + offset);
    let call = 0;
    const next = createEventGenerator({ weights: defaultWeights, source: "daemon", now: () => times[call++] ?? 0 });
    const stamps = times.map(() => next().timestamp);
    expect(stamps).toEqual(times.map((ms) => new Date(ms).toISOString()));
  });

  it("repeats the same criticalities and messages for the same seed", () => {
    const run = () => {
      const next = createEventGenerator({ weights: defaultWeights, source: "daemon", random: seeded(42) });
      return Array.from({ length: 20 }, () => {
        const { criticality, eventMessage } = next();
        return { criticality, eventMessage };
      });
    };
    expect(run()).toEqual(run());
  });

  it("has messages for every criticality, and the severe ones read severe", () => {
    const messagesAt = (level: number) => {
      const weights = Array.from({ length: CRITICALITY_LEVELS }, (_, i) => (i === level ? 1 : 0));
      const next = createEventGenerator({ weights, source: "daemon", random: seeded(level) });
      return Array.from({ length: 200 }, () => next().eventMessage);
    };
    for (let level = 0; level < CRITICALITY_LEVELS; level++) expect(messagesAt(level).length).toBe(200);
    expect(messagesAt(0).join("\n")).not.toMatch(/ransomware|exfiltration|credential dumping|malware/i);
    expect(messagesAt(10).join("\n")).toMatch(/ransomware|exfiltration|credential dumping|malware|audit log/i);
    expect(messagesAt(10).join("\n")).not.toMatch(/logged in|logged out|no new findings/i);
  });

  it("follows the configured mix", () => {
    const next = createEventGenerator({ weights: defaultWeights, source: "daemon", random: seeded(7) });
    const counts = new Array<number>(CRITICALITY_LEVELS).fill(0);
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const { criticality } = next();
      counts[criticality] = (counts[criticality] ?? 0) + 1;
    }
    const total = defaultWeights.reduce((sum, weight) => sum + weight, 0);
    for (const [level, weight] of defaultWeights.entries()) {
      // Within 1.5 percentage points of the configured share (the tolerance is many standard deviations).
      expect(Math.abs((counts[level] ?? 0) / draws - weight / total)).toBeLessThan(0.015);
    }
  });
});
