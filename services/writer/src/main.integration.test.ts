import { randomUUID } from "node:crypto";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { EVENTS_MEASUREMENT } from "@vigil/influx";
import { EVENTS_STREAM, EVENTS_SUBJECT, encodeEvent, WRITER_CONSUMER } from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  removeStreams,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The writer as deployed: `dist/main.js` in its own process (run `pnpm build` first), stopped by a signal.
describe("writer process", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let databases = 0;

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("writer_process")]);
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  const freshDatabase = async () => {
    const name = `writer_process_${++databases}`;
    await influx.createDatabase(name);
    await removeStreams(jsm, EVENTS_STREAM);
    return name;
  };

  const publishEvents = async (count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let start = 0; start < count; start += 250) {
      const batch = Array.from({ length: Math.min(250, count - start) }, (_, i) => ({
        criticality: (start + i) % 11,
        timestamp: new Date().toISOString(),
        eventMessage: `process event ${start + i}`,
        id: randomUUID(),
      }));
      ids.push(...batch.map((event) => event.id));
      await Promise.all(batch.map((event) => js.publish(EVENTS_SUBJECT, encodeEvent(event))));
    }
    return ids;
  };

  const storedIds = async (database: string): Promise<string[]> => {
    const series = await influx.client("reader", database).query(`SELECT "id" FROM "${EVENTS_MEASUREMENT}"`);
    return (series[0]?.values ?? []).map((row) => String(row[1]));
  };

  const unacknowledged = async () => (await jsm.streams.info(EVENTS_STREAM)).state.messages;

  it("is ready, exports its metrics, and on SIGTERM acknowledges only what it wrote, then exits 0", async () => {
    const database = await freshDatabase();
    const env = serviceEnv(nats.url, influx.config("writer", database), {
      WRITER_BATCH_SIZE: "100",
      WRITER_MAX_CONCURRENT_WRITES: "1",
    });
    const writer = await startService("writer", env);
    const metrics = await (await fetch(`${writer.opsUrl}/metrics`)).text();
    for (const name of [
      "vigil_writer_events_received_total",
      "vigil_writer_events_written_total",
      "vigil_writer_events_dead_lettered_total",
      "vigil_writer_events_redelivered_total",
      "vigil_writer_batch_size",
      "vigil_writer_write_duration_seconds",
      "vigil_writer_write_failures_total",
      "vigil_writer_consumer_pending",
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }

    const ids = await publishEvents(3_000);
    await waitFor(
      "the writer to store some events",
      async () => (await writer.metric("vigil_writer_events_written_total")) > 0,
    );
    expect(await writer.process.stop("SIGTERM", 20_000)).toBe(0);

    // Every event is stored or still in the stream, and every acknowledged one (gone from the
    // interest-retention stream) is stored.
    const stored = new Set(await storedIds(database));
    const left = await unacknowledged();
    expect(stored.size).toBeGreaterThanOrEqual(ids.length - left);

    const again = await startService("writer", env);
    try {
      await waitFor("the rest to be stored", async () => (await unacknowledged()) === 0);
      const all = await storedIds(database);
      expect(all).toHaveLength(ids.length);
      expect(new Set(all)).toEqual(new Set(ids));
    } finally {
      expect(await again.process.stop("SIGTERM", 20_000)).toBe(0);
    }
  });

  it("reports InfluxDB as not ready while it is down, and on SIGTERM hands everything back and exits 0", async () => {
    const database = await freshDatabase();
    const writer = await startService(
      "writer",
      serviceEnv(nats.url, influx.config("writer", database), {
        WRITER_SHUTDOWN_TIMEOUT: "1s",
        WRITER_RETRY_INITIAL: "50ms",
        WRITER_RETRY_MAX: "200ms",
      }),
    );
    await influx.stop();
    try {
      await publishEvents(300);
      await waitFor("readiness to report InfluxDB", async () => {
        const response = await fetch(`${writer.opsUrl}/readyz`);
        return response.status === 503 && ((await response.json()) as { failing: string[] }).failing.includes("influx");
      });
      expect(await writer.process.stop("SIGTERM", 20_000)).toBe(0);
      expect(await unacknowledged()).toBe(300);
      // Handed back, not left to wait out the 30s ack wait: another puller gets them at once.
      const other = await js.consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
      const deliveries: number[] = [];
      for await (const msg of await other.fetch({ max_messages: 300, expires: 5_000 })) {
        deliveries.push(msg.info.deliveryCount);
        msg.nak();
        if (deliveries.length === 300) break;
      }
      expect(deliveries).toHaveLength(300);
      expect(deliveries.every((count) => count === 2)).toBe(true);
    } finally {
      await influx.start();
    }
  });
});
