/**
 * The whole suite as a user runs it: daemon, writer and reader as their own processes from the
 * built `dist/`, side by side on one host with their default operations settings, against a real
 * nats-server and InfluxDB; then the client, also as a process, prints what it got from the
 * reader, which must be what the daemon published.
 */
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DEFAULT_OPS_PORTS } from "@vigil/runtime";
import { EVENTS_SUBJECT, type SecurityEvent } from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  runToExit,
  serviceEnv,
  spawnManaged,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DAEMON = fileURLToPath(new URL("../services/daemon/dist/main.js", import.meta.url));
const CLIENT = fileURLToPath(new URL("../services/client/dist/main.js", import.meta.url));
const EVENTS = 300;

/** Runs the client to completion and returns its exit code and output. */
const runClient = (env: Record<string, string>, args: string[] = []) =>
  runToExit(process.execPath, [CLIENT, ...args], env);

describe("the suite end to end", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let observer: NatsConnection;
  const services: RunningService[] = [];
  const published: SecurityEvent[] = [];

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("e2e")]);
    // A plain subscriber sees every event the daemon publishes, in stream order.
    observer = await connect({ servers: nats.url });
    observer.subscribe(EVENTS_SUBJECT, {
      callback: (_err, msg) => {
        published.push(msg.json<SecurityEvent>());
      },
    });
    await observer.flush();
    // No OPS_PORT anywhere: each service serves /readyz on its own default port, so none of them
    // fails at start on a port another one holds.
    services.push(
      await startService("writer", serviceEnv(nats.url, influx.config("writer"), {}), {
        defaultOpsPort: DEFAULT_OPS_PORTS.writer,
      }),
    );
    services.push(
      await startService("reader", serviceEnv(nats.url, influx.config("reader"), {}), {
        defaultOpsPort: DEFAULT_OPS_PORTS.reader,
      }),
    );
    // The daemon exits 0 by itself once the stream has confirmed its EVENTS events.
    const daemon = spawnManaged(
      process.execPath,
      [DAEMON],
      serviceEnv(nats.url, undefined, { DAEMON_RATE: "0", DAEMON_MAX_EVENTS: String(EVENTS) }),
    );
    const exitCode = await daemon.exited();
    if (exitCode !== 0) throw new Error(`daemon exited with ${exitCode}: ${daemon.output()}`);
    const admin = influx.client("admin");
    await waitFor(
      `${EVENTS} events stored in InfluxDB`,
      async () => {
        const series = await admin.query('SELECT count("eventMessage") FROM "security_events"');
        return Number(series[0]?.values[0]?.[1] ?? 0) === EVENTS;
      },
      60_000,
      200,
    );
  });

  afterAll(async () => {
    for (const service of services.reverse()) await service.process.stop("SIGTERM");
    await observer?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  /** The newest `limit` published events above `threshold`, as the reader should order them. */
  const expected = (threshold: number, limit: number) =>
    published
      .map((event, order) => ({ event, order }))
      .filter(({ event }) => event.criticality > threshold)
      .sort((a, b) => Date.parse(b.event.timestamp) - Date.parse(a.event.timestamp) || b.order - a.order)
      .slice(0, limit)
      .map(({ event }) => event);

  it("runs the writer and the reader side by side, each ready on its own default ops port", async () => {
    for (const port of [DEFAULT_OPS_PORTS.writer, DEFAULT_OPS_PORTS.reader]) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    }
  });

  it("stores every published event exactly once", () => {
    expect(published).toHaveLength(EVENTS);
    expect(new Set(published.map((event) => event.id)).size).toBe(EVENTS);
  });

  it("prints, as JSON, the newest 10 events above the threshold, as published", async () => {
    const env = serviceEnv(nats.url, undefined, { CLIENT_MIN_CRITICALITY: "5" });
    const result = await runClient(env, ["--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as SecurityEvent[] | { events: SecurityEvent[] };
    const events = Array.isArray(printed) ? printed : printed.events;
    expect(events).toEqual(expected(5, 10));
  });

  it("prints a table whose rows are those events", async () => {
    const env = serviceEnv(nats.url, undefined, { CLIENT_MIN_CRITICALITY: "5" });
    const result = await runClient(env);
    expect(result.code).toBe(0);
    const want = expected(5, 10);
    expect(want.length).toBeGreaterThan(0);
    const rows = result.stdout.split("\n").filter((line) => want.some((event) => line.includes(event.timestamp)));
    expect(rows).toHaveLength(want.length);
    want.forEach((event, index) => {
      expect(rows[index]).toContain(event.timestamp);
      expect(rows[index]).toContain(event.eventMessage.slice(0, 40));
    });
  });

  it("honours CLIENT_LIMIT and says so when nothing matches", async () => {
    const some = await runClient(serviceEnv(nats.url, undefined, { CLIENT_MIN_CRITICALITY: "-1", CLIENT_LIMIT: "3" }), [
      "--json",
    ]);
    const printed = JSON.parse(some.stdout) as SecurityEvent[] | { events: SecurityEvent[] };
    expect(Array.isArray(printed) ? printed : printed.events).toEqual(expected(-1, 3));
    const none = await runClient(serviceEnv(nats.url, undefined, { CLIENT_MIN_CRITICALITY: "10" }));
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/no events/i);
  });

  it("stores and returns all of 1,000 events from an outside producer that share one timestamp", async () => {
    // Only the three required fields, as a producer outside the suite may send them; a timestamp
    // later than any the daemon wrote, so that these are the newest events.
    const timestamp = "2100-01-01T00:00:00.000Z";
    const messages = Array.from({ length: 1_000 }, (_, i) => `outside producer event ${i}`);
    const js = jetstream(observer);
    await Promise.all(
      messages.map((eventMessage) =>
        js.publish(EVENTS_SUBJECT, JSON.stringify({ criticality: 10, timestamp, eventMessage })),
      ),
    );
    const admin = influx.client("admin");
    await waitFor(
      "the outside events to be stored",
      async () => {
        const series = await admin.query(
          'SELECT count("eventMessage") FROM "security_events" WHERE time >= \'2100-01-01T00:00:00Z\'',
        );
        return Number(series[0]?.values[0]?.[1] ?? 0) === messages.length;
      },
      60_000,
      200,
    );
    const result = await runClient(
      serviceEnv(nats.url, undefined, { CLIENT_MIN_CRITICALITY: "9", CLIENT_LIMIT: "1000" }),
      ["--json"],
    );
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as SecurityEvent[] | { events: SecurityEvent[] };
    const events = Array.isArray(printed) ? printed : printed.events;
    expect(events).toHaveLength(1_000);
    expect(new Set(events.map((event) => event.eventMessage))).toEqual(new Set(messages));
    for (const event of events) expect(event).toEqual({ criticality: 10, timestamp, eventMessage: event.eventMessage });
  });
});
