/**
 * The dead-letter command as an operator runs it (`dist/dead-letters/main.js`, run `pnpm build`
 * first), against records that the real writer process dead-lettered.
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { EVENTS_MEASUREMENT } from "@vigil/influx";
import {
  DEAD_LETTER_STREAM,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  encodeEvent,
  type SecurityEvent,
  WRITER_CONSUMER,
} from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type ProcessResult,
  type RunningService,
  runToExit,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../dist/dead-letters/main.js", import.meta.url));
const encoder = new TextEncoder();

interface ListedRecord {
  seq: number;
  code: string | null;
  reason: string | null;
  originalSequence: number | null;
  payload: string;
  payloadEncoding: string;
}

describe("vigil-deadletters", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let writer: RunningService | undefined;

  /** An event whose payload is about 1 KiB: valid, but above a writer limit of 512 bytes. */
  const largeEvent = (): SecurityEvent => ({
    criticality: 9,
    timestamp: new Date().toISOString(),
    eventMessage: `large ${"x".repeat(1_000)}`,
    id: randomUUID(),
  });
  const large = [largeEvent(), largeEvent()];
  const notJson = encoder.encode("{this is not json");
  /** Events stream sequences of what was published, by payload as text. */
  const sequences = new Map<string, number>();
  const text = (payload: Uint8Array) => Buffer.from(payload).toString("utf8");

  const run = (args: string[], extra: Record<string, string> = {}): Promise<ProcessResult> =>
    runToExit(
      process.execPath,
      [CLI, ...args],
      serviceEnv(nats.url, undefined, { DEADLETTERS_TIMEOUT: "5s", ...extra }),
    );

  const listJson = async (args: string[] = []): Promise<ListedRecord[]> => {
    const result = await run(["list", "--json", ...args]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return (JSON.parse(result.stdout) as { records: ListedRecord[] }).records;
  };

  const storedIds = async (): Promise<string[]> => {
    const series = await influx.client("reader").query(`SELECT "id" FROM "${EVENTS_MEASUREMENT}"`);
    return (series[0]?.values ?? []).map((row) => String(row[1]));
  };

  const consumed = async () => {
    const info = await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };

  const seqOf = (records: ListedRecord[], code: string, originalSequence?: number): number => {
    const found = records.find(
      (one) => one.code === code && (originalSequence === undefined || one.originalSequence === originalSequence),
    );
    if (found === undefined) throw new Error(`no ${code} record in ${JSON.stringify(records)}`);
    return found.seq;
  };

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("deadletters")]);
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    // A writer that takes at most 512 bytes per event dead-letters the two large events as TOO_LARGE.
    writer = await startService(
      "writer",
      serviceEnv(nats.url, influx.config("writer"), { WRITER_MAX_EVENT_BYTES: "512" }),
    );
    for (const payload of [...large.map(encodeEvent), notJson]) {
      sequences.set(text(payload), (await js.publish(EVENTS_SUBJECT, payload)).seq);
    }
    await waitFor("three dead letters", async () => (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages === 3);
    await waitFor("the events consumed", consumed);
    expect(await writer.process.stop("SIGTERM")).toBe(0);
    writer = undefined;
  });

  afterAll(async () => {
    await writer?.process.stop("SIGTERM");
    await nc?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("lists each record with its sequence, time, code, reason and the start of its payload", async () => {
    const result = await run(["list"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const headings = result.stdout.split("\n").filter((line) => line.startsWith("#"));
    expect(headings).toHaveLength(3);
    expect(headings[0]).toMatch(/^#1 {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}TOO_LARGE {2}from events seq \d+$/);
    expect(headings[2]).toMatch(/^#3 .* NOT_JSON /);
    const size = encodeEvent(large[0] as SecurityEvent).byteLength;
    expect(result.stdout).toContain(`reason   payload is ${size} bytes, the limit is 512`);
    expect(result.stdout).toContain(`payload  {"criticality":9,`);
    expect(result.stdout).toContain("payload  {this is not json  (17 bytes)");
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("3 dead letters shown, of 3 in DEADLETTERS");
  });

  it("lists as JSON with the original payload and sequence, pages with --limit and --from, and filters by code", async () => {
    const records = await listJson();
    expect(records.map((one) => one.code)).toEqual(["TOO_LARGE", "TOO_LARGE", "NOT_JSON"]);
    for (const one of records) {
      expect(one.originalSequence).toBe(sequences.get(one.payload));
      expect(one.payloadEncoding).toBe("utf8");
      expect(one.reason).not.toBeNull();
    }
    const first = await run(["list", "--limit", "1", "--json"]);
    expect(JSON.parse(first.stdout)).toMatchObject({ total: 3, next: 2, records: [{ seq: 1 }] });
    expect((await listJson(["--from", "2"])).map((one) => one.seq)).toEqual([2, 3]);
    expect((await listJson(["--code", "NOT_JSON"])).map((one) => one.seq)).toEqual([3]);
  });

  it("leaves no consumer behind on the dead-letter stream", async () => {
    await run(["list"]);
    const left = [];
    for await (const consumer of jsm.consumers.list(DEAD_LETTER_STREAM)) left.push(consumer.name);
    expect(left).toEqual([]);
  });

  it("replays a record once its cause is fixed: stored by the writer, the record deleted", async () => {
    // The fix: the writer back at its default limit, which the large events are within.
    writer = await startService("writer", serviceEnv(nats.url, influx.config("writer"), {}));
    const firstLarge = large[0] as SecurityEvent;
    const seq = seqOf(await listJson(), "TOO_LARGE", sequences.get(text(encodeEvent(firstLarge))));
    const result = await run(["replay", String(seq)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^replayed #${seq} as EVENTS seq \\d+; record deleted\\n`));
    expect(result.stdout).toContain("replay: 1 replayed, 0 skipped as still invalid");
    await waitFor("the replayed event stored", async () => (await storedIds()).includes(firstLarge.id as string));
    expect((await listJson()).map((one) => one.seq)).not.toContain(seq);

    const again = await run(["replay", String(seq)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`not found #${seq}: DEADLETTERS holds no such record`);
  });

  it("with --keep replays twice within the duplicate window yet stores once", async () => {
    const secondLarge = large[1] as SecurityEvent;
    const seq = seqOf(await listJson(), "TOO_LARGE");
    const first = await run(["replay", "--keep", String(seq)]);
    const second = await run(["replay", "--keep", String(seq)]);
    expect(first.stdout).toMatch(/; record kept\n/);
    expect(second.stdout).toMatch(/already there from an earlier replay: stored once\); record kept\n/);
    await waitFor(
      "the events consumed",
      async () => (await consumed()) && (await storedIds()).includes(secondLarge.id as string),
    );
    expect((await storedIds()).filter((id) => id === secondLarge.id)).toHaveLength(1);
    expect((await listJson()).map((one) => one.seq)).toContain(seq);
  });

  it("with --all skips what is still invalid, and --force sends it to be dead-lettered again", async () => {
    const before = await listJson();
    const notJsonSeq = seqOf(before, "NOT_JSON");
    const lastBefore = (await jsm.streams.info(DEAD_LETTER_STREAM)).state.last_seq;
    const all = await run(["replay", "--all", "--code", "NOT_JSON"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`skipped #${notJsonSeq}: still invalid, NOT_JSON: payload is not UTF-8 JSON`);
    expect(all.stdout).toContain("replay: 0 replayed, 1 skipped as still invalid");
    expect((await listJson()).map((one) => one.seq)).toEqual(before.map((one) => one.seq));

    const forced = await run(["replay", "--force", String(notJsonSeq)]);
    expect(forced.code).toBe(0);
    await waitFor(
      "the writer to dead-letter it again",
      async () => (await jsm.streams.info(DEAD_LETTER_STREAM)).state.last_seq > lastBefore,
    );
    const records = await listJson();
    const again = records.find((one) => one.seq > notJsonSeq && one.code === "NOT_JSON");
    expect(again?.payload).toBe("{this is not json");
    expect(records.map((one) => one.seq)).not.toContain(notJsonSeq);
  });

  it("exits 2 on a bad command line and 1 when NATS cannot be reached", async () => {
    const usage = await run(["replay"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^vigil-deadletters: replay needs the sequences/);
    const unreachable = await run(["list"], { NATS_URL: "nats://127.0.0.1:1", NATS_CONNECT_TIMEOUT_MS: "300" });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^vigil-deadletters: cannot connect to NATS/);
  });
});
