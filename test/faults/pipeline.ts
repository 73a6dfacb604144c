/**
 * What the fault-injection tests share: the servers and services of one test file, settings that
 * make recovery quick, a record of every event published, the events stored in InfluxDB, and the
 * exactly-once check between the two.
 */
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { EVENTS_MEASUREMENT, type InfluxClient, type InfluxConfig } from "@vigil/influx";
import { DEAD_LETTER_STREAM, EVENTS_STREAM, EVENTS_SUBJECT, WRITER_CONSUMER } from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  removeStreams,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";

/**
 * A writer that retries InfluxDB and refreshes its readiness quickly. The writer alone creates
 * the durable consumer; its short ack wait lets a killed writer's events come back in seconds
 * rather than the default 30 s.
 */
export const writerEnv = (natsUrl: string, influx: InfluxConfig, extra: Record<string, string> = {}) =>
  serviceEnv(natsUrl, influx, {
    WRITER_ACK_WAIT: "2s",
    WRITER_RETRY_INITIAL: "50ms",
    WRITER_RETRY_MAX: "500ms",
    WRITER_POLL_INTERVAL: "250ms",
    ...extra,
  });

/**
 * A daemon that publishes `events` events at a moderate rate, retries quickly and exits 0 once
 * the stream has confirmed every one of them.
 */
export const daemonEnv = (natsUrl: string, events: number, extra: Record<string, string> = {}) =>
  serviceEnv(natsUrl, undefined, {
    DAEMON_RATE: "1000",
    DAEMON_MAX_EVENTS: String(events),
    DAEMON_PUBLISH_TIMEOUT: "1s",
    DAEMON_RETRY_MAX_DELAY: "500ms",
    ...extra,
  });

/** Every event seen on `events`, by id: each publish attempt that reached the server. */
export interface PublishedEvents {
  readonly ids: Set<string>;
  /** Messages seen, retried publishes included. */
  messages(): number;
  /** Stops watching. */
  stop(): void;
}

/**
 * Subscribes to `events` with a plain subscription, as a bystander sees the daemon's publishes.
 * The daemon counts an event only once the stream confirms it and, with `DAEMON_MAX_EVENTS`,
 * exits 0 only once all of them are confirmed, so when it has exited 0 the ids seen here are
 * exactly the events the stream confirmed (as long as this connection was never cut).
 */
export const watchPublished = async (nc: NatsConnection): Promise<PublishedEvents> => {
  const ids = new Set<string>();
  let messages = 0;
  const subscription = nc.subscribe(EVENTS_SUBJECT, {
    callback: (_err, msg) => {
      messages++;
      ids.add(msg.json<{ id: string }>().id);
    },
  });
  await nc.flush();
  return { ids, messages: () => messages, stop: () => subscription.unsubscribe() };
};

/** The `id` of every point in the events measurement, duplicates included. */
export const storedIds = async (reader: InfluxClient): Promise<string[]> => {
  const series = await reader.query(`SELECT "id" FROM "${EVENTS_MEASUREMENT}"`);
  return (series[0]?.values ?? []).map((row) => String(row[1]));
};

/** How many points the events measurement holds. */
export const storedCount = async (reader: InfluxClient): Promise<number> => {
  const series = await reader.query(`SELECT COUNT("id") FROM "${EVENTS_MEASUREMENT}"`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
};

/** Waits until at least `count` events are stored (polling InfluxDB, no fixed pause). */
export const waitUntilStored = (reader: InfluxClient, count: number, timeoutMs = 30_000) =>
  waitFor(`${count} events stored`, async () => (await storedCount(reader)) >= count, timeoutMs, 100);

/** The writers' durable consumer as the server reports it. */
export const consumerState = async (jsm: JetStreamManager) => {
  const info = await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER);
  return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
};

/** Waits until the writers have acknowledged everything in the stream: every event is stored or dead-lettered. */
export const waitUntilDrained = (jsm: JetStreamManager, timeoutMs = 45_000) =>
  waitFor(
    "the writers to acknowledge every event",
    async () => {
      const state = await consumerState(jsm);
      return state.pending === 0 && state.ackPending === 0;
    },
    timeoutMs,
    100,
  );

/**
 * The guarantee itself: InfluxDB holds one point for each acknowledged event and nothing else,
 * compared by id. Reported as lists so that a failure names the events.
 */
export const expectStoredExactlyOnce = (stored: readonly string[], acknowledged: ReadonlySet<string>) => {
  const seen = new Set<string>();
  const duplicated: string[] = [];
  for (const id of stored) {
    if (seen.has(id)) duplicated.push(id);
    seen.add(id);
  }
  expect({
    missing: [...acknowledged].filter((id) => !seen.has(id)),
    unexpected: [...seen].filter((id) => !acknowledged.has(id)),
    duplicated,
  }).toEqual({ missing: [], unexpected: [], duplicated: [] });
  expect(stored.length).toBe(acknowledged.size);
};

/** The lines the services promise once per outage and once when it ends, as they log them. */
export const OUTAGE_LINES = {
  influxDown: "InfluxDB is unavailable; holding batches unacknowledged and retrying",
  influxBack: "InfluxDB is reachable again; writing held batches",
  natsLost: "lost the NATS connection; reconnecting",
  natsBack: "NATS connection is back",
} as const;

/** The messages among `messages` that a service has logged so far, in order. */
export const loggedAmong = (service: RunningService, messages: readonly string[]): string[] =>
  service.process
    .logs()
    .map((line) => line.msg ?? "")
    .filter((msg) => messages.includes(msg));

/** Whether a service's `/readyz` answers 200 now. */
export const isReady = async (service: RunningService): Promise<boolean> =>
  (await fetch(`${service.opsUrl}/readyz`)).ok;

/** Removes the streams, so that the next scenario starts from nothing (the services recreate them). */
export const deleteStreams = async (jsm: JetStreamManager) => {
  await removeStreams(jsm, EVENTS_STREAM, DEAD_LETTER_STREAM);
};

/** Publishes payloads on `events` through JetStream, 250 at a time; resolves with their stream sequences. */
export const publishConfirmed = async (nc: NatsConnection, payloads: readonly Uint8Array[]): Promise<number[]> => {
  const js = jetstream(nc);
  const sequences: number[] = [];
  for (let start = 0; start < payloads.length; start += 250) {
    const acks = await Promise.all(payloads.slice(start, start + 250).map((p) => js.publish(EVENTS_SUBJECT, p)));
    sequences.push(...acks.map((ack) => ack.seq));
  }
  return sequences;
};

/** One scenario's own database and record of what was published, so it counts only its own events. */
export interface Scenario {
  readonly database: string;
  readonly reader: InfluxClient;
  readonly published: PublishedEvents;
}

/** The servers of one fault-test file, the test's own connection to NATS, and the services started. */
export interface FaultPipeline {
  readonly nats: NatsServer;
  readonly influx: Influxd;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** A new database, no streams (the services recreate them) and a fresh watch on `events`. */
  freshScenario(): Promise<Scenario>;
  /**
   * Starts a service from `dist/`. One started in a test is killed after that test; one started
   * in `beforeAll`, after the file.
   */
  start(name: string, env: Record<string, string>): Promise<RunningService>;
}

/**
 * Registers, in the calling `describe`, the hooks that start nats-server and InfluxDB (database
 * `database`) for the file, connect to NATS, stop the services each test started, and clean up.
 * The fields of the result are there once `beforeAll` has run.
 */
export const usePipeline = (database: string, connection: Partial<ConnectionOptions> = {}): FaultPipeline => {
  let nats: NatsServer | undefined;
  let influx: Influxd | undefined;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the fault pipeline is used before its beforeAll ran");
    return value;
  };
  const forFile: RunningService[] = [];
  let forTest: RunningService[] | undefined;
  let watching: PublishedEvents | undefined;
  let databases = 0;

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd(database)]);
    nc = await connect({ servers: nats.url, ...connection });
    jsm = await jetstreamManager(nc);
  });
  beforeEach(() => {
    forTest = [];
  });
  afterEach(async () => {
    await Promise.all((forTest ?? []).map((service) => service.process.stop("SIGKILL")));
    forTest = undefined;
    watching?.stop();
    watching = undefined;
  });
  afterAll(async () => {
    await Promise.all(forFile.map((service) => service.process.stop("SIGKILL")));
    await nc?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  return {
    get nats() {
      return ready(nats);
    },
    get influx() {
      return ready(influx);
    },
    get nc() {
      return ready(nc);
    },
    get jsm() {
      return ready(jsm);
    },
    async freshScenario() {
      const name = `${database}_${++databases}`;
      await ready(influx).createDatabase(name);
      await deleteStreams(ready(jsm));
      watching = await watchPublished(ready(nc));
      return { database: name, reader: ready(influx).client("reader", name), published: watching };
    },
    async start(name, env) {
      const service = await startService(name, env);
      (forTest ?? forFile).push(service);
      return service;
    },
  };
};
