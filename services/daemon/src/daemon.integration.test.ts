import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { decodeEvent, EVENTS_STREAM, EVENTS_SUBJECT, type SecurityEvent, WRITER_CONSUMER } from "@vigil/shared";
import {
  type ManagedProcess,
  type NatsServer,
  readStreamPayloads,
  removeStreams,
  reportedOpsPort,
  spawnManaged,
  startNatsServer,
  waitFor,
} from "@vigil/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = `${ROOT}services/daemon/dist/main.js`;

/** Every event in the events stream, oldest first. */
const readStream = async (nc: NatsConnection): Promise<SecurityEvent[]> =>
  (await readStreamPayloads(nc, EVENTS_STREAM)).map((payload) => {
    const decoded = decodeEvent(payload);
    if (!decoded.ok) throw new Error(`stream holds an invalid event: ${decoded.rejection.reason}`);
    return decoded.event;
  });

/** Sum of one metric's samples on an operations endpoint. */
const scrape = async (port: number, metric: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
};

describe("the daemon process", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let daemon: ManagedProcess | undefined;

  const spawnDaemon = (env: Record<string, string>) => {
    daemon = spawnManaged(process.execPath, [MAIN], {
      PATH: process.env.PATH ?? "",
      NATS_URL: nats.url,
      OPS_PORT: "0",
      LOG_LEVEL: "info",
      ...env,
    });
    return daemon;
  };

  beforeAll(async () => {
    execFileSync("pnpm", ["exec", "tsc", "--build", "services/daemon"], { cwd: ROOT, stdio: "pipe" });
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    await daemon?.stop("SIGKILL");
    daemon = undefined;
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it("creates the stream when missing, with the configured limits, and leaves the consumer to the writer", async () => {
    await removeStreams(jsm, EVENTS_STREAM);
    const proc = spawnDaemon({
      DAEMON_MAX_EVENTS: "25",
      DAEMON_RATE: "0",
      EVENTS_MAX_MSGS: "5000",
      EVENTS_MAX_BYTES: "2MiB",
      EVENTS_MAX_AGE: "1h",
      EVENTS_DUPLICATE_WINDOW: "30s",
    });
    expect(await proc.exited(), proc.output()).toBe(0);
    const stream = await jsm.streams.info(EVENTS_STREAM);
    expect(stream.config).toMatchObject({
      subjects: [EVENTS_SUBJECT],
      retention: "workqueue",
      discard: "new",
      max_msgs: 5_000,
      max_bytes: 2 * 1_048_576,
      max_age: nanos(3_600_000),
      duplicate_window: nanos(30_000),
    });
    expect(stream.state.messages).toBe(25);
    // The writer owns its consumer (services/writer/src/writer.integration.test.ts, "start order").
    await expect(jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).rejects.toThrow(/consumer not found/i);
  });

  it("on SIGTERM stops publishing, exits 0, and every event it confirmed is in the stream", async () => {
    await removeStreams(jsm, EVENTS_STREAM);
    const proc = spawnDaemon({ DAEMON_RATE: "500" });
    const port = await reportedOpsPort(proc, "the daemon");
    await waitFor("the daemon to be ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
    await waitFor("confirmed events", async () => (await scrape(port, "vigil_daemon_publish_confirmed_total")) >= 200);
    proc.child.kill("SIGTERM");
    expect(await proc.exited(), proc.output()).toBe(0);

    const stopped = proc.logs().find((line) => line.msg === "stopped publishing");
    expect(stopped).toMatchObject({ inFlight: 0 });
    const confirmed = stopped?.confirmed as number;
    expect(confirmed).toBeGreaterThanOrEqual(200);
    expect(stopped?.published).toBe(confirmed);
    const stored = await readStream(nc);
    expect(stored).toHaveLength(confirmed);
    expect(new Set(stored.map((event) => event.id)).size).toBe(confirmed);
  });

  it("refuses a bad configuration with one log line naming the variable, and exits 1", async () => {
    const proc = spawnDaemon({ DAEMON_CRITICALITY_WEIGHTS: "1,2,3" });
    expect(await proc.exited()).toBe(1);
    const lines = proc.logs();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "fatal" });
    expect(lines[0]?.msg).toMatch(/DAEMON_CRITICALITY_WEIGHTS: expected 11 comma-separated weights, got 3/);
  });
});
