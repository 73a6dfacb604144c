/**
 * Memory is bounded by limits, not by how fast things happen. With InfluxDB stopped and a backlog
 * ten times WRITER_MAX_IN_FLIGHT, the writer holds exactly WRITER_MAX_IN_FLIGHT events (the
 * server hands out no more unacknowledged ones, however long the outage) and the rest waits in the
 * stream, on disk. Once InfluxDB is back, every event is stored exactly once.
 *
 * The daemon's side of the same bound (at most DAEMON_MAX_IN_FLIGHT publishes awaiting
 * confirmation; it waits rather than buffers, also while the stream refuses publishes) is tested in
 * services/daemon/src/publisher.test.ts ("keeps at most maxInFlight events unconfirmed") and
 * services/daemon/src/publisher.integration.test.ts ("when the stream is full holds at most
 * maxInFlight events").
 */
import { randomUUID } from "node:crypto";
import { encodeEvent, type SecurityEvent } from "@vigil/shared";
import { waitFor } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import {
  consumerState,
  expectStoredExactlyOnce,
  isReady,
  loggedAmong,
  OUTAGE_LINES,
  publishConfirmed,
  storedIds,
  usePipeline,
  waitUntilDrained,
  writerEnv,
} from "./pipeline.js";

const MAX_IN_FLIGHT = 500;
const BACKLOG = 5_000;

describe("the writer's memory while InfluxDB is down", () => {
  const pipeline = usePipeline("faults_memory");

  it("holds at most WRITER_MAX_IN_FLIGHT events, leaves the backlog in the stream, then stores it all once", async () => {
    const writer = await pipeline.start(
      "writer",
      // The default ack wait: the held events are kept alive, never redelivered, so the counts are exact.
      writerEnv(pipeline.nats.url, pipeline.influx.config("writer"), {
        WRITER_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
        WRITER_ACK_WAIT: "30s",
      }),
    );
    await pipeline.influx.stop();
    await waitFor("the writer to find InfluxDB down", async () => !(await isReady(writer)));

    // Sampled all through the outage.
    let maxAckPending = 0;
    let sampling: Promise<void> = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sampling.then(async () => {
        maxAckPending = Math.max(maxAckPending, (await consumerState(pipeline.jsm)).ackPending);
      });
    }, 20);

    const events: SecurityEvent[] = Array.from({ length: BACKLOG }, (_, n) => ({
      criticality: n % 11,
      timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, n)).toISOString(),
      eventMessage: `backlog event ${n}`,
      id: randomUUID(),
    }));
    await publishConfirmed(pipeline.nc, events.map(encodeEvent));

    await waitFor("the writer to hold as much as it may", async () => {
      const state = await consumerState(pipeline.jsm);
      return state.ackPending === MAX_IN_FLIGHT && state.pending === BACKLOG - MAX_IN_FLIGHT;
    });
    // The outage goes on while the writer retries its writes several more times; nothing moves.
    const failures = await writer.metric("vigil_writer_write_failures_total");
    await waitFor(
      "three more failed writes",
      async () => (await writer.metric("vigil_writer_write_failures_total")) >= failures + 3,
    );
    expect(await consumerState(pipeline.jsm)).toMatchObject({
      ackPending: MAX_IN_FLIGHT,
      pending: BACKLOG - MAX_IN_FLIGHT,
    });
    expect(await writer.metric("vigil_writer_events_received_total")).toBe(MAX_IN_FLIGHT);
    const { influxDown, influxBack } = OUTAGE_LINES;
    // One line for the outage, however many writes failed during it.
    expect(loggedAmong(writer, [influxDown, influxBack])).toEqual([influxDown]);
    clearInterval(sampler);
    await sampling;
    expect(maxAckPending).toBe(MAX_IN_FLIGHT);

    await pipeline.influx.start();
    await waitUntilDrained(pipeline.jsm);
    expectStoredExactlyOnce(
      await storedIds(pipeline.influx.client("reader")),
      new Set(events.map((event) => event.id as string)),
    );
    expect(await writer.metric("vigil_writer_events_written_total")).toBe(BACKLOG);
    expect(loggedAmong(writer, [influxDown, influxBack])).toEqual([influxDown, influxBack]);
  });
});
