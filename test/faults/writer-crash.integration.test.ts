/**
 * Writers that die without warning (SIGKILL) while the daemon publishes: whatever a dead writer
 * held unacknowledged comes back after the ack wait and is stored once, by the writer that is left
 * or by a new one. Services run as processes from `dist/` (run `pnpm build` first).
 */
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { InfluxClient } from "@vigil/influx";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  consumerState,
  daemonEnv,
  deleteStreams,
  expectStoredExactlyOnce,
  type PublishedEvents,
  storedCount,
  storedIds,
  waitUntilDrained,
  waitUntilStored,
  watchPublished,
  writerEnv,
} from "./pipeline.js";

const EVENTS = 4_000;

describe("a writer killed mid-stream", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let databases = 0;
  let services: RunningService[] = [];
  let watching: PublishedEvents | undefined;

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("faults_writer")]);
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });

  afterEach(async () => {
    await Promise.all(services.map((service) => service.process.stop("SIGKILL")));
    services = [];
    watching?.stop();
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  /** A new database and no streams, so that each scenario counts only its own events. */
  const freshScenario = async (): Promise<{ database: string; reader: InfluxClient; published: PublishedEvents }> => {
    const database = `faults_writer_${++databases}`;
    await influx.createDatabase(database);
    await deleteStreams(jsm);
    watching = await watchPublished(nc);
    return { database, reader: influx.client("reader", database), published: watching };
  };

  const start = async (name: string, env: Record<string, string>) => {
    const service = await startService(name, env);
    services.push(service);
    return service;
  };

  it("SIGKILLed and restarted: every confirmed event is stored exactly once", async () => {
    const { database, reader, published } = await freshScenario();
    const env = writerEnv(nats.url, influx.config("writer", database));
    const first = await start("writer", env);
    const daemon = await start("daemon", daemonEnv(nats.url, EVENTS));
    await waitUntilStored(reader, 500);

    // Frozen first, so that what it holds stays unacknowledged: the kill then strands those events.
    process.kill(first.pid, "SIGSTOP");
    await waitFor("events handed to the frozen writer", async () => (await consumerState(jsm)).ackPending > 0);
    await first.process.stop("SIGKILL");
    expect(await storedCount(reader)).toBeLessThan(EVENTS);

    const second = await start("writer", env);
    expect(await daemon.process.exited()).toBe(0);
    await waitUntilDrained(jsm);

    expect(published.ids.size).toBe(EVENTS);
    expectStoredExactlyOnce(await storedIds(reader), published.ids);
    // The stranded events did come back, to the new writer.
    expect(await second.metric("vigil_writer_events_redelivered_total")).toBeGreaterThan(0);
  });

  it("two writers on one durable consumer, one SIGKILLed: the other stores its share exactly once", async () => {
    const { database, reader, published } = await freshScenario();
    const env = writerEnv(nats.url, influx.config("writer", database));
    const [doomed, survivor] = await Promise.all([start("writer", env), start("writer", env)]);
    const daemon = await start("daemon", daemonEnv(nats.url, EVENTS));
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
    await waitUntilDrained(jsm);

    expect(published.ids.size).toBe(EVENTS);
    expectStoredExactlyOnce(await storedIds(reader), published.ids);
    expect(await survivor.metric("vigil_writer_events_redelivered_total")).toBeGreaterThan(0);
  });
});
