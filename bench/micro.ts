/**
 * `pnpm bench:micro [--quick] [name filter...]`: CPU microseconds per event on the hot paths,
 * measured inside this process with `process.cpuUsage` (user + system), without NATS or InfluxDB.
 * CPU time rather than wall time, so that other load on the shared cores slows a run down but
 * barely moves its figures. Each case is warmed up, then sampled several times; the table shows
 * the median and the spread. `pnpm bench` measures the pipeline as a whole.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  createEventGenerator,
  DEFAULT_CRITICALITY_WEIGHTS,
  parseCriticalityWeights,
  startPublisher,
} from "@vigil/daemon";
import { encodePoints, type SequencedEvent } from "@vigil/influx";
import { createLogger, createMetricsRegistry } from "@vigil/runtime";
import { decodeEvent, encodeEvent, MAX_EVENT_BYTES, SecurityEvent } from "@vigil/shared";
import {
  createBatcher,
  createBatchStore,
  createMessageIntake,
  createWriterMetrics,
  type HeldMessage,
  type PendingEvent,
} from "@vigil/writer";
import { syntheticEvent } from "./fixtures.js";
import { summarise } from "./stats.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const filters = args.filter((arg) => !arg.startsWith("--"));
const SAMPLES = quick ? 3 : 7;
const SAMPLE_CPU_MICROS = quick ? 150_000 : 400_000;
const WARMUP_CPU_MICROS = quick ? 150_000 : 500_000;

/** Events per round: the writer's default batch size, so a round of the writer path is one batch. */
const ROUND = 5_000;
/** Distinct events cycled through, so that no case measures one payload cached over and over. */
const DISTINCT = 20_000;

const cpuMicrosNow = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

interface Case {
  readonly name: string;
  /** Processes `ROUND` events. */
  readonly round: () => void | Promise<void>;
}

/** CPU microseconds per event of `round`, one figure per sample. */
const measure = async ({ round }: Case): Promise<number[]> => {
  const runFor = async (cpuMicros: number): Promise<number> => {
    const start = cpuMicrosNow();
    let rounds = 0;
    do {
      await round();
      rounds++;
    } while (cpuMicrosNow() - start < cpuMicros);
    return (cpuMicrosNow() - start) / (rounds * ROUND);
  };
  await runFor(WARMUP_CPU_MICROS);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(await runFor(SAMPLE_CPU_MICROS));
  return samples;
};

// Inputs, built once. Events look like the daemon's and the bench fixtures' (about 200 bytes).
const at = Date.parse("2026-03-01T12:00:00.000Z");
const events: SecurityEvent[] = Array.from({ length: DISTINCT }, (_, i) => syntheticEvent(i, at + i * 7));
const payloads: Uint8Array[] = events.map(encodeEvent);
const invalidPayloads: Uint8Array[] = events.map((event, i) =>
  // A different field wrong each time, the rest valid: the near misses a producer bug makes.
  encodeEvent(
    [
      { ...event, criticality: 11 },
      { ...event, timestamp: event.timestamp.slice(0, -1) },
      { ...event, eventMessage: "" },
      { ...event, id: event.id?.slice(1) },
    ][i % 4] as SecurityEvent,
  ),
);
const notJson: Uint8Array[] = payloads.map((payload) => payload.subarray(0, payload.length - 1));
const sequenced: SequencedEvent[] = events.map((event, i) => ({ event, sequence: i + 1 }));
const utf8 = new TextDecoder("utf-8", { fatal: true });
const textEncoder = new TextEncoder();
/**
 * What `fetch` does with a string body before sending it: counts its bytes and encodes it. A body
 * built by concatenation is flattened here, so this cost belongs to the way it was built.
 */
const toRequestBody = (lines: string): Uint8Array => {
  sink += Buffer.byteLength(lines);
  return textEncoder.encode(lines);
};

let cursor = 0;
/** The next `ROUND` indexes into the inputs, wrapping around. */
const nextRound = (): number => {
  const first = cursor;
  cursor = (cursor + ROUND) % DISTINCT;
  return first;
};

// Something every case's result flows into, so that no work is optimised away.
let sink = 0;

const decodeCase = (name: string, inputs: readonly Uint8Array[]): Case => ({
  name,
  round() {
    const first = nextRound();
    for (let i = 0; i < ROUND; i++) {
      const decoded = decodeEvent(inputs[(first + i) % DISTINCT] as Uint8Array);
      sink += decoded.ok ? decoded.event.criticality : decoded.rejection.reason.length;
    }
  },
});

/**
 * The writer's work per message short of the network: its own intake (count, read the delivery,
 * decode, batch), then its batch store (encode the batch as line protocol, acknowledge each
 * message). InfluxDB is a write that encodes the body as `fetch` would and succeeds at once. The
 * messages are the client's own JetStream messages around a stand-in for the connection's: their
 * `ack` ends in a `respond` that sends nothing, so the protocol parsing and writes are left out.
 */
const writerCase = (): Case => {
  // With the default metrics as in the service: their GC observer runs during the measurement.
  const metrics = createWriterMetrics(createMetricsRegistry("writer"));
  const log = createLogger("bench", "silent");
  const noop = () => {};
  const deadLetters = { publish: async () => {} };
  const store = createBatchStore(
    {
      influx: {
        write: async (lines: string) => {
          sink += toRequestBody(lines).length;
        },
      },
      deadLetters,
      metrics,
      health: { reachable: () => true, lastAttemptAt: () => 0, succeeded: noop, failed: noop },
      log,
    },
    { initialMs: 1, maxMs: 1 },
    new AbortController().signal,
  );
  const batcher = createBatcher<PendingEvent>(
    { batchSize: ROUND, flushIntervalMs: 60_000, maxConcurrentWrites: 2, flushWhenIdle: false },
    store,
  );
  const intake = createMessageIntake({ batcher, deadLetters, metrics, maxEventBytes: MAX_EVENT_BYTES });
  const replies = Array.from(
    { length: DISTINCT },
    (_, i) => `$JS.ACK.EVENTS.writer.1.${i + 1}.${i + 1}.${BigInt(at) * 1_000_000n + BigInt(i)}.${DISTINCT - i}`,
  );
  const respond = () => true;
  return {
    name: "writer: intake + batch + encode + ack",
    async round() {
      const first = nextRound();
      for (let i = 0; i < ROUND; i++) {
        const k = (first + i) % DISTINCT;
        intake(toJsMsg({ subject: "events", reply: replies[k] as string, data: payloads[k] as Uint8Array, respond }));
      }
      await batcher.nextWriteFinished();
    },
  };
};

/**
 * Wraps a core message the way the JetStream client does for every message it delivers. The
 * function is not among the package's exports, so it is loaded from the package's own files.
 */
const toJsMsg: (msg: { subject: string; reply: string; data: Uint8Array; respond(): boolean }) => HeldMessage = (
  createRequire(import.meta.url)(
    join(dirname(createRequire(import.meta.url).resolve("@nats-io/jetstream")), "jsmsg.js"),
  ) as { toJsMsg: typeof toJsMsg }
).toJsMsg;

const weights = parseCriticalityWeights(DEFAULT_CRITICALITY_WEIGHTS);
if (!weights.ok) throw new Error(weights.reason);
const generate = createEventGenerator({ weights: weights.weights, source: "daemon" });

/**
 * The daemon's work per event short of the network: generate, encode and publish through the
 * real publisher (pacing off), against a JetStream stand-in that confirms every publish at once.
 */
const daemonCase = (): Case => {
  const log = createLogger("bench", "silent");
  const ack = { stream: "EVENTS", seq: 1, duplicate: false };
  return {
    name: "daemon: generate + encode + publish (instant ack)",
    async round() {
      const publisher = startPublisher(
        {
          js: {
            publish: (_subject, payload) => {
              sink += payload.length;
              return Promise.resolve(ack);
            },
          },
          nextEvent: generate,
          log,
          latency: { observe: (seconds) => (sink += seconds) },
        },
        {
          ratePerSecond: 0,
          maxInFlight: 1_000,
          maxEvents: ROUND,
          publishTimeoutMs: 5_000,
          retryInitialMs: 100,
          retryMaxMs: 5_000,
          burstMs: 10,
        },
      );
      await publisher.completed;
      await publisher.stop(0);
    },
  };
};

const cases: Case[] = [
  decodeCase("decodeEvent, valid", payloads),
  decodeCase("decodeEvent, invalid (one field wrong)", invalidPayloads),
  decodeCase("decodeEvent, not JSON", notJson),
  {
    name: "  for reference: UTF-8 decode + JSON.parse",
    round() {
      const first = nextRound();
      for (let i = 0; i < ROUND; i++) {
        const value = JSON.parse(utf8.decode(payloads[(first + i) % DISTINCT] as Uint8Array)) as SecurityEvent;
        sink += value.criticality;
      }
    },
  },
  {
    name: "  for reference: SecurityEvent.safeParse of parsed JSON",
    round() {
      const first = nextRound();
      for (let i = 0; i < ROUND; i++) {
        const parsed = SecurityEvent.safeParse({ ...events[(first + i) % DISTINCT] });
        sink += parsed.success ? parsed.data.criticality : 0;
      }
    },
  },
  {
    name: "encodeEvent",
    round() {
      const first = nextRound();
      for (let i = 0; i < ROUND; i++) sink += encodeEvent(events[(first + i) % DISTINCT] as SecurityEvent).length;
    },
  },
  {
    name: `encodePoints + body to bytes (batches of ${ROUND})`,
    round() {
      const first = nextRound();
      sink += toRequestBody(encodePoints(sequenced.slice(first, first + ROUND))).length;
    },
  },
  writerCase(),
  {
    name: "daemon: generate event",
    round() {
      for (let i = 0; i < ROUND; i++) sink += generate().eventMessage.length;
    },
  },
  daemonCase(),
];

const selected = cases.filter((c) => filters.length === 0 || filters.some((f) => c.name.includes(f)));
const rows: string[][] = [];
for (const c of selected) {
  const { median, min, max } = summarise(await measure(c));
  rows.push([
    c.name,
    median.toFixed(2),
    `${min.toFixed(2)}–${max.toFixed(2)}`,
    Math.round(1e6 / median).toLocaleString("en"),
  ]);
}

const header = ["case", "CPU µs/event", "min–max", "events/s per core"];
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
const line = (cells: readonly string[]) =>
  `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(" | ")} |`;
console.log(`Node ${process.version}, ${SAMPLES} samples of ≥ ${SAMPLE_CPU_MICROS / 1000} ms CPU per case`);
console.log(line(header));
console.log(
  `|${widths.map((width, column) => (column === 0 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`,
);
for (const row of rows) console.log(line(row));
if (sink === Number.NEGATIVE_INFINITY) console.log("unreachable");
