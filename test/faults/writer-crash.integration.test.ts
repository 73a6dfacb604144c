/**
 * Writers that die without warning (SIGKILL) while the daemon publishes: whatever a dead writer
 * held unacknowledged comes back after the ack wait and is stored once, by the writer that is left
 * or by a new one. Services run as processes from `dist/` (run `pnpm build` first).
 */
import { waitFor } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import {
  consumerState,
  daemonEnv,
  expectStoredExactlyOnce,
  storedCount,
  storedIds,
  usePipeline,
  waitUntilDrained,
  waitUntilStored,
  writerEnv,
} from "./pipeline.js";

const EVENTS = 4_000;

describe("a writer killed mid-stream", () => {
  const pipeline = usePipeline("faults_writer");
  const { freshScenario, start } = pipeline;

  it("SIGKILLed and restarted: every confirmed event is stored exactly once", async () => {
    const { database, reader, published } = await freshScenario();
    const env = writerEnv(pipeline.nats.url, pipeline.influx.config("writer", database));
    const first = await start("writer", env);
    const daemon = await start("daemon", daemonEnv(pipeline.nats.url, EVENTS));
    await waitUntilStored(reader, 500);

    // Frozen first, so that what it holds stays unacknowledged: the kill then strands those events.
    process.kill(first.pid, "SIGSTOP");
    await waitFor("events handed to the frozen writer", async () => (await consumerState(pipeline.jsm)).ackPending > 0);
    await first.process.stop("SIGKILL");
    expect(await storedCount(reader)).toBeLessThan(EVENTS);

    const second = await start("writer", env);
    expect(await daemon.process.exited()).toBe(0);
    await waitUntilDrained(pipeline.jsm);

    expect(published.ids.size).toBe(EVENTS);
    expectStoredExactlyOnce(await storedIds(reader), published.ids);
    // The stranded events did come back, to the new writer.
    expect(await second.metric("vigil_writer_events_redelivered_total")).toBeGreaterThan(0);
  });

  it("two writers on one durable consumer, one SIGKILLed: the other stores its share exactly once", async () => {
    const { database, reader, published } = await freshScenario();
    const env = writerEnv(pipeline.nats.url, pipeline.influx.config("writer", database));
    const [doomed, survivor] = await Promise.all([start("writer", env), start("writer", env)]);
    const daemon = await start("daemon", daemonEnv(pipeline.nats.url, EVENTS));
    await waitFor(
      "both writers to store events",
      async () =>
        (await doomed.metric("vigil_writer_events_written_total")) > 0 &&
        (await survivor.metric("vigil_writer_events_written_total")) > 0,
      30_000,
      100,
    );

    process.kill(doomed.pid, "SIGSTOP");
    // While it is frozen its open pull request keeps taking its share of what the daemon publishes.
    const before = published.messages();
    await waitFor("more events published", () => published.messages() >= before + 300);
    await doomed.process.stop("SIGKILL");
    expect(await storedCount(reader)).toBeLessThan(EVENTS);

    expect(await daemon.process.exited()).toBe(0);
    await waitUntilDrained(pipeline.jsm);

    expect(published.ids.size).toBe(EVENTS);
    expectStoredExactlyOnce(await storedIds(reader), published.ids);
    expect(await survivor.metric("vigil_writer_events_redelivered_total")).toBeGreaterThan(0);
  });
});
