/**
 * The reader restarted while a client keeps asking (`CLIENT_REPEAT`): the client says, one line
 * per failed attempt, that no reader answers, keeps going, says when answers are back and prints
 * the events again. Reader and client run as processes from `dist/` (run `pnpm build` first).
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { encodePoints } from "@vigil/influx";
import type { SecurityEvent } from "@vigil/shared";
import { serviceEnv, spawnManaged, waitFor } from "@vigil/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { usePipeline } from "./pipeline.js";

const CLIENT = fileURLToPath(new URL("../../services/client/dist/main.js", import.meta.url));

describe("the reader restarted while a client repeats its query", () => {
  const pipeline = usePipeline("faults_reader");
  const newest: SecurityEvent = {
    criticality: 9,
    timestamp: "2024-05-01T12:00:20.000Z",
    eventMessage: "the newest stored event",
    id: randomUUID(),
    source: "fault-test",
  };

  beforeAll(async () => {
    const older = Array.from({ length: 20 }, (_, n) => ({
      criticality: 9,
      timestamp: `2024-05-01T12:00:${String(n).padStart(2, "0")}.000Z`,
      eventMessage: `stored event ${n}`,
      id: randomUUID(),
    }));
    await pipeline.influx
      .client("writer")
      .write(encodePoints([...older, newest].map((event, sequence) => ({ event, sequence: sequence + 1 }))));
  });

  const startReader = () =>
    pipeline.start("reader", serviceEnv(pipeline.nats.url, pipeline.influx.config("reader"), {}));

  it("prints a line for each failed attempt while no reader answers, then says answers are back and prints them", async () => {
    const first = await startReader();
    const client = spawnManaged(
      process.execPath,
      [CLIENT],
      serviceEnv(pipeline.nats.url, undefined, {
        CLIENT_MIN_CRITICALITY: "5",
        CLIENT_LIMIT: "3",
        CLIENT_REPEAT: "300ms",
        CLIENT_TIMEOUT: "1s",
      }),
      { keepChars: Number.POSITIVE_INFINITY },
    );
    const { stdout, stderr } = client;
    const tables = () =>
      stdout()
        .split("\n")
        .filter((line) => line.includes(newest.eventMessage)).length;

    try {
      await waitFor("the first answers", () => tables() >= 2);
      expect(stderr()).toBe("");

      expect(await first.process.stop("SIGTERM")).toBe(0);
      await waitFor("the client to report the gap", () => /no reader is answering/.test(stderr()));
      const answeredBeforeRestart = tables();
      await startReader();
      await waitFor("the client to say answers are back", () => /answers are back/.test(stderr()));
      await waitFor("answers printed after the gap", () => tables() > answeredBeforeRestart);
    } finally {
      client.child.kill("SIGTERM");
    }
    expect(await client.exited()).toBe(0);

    const lines = stderr().trimEnd().split("\n");
    const back = lines.findIndex((line) => line.includes("answers are back"));
    const failures = lines.slice(0, back);
    // Only failures before the recovery line, each saying why and that it retries; nothing after it.
    expect(failures.length).toBeGreaterThan(0);
    for (const line of failures) {
      expect(line).toMatch(/^\S+Z (no reader is answering on events\.query|no answer from a reader within 1000ms)/);
      expect(line).toMatch(/; retrying in 300ms$/);
    }
    expect(lines[back]).toMatch(new RegExp(`^\\S+Z answers are back after ${failures.length} failed attempts?$`));
    expect(lines.slice(back + 1)).toEqual([]);
    // Every answer, before and after the gap, is the newest events, newest first.
    const rows = stdout()
      .split("\n")
      .filter((line) => line.includes("stored event"));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((line) => line.includes("newest stored event") || /stored event 1[89]/.test(line))).toBe(true);
  });
});
