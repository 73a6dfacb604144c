import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { encodePoint, type InfluxClient } from "@vigil/influx";
import { decodeEvent, encodeEvent } from "@vigil/shared";
import { syntheticEvent } from "./fixtures.js";

/**
 * The way a typical implementation stores events: take one message, write its one point to
 * InfluxDB, acknowledge, take the next. Returns events per second.
 */
export const oneWritePerEventBaseline = async (url: string, influx: InfluxClient, events: number): Promise<number> => {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const stream = "BASELINE";
  await jsm.streams.delete(stream).catch(() => false);
  await jsm.streams.add({
    name: stream,
    subjects: ["baseline.events"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  await jsm.consumers.add(stream, { durable_name: "baseline", ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  await Promise.all(
    Array.from({ length: events }, (_, i) => js.publish("baseline.events", encodeEvent(syntheticEvent(i)))),
  );

  const consumer = await js.consumers.get(stream, "baseline");
  const began = performance.now();
  for (let i = 0; i < events; i++) {
    const msg = await consumer.next({ expires: 5_000 });
    if (msg === null) throw new Error("baseline: the stream ran dry");
    const decoded = decodeEvent(msg.data);
    if (decoded.ok) await influx.write(encodePoint({ event: decoded.event, sequence: msg.seq }));
    await msg.ackAck();
  }
  const rate = events / ((performance.now() - began) / 1000);
  await jsm.streams.delete(stream);
  await nc.close();
  return rate;
};
