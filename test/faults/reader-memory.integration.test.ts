/**
 * The reader stays within its container's memory limit (256 MB in docker-compose.yml) whatever
 * the size of the answers asked for: hostile clients ask, all at once, for the largest answers
 * InfluxDB holds, each a different question so that no two share a query. Every request is
 * answered, with the events or a documented error code; the reader stays up, and its peak
 * resident memory (VmHWM, what the kernel's cgroup limit counts) stays below the limit. V8's heap
 * is capped as well, so that a reader holding more than it should dies of it here rather than
 * passing on a large machine. Without the byte budget (READER_MAX_BYTES_IN_FLIGHT=16GiB) the
 * peak was 304 MiB here; without the heap cap, 263 MiB.
 */
import { readFile } from "node:fs/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { encodePoints, type SequencedEvent } from "@vigil/influx";
import { decodeQueryReply, EVENTS_QUERY_SUBJECT, encodeJson, QUERY_ERROR_CODES } from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CONTAINER_LIMIT_BYTES = 256 * 1024 * 1024;
/** The reader's heap cap in docker-compose.yml (checked below), without which V8 grows lazily past the limit. */
const READER_NODE_OPTIONS = "--max-old-space-size=160";
const STORED_EVENTS = 1_000;
const REQUESTS = 240;
/**
 * The largest answer InfluxDB gives: 1024 characters that it escapes as six bytes each (`<`) or
 * takes three bytes for and V8 two (`€`), so about 4.6 MB of JSON for 1000 events.
 */
const MESSAGE = "<€".repeat(512);

/** The process's peak resident memory so far, in bytes (Linux `/proc/<pid>/status`, VmHWM). */
const peakResidentBytes = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kib) * 1024;
};

describe("the reader under hostile query load", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let reader: RunningService;
  let client: NatsConnection;

  beforeAll(async () => {
    // The reply to 1000 such events (about 4 MB) fits the compose deployment's max_payload.
    [nats, influx] = await Promise.all([
      startNatsServer({ config: "max_payload: 8MB" }),
      startInfluxd("reader_memory"),
    ]);
    const events: SequencedEvent[] = Array.from({ length: STORED_EVENTS }, (_, n) => ({
      event: {
        criticality: n % 11,
        timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, n)).toISOString(),
        eventMessage: MESSAGE,
        id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
        source: "memory-test",
      },
      sequence: n + 1,
    }));
    for (let start = 0; start < events.length; start += 100) {
      await influx.client("writer").write(encodePoints(events.slice(start, start + 100)));
    }
    reader = await startService(
      "reader",
      serviceEnv(nats.url, influx.config("reader"), {
        // Long enough that waiting for the byte budget, not the clock, decides most answers.
        READER_QUERY_TIMEOUT: "120s",
        NODE_OPTIONS: READER_NODE_OPTIONS,
      }),
    );
    client = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await client?.close();
    await reader?.process.stop("SIGTERM");
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("is run in the compose deployment with the same heap cap and memory limit as here", async () => {
    const compose = await readFile(new URL("../../docker-compose.yml", import.meta.url), "utf8");
    const readerService = compose.slice(compose.indexOf("\n  reader:"), compose.indexOf("\n  client:"));
    expect(readerService).toContain(`NODE_OPTIONS: ${READER_NODE_OPTIONS}`);
    expect(readerService).toMatch(/memory: 256m/);
  });

  it("answers every request with the events or a documented error code, and stays below 256 MB", async () => {
    // Distinct limits: identical requests would share one InfluxDB query, distinct ones cannot.
    const replies = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, n) => {
        const limit = STORED_EVENTS - (n % 200);
        const msg = await client.request(EVENTS_QUERY_SUBJECT, encodeJson({ minCriticality: -1, limit }), {
          timeout: 180_000,
        });
        const reply = decodeQueryReply(msg.data);
        // Keep only the outcome, so that the test process does not hold every answer.
        return "error" in reply ? reply.error.code : reply.events.length === limit ? "ok" : "short";
      }),
    );
    const outcomes: Record<string, number> = {};
    for (const outcome of replies) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    expect(Object.keys(outcomes).filter((outcome) => outcome !== "ok" && !(outcome in QUERY_ERROR_CODES))).toEqual([]);
    expect(outcomes.ok ?? 0).toBeGreaterThan(0);
    expect(reader.process.child.exitCode).toBeNull();
    const peak = await peakResidentBytes(reader.pid);
    const summary = `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB; outcomes ${JSON.stringify(outcomes)}`;
    expect(peak, summary).toBeLessThan(CONTAINER_LIMIT_BYTES);
    // Minutes of work for two shared cores; the clock decides nothing asserted here.
  }, 300_000);
});
