import { describe, expect, it } from "vitest";
import { createPipelineStats, type PipelineReading } from "./pipeline-stats.js";

const reading = (received: number, extra: Partial<PipelineReading> = {}): PipelineReading => ({
  received,
  inStream: 0,
  deadLettered: 0,
  pending: 0,
  inFlight: 0,
  waitingPulls: 0,
  ...extra,
});

describe("createPipelineStats", () => {
  it("derives stored and backlog, and a rate only over a second or more", async () => {
    let clock = 10_000;
    let next = reading(100, { inStream: 30, deadLettered: 5, pending: 20, inFlight: 10, waitingPulls: 2 });
    const stats = createPipelineStats({ read: async () => next, connected: () => true, now: () => clock });
    const first = await stats.read();
    expect(first).toMatchObject({
      received: 100,
      stored: 65,
      deadLettered: 5,
      backlog: 30,
      inFlight: 10,
      activeWriters: 2,
      eventsPerSecond: null,
      uptimeSeconds: 0,
    });
    clock += 10;
    next = reading(101);
    expect((await stats.read()).eventsPerSecond).toBeNull();
    clock += 1_990;
    next = reading(300);
    const later = await stats.read();
    expect(later.eventsPerSecond).toBe(100);
    expect(later.uptimeSeconds).toBe(2);
  });

  it("answers UNAVAILABLE while NATS is away or JetStream does not answer", async () => {
    const away = createPipelineStats({ read: async () => reading(1), connected: () => false });
    await expect(away.read()).rejects.toMatchObject({ code: "UNAVAILABLE", retryAfterSeconds: 2 });
    const failing = createPipelineStats({
      read: async () => {
        throw new Error("timeout");
      },
      connected: () => true,
    });
    await expect(failing.read()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
