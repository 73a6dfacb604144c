import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { encodePoints, type InfluxClient } from "@vigil/influx";
import { createConfirmedPublish } from "@vigil/runtime";
import { encodeEvent } from "@vigil/shared";
import { syntheticEvent } from "./fixtures.js";

/** Points per second that InfluxDB takes when handed pre-built line-protocol batches. */
export const influxIngestCeiling = async (
  influx: InfluxClient,
  points: number,
  batchSize = 5_000,
  concurrency = 2,
): Promise<number> => {
  const base = Date.UTC(2025, 0, 1);
  const batches: string[] = [];
  for (let start = 0; start < points; start += batchSize) {
    const size = Math.min(batchSize, points - start);
    batches.push(
      encodePoints(
        Array.from({ length: size }, (_, k) => ({
          event: syntheticEvent(start + k, base + start + k),
          sequence: start + k + 1,
        })),
      ),
    );
  }
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) await influx.write(batches[next++] as string);
    }),
  );
  return points / ((performance.now() - began) / 1000);
};

/** Messages per second through core NATS (no persistence), publisher and subscriber on separate connections. */
export const natsTransportCeiling = async (url: string, messages: number): Promise<number> => {
  const payload = encodeEvent(syntheticEvent(1));
  const [publisher, subscriber] = [await connect({ servers: url }), await connect({ servers: url })];
  let received = 0;
  const done = new Promise<void>((resolve) => {
    subscriber.subscribe("ceiling.core", {
      callback: () => {
        if (++received === messages) resolve();
      },
    });
  });
  await subscriber.flush();
  const began = performance.now();
  for (let i = 0; i < messages; i++) {
    publisher.publish("ceiling.core", payload);
    // Yield now and then so the client's buffer is written out rather than growing without bound.
    if (i % 10_000 === 9_999) await publisher.flush();
  }
  await done;
  const rate = messages / ((performance.now() - began) / 1000);
  await Promise.all([publisher.close(), subscriber.close()]);
  return rate;
};

/** JetStream publish (confirmed, pipelined) and consume (pull, ack each) ceilings in messages per second. */
export const jetStreamCeilings = async (
  url: string,
  messages: number,
  inFlight = 1_000,
): Promise<{ publish: number; consume: number }> => {
  const nc: NatsConnection = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const stream = "CEILING";
  await jsm.streams.delete(stream).catch(() => false);
  await jsm.streams.add({
    name: stream,
    subjects: ["ceiling.js"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  await jsm.consumers.add(stream, { durable_name: "ceiling", ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000 });
  const js = jetstream(nc);
  const payload = encodeEvent(syntheticEvent(1));
  // The publish the daemon and the gateway use (one inbox for every acknowledgement, a
  // Nats-Msg-Id each), so that the ceiling is the server's, not a slower client's.
  const confirmed = createConfirmedPublish(nc);

  let began = performance.now();
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < messages; i++) {
    const ack = confirmed
      .publish("ceiling.js", payload, { msgID: `ceiling-${i}`, timeout: 30_000 })
      .finally(() => pending.delete(ack));
    pending.add(ack);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const publish = messages / ((performance.now() - began) / 1000);

  const consumer = await js.consumers.get(stream, "ceiling");
  began = performance.now();
  const iterator = await consumer.consume({ max_messages: 10_000 });
  let consumed = 0;
  for await (const msg of iterator) {
    msg.ack();
    if (++consumed === messages) break;
  }
  await nc.flush();
  const consume = messages / ((performance.now() - began) / 1000);
  confirmed.close();
  await jsm.streams.delete(stream);
  await nc.close();
  return { publish, consume };
};
