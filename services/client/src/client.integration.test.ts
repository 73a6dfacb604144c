import { fileURLToPath } from "node:url";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
// The client does not depend on these; the test needs a real reader and real stored events.
import { createInfluxClient, encodePoints, type SequencedEvent } from "@vigil/influx";
import { loadConfig, type Reader, startReader } from "@vigil/reader";
import { createLogger, printable, queryEvents, ReaderError } from "@vigil/runtime";
import { EVENTS_QUERY_SUBJECT, type SecurityEvent } from "@vigil/shared";
import {
  freePort,
  type Influxd,
  type NatsServer,
  runToExit,
  spawnManaged,
  startInfluxd,
  startNatsServer,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const ESCAPE = String.fromCharCode(27);

const clientArgs = (args: readonly string[]) => ["--conditions=vigil-source", "--import", "tsx", MAIN, ...args];
const clientEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? "", ...env });

/** Runs the client's `main.ts` as its own process, from source. */
const launch = (args: readonly string[], env: Record<string, string>) =>
  spawnManaged(process.execPath, clientArgs(args), clientEnv(env), { cwd: ROOT });

/** Runs the client to its end. */
const run = (args: readonly string[], env: Record<string, string>) =>
  runToExit(process.execPath, clientArgs(args), clientEnv(env), { cwd: ROOT });

const STORED: SequencedEvent[] = Array.from({ length: 14 }, (_, i) => ({
  event: {
    // The newest event carries the long multi-line message, so that every query shows it.
    criticality: i === 13 ? 9 : i % 11,
    timestamp: new Date(Date.parse("2024-06-01T12:00:00Z") + i * 60_000).toISOString(),
    eventMessage: i === 13 ? `multi-line\nmessage ${"long ".repeat(40)}` : `event number ${i}`,
    ...(i % 2 === 0 ? { source: `host-${i}` } : {}),
  },
  sequence: i + 1,
}));

const expected = (minCriticality: number, limit = 10): SecurityEvent[] =>
  STORED.map(({ event }) => event)
    .filter((event) => event.criticality > minCriticality)
    .sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp))
    .slice(0, limit);

describe("client against a real reader", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let natsEnv: Record<string, string>;
  const connections: NatsConnection[] = [];
  const readers: Reader[] = [];

  const startOne = async (influxUrl?: string): Promise<Reader> => {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const config = {
      ...influx.config("reader"),
      timeoutMs: 2_000,
      ...(influxUrl === undefined ? {} : { url: influxUrl }),
    };
    const reader = await startReader(
      { nc, influx: createInfluxClient(config), log: createLogger("client-test", "silent") },
      {
        ...loadConfig({}).settings,
        queryTimeoutMs: 2_000,
        maxConcurrent: 4,
        maxQueued: 10,
        maxBytesInFlight: 8 * 1024 * 1024,
        healthIntervalMs: 500,
      },
    );
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("client_test")]);
    await influx.client("writer").write(encodePoints(STORED));
    natsEnv = { NATS_URL: nats.url };
  });

  afterAll(async () => {
    await Promise.allSettled(readers.map((reader) => reader.stop()));
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  describe("with a reader running", () => {
    let reader: Reader;
    beforeAll(async () => {
      reader = await startOne();
    });
    afterAll(async () => {
      await reader.stop();
    });

    it("prints a heading and a table whose rows are the stored events, newest first, and exits 0", async () => {
      const { code, stdout, stderr } = await run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "3" });
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const lines = stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^last 10 events with criticality > 3, newest first, at \d{4}-\d\d-\d\dT[\d:.]+Z$/);
      expect(lines[1]).toMatch(/^TIME\s+CRITICALITY\s+SOURCE\s+MESSAGE$/);
      const rows = lines.slice(2).map((line) => line.split(/ {2,}/));
      const want = expected(3);
      expect(rows).toHaveLength(want.length);
      rows.forEach((row, index) => {
        const event = want[index] as SecurityEvent;
        expect(row.slice(0, 3)).toEqual([event.timestamp, String(event.criticality), event.source ?? "-"]);
        const message = printable(event.eventMessage);
        expect(row.slice(3).join("  ")).toBe(message.length > 100 ? `${message.slice(0, 99)}…` : message);
      });
      expect(stdout).toContain("multi-line⏎message");
      expect(stdout).not.toContain(ESCAPE);
    });

    it("--json prints the events as parseable JSON equal to the stored ones", async () => {
      const { code, stdout } = await run(["--json", "--limit", "3", "--min-criticality", "6"], natsEnv);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual(expected(6, 3));
    });

    it("says so when no event matches, and exits 0", async () => {
      const { code, stdout } = await run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "10" });
      expect(code).toBe(0);
      expect(stdout.trimEnd().split("\n").slice(1)).toEqual(["no events match"]);
    });

    it("exits 2 with one line naming a bad variable or flag, before asking anything", async () => {
      const [variable, missing, flag] = await Promise.all([
        run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "high" }),
        run([], natsEnv),
        run(["--limit", "5000"], { ...natsEnv, CLIENT_MIN_CRITICALITY: "1" }),
      ]);
      expect(variable.code).toBe(2);
      expect(variable.stdout).toBe("");
      expect(variable.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(variable.stderr).toMatch(/CLIENT_MIN_CRITICALITY/);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/CLIENT_MIN_CRITICALITY is not set/);
      expect(flag.code).toBe(2);
      expect(flag.stderr).toMatch(/--limit/);
    });
  });

  it("exits 4 and prints the reader's code and message when the reader answers with an error", async () => {
    // A reader whose InfluxDB is nowhere answers every query with STORAGE_UNAVAILABLE.
    const broken = await startOne(`http://127.0.0.1:${await freePort()}`);
    try {
      const { code, stdout, stderr } = await run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "1" });
      expect(code).toBe(4);
      expect(stdout).toBe("");
      expect(stderr.trimEnd().split("\n")).toEqual([
        "vigil-client: the reader answered STORAGE_UNAVAILABLE: InfluxDB is unavailable; retry later",
      ]);
    } finally {
      await broken.stop();
    }
  });

  it("queryEvents reports a bare service error (headers, no error body) as a ReaderError", async () => {
    const responder = await connect({ servers: nats.url });
    const asker = await connect({ servers: nats.url });
    try {
      responder.subscribe(EVENTS_QUERY_SUBJECT, {
        callback: (_err, msg) => {
          const failure = headers();
          failure.set("Nats-Service-Error", "handler crashed");
          failure.set("Nats-Service-Error-Code", "500");
          msg.respond(new Uint8Array(), { headers: failure });
        },
      });
      await responder.flush();
      const asking = queryEvents(asker, { minCriticality: 1, limit: 10 }, 5_000);
      await expect(asking).rejects.toBeInstanceOf(ReaderError);
      await expect(asking).rejects.toThrow("the reader answered service error 500: handler crashed");
    } finally {
      await Promise.all([responder.close(), asker.close()]);
    }
  });

  it("exits 3 with one clear line when no reader is running", async () => {
    const { code, stdout, stderr } = await run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "1" });
    expect(code).toBe(3);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      `vigil-client: no reader is answering on ${EVENTS_QUERY_SUBJECT} (is a reader running?)`,
    ]);
  });

  it("exits 3 when nothing answers within CLIENT_TIMEOUT", async () => {
    const silent = await connect({ servers: nats.url });
    try {
      // Subscribed, so there are responders, but it never replies.
      silent.subscribe(EVENTS_QUERY_SUBJECT, { callback: () => {} });
      await silent.flush();
      const { code, stderr } = await run([], { ...natsEnv, CLIENT_MIN_CRITICALITY: "1", CLIENT_TIMEOUT: "300ms" });
      expect(code).toBe(3);
      expect(stderr.trim()).toBe("vigil-client: no answer from a reader within 300ms");
    } finally {
      await silent.close();
    }
  });

  it("exits 3 when NATS cannot be reached", async () => {
    const { code, stderr } = await run([], {
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      NATS_CONNECT_TIMEOUT_MS: "300",
      CLIENT_MIN_CRITICALITY: "1",
    });
    expect(code).toBe(3);
    expect(stderr).toMatch(/^vigil-client: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it("with --every, reports each failed attempt, says when answers are back, and exits 0 on SIGTERM", async () => {
    const client = launch(["--every", "200ms", "--json"], { ...natsEnv, CLIENT_MIN_CRITICALITY: "8" });
    try {
      await waitFor("two failed attempts", () => client.stderr().split("\n").length > 2);
      expect(client.stderr().split("\n")[0]).toMatch(
        /^\S+Z no reader is answering on events\.query \(is a reader running\?\); retrying in 200ms$/,
      );
      expect(client.stdout()).toBe("");

      const reader = await startOne();
      await waitFor("answers to come back", () => client.stdout().split("\n").length > 2);
      expect(client.stderr()).toMatch(/Z answers are back after \d+ failed attempts\n/);
      const answers = client.stdout().trimEnd().split("\n");
      for (const line of answers) expect(JSON.parse(line)).toEqual(expected(8));
      await reader.stop();
    } finally {
      client.child.kill("SIGTERM");
    }
    expect(await client.exited()).toBe(0);
  });
});
