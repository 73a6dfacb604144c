import { describe, expect, it } from "vitest";
import {
  drainFigures,
  killOutcome,
  type PeerFigures,
  type PeersResults,
  type PeerTuning,
  telegrafConfig,
} from "./peers.js";
import { renderPeers } from "./report.js";

const tuning: PeerTuning = {
  batchSize: 5_000,
  flushIntervalMs: 100,
  concurrentWrites: 2,
  maxInFlight: 20_000,
  ackWaitMs: 30_000,
};
const target = {
  natsUrl: "nats://127.0.0.1:4222",
  influxUrl: "http://127.0.0.1:8086",
  token: "secret-token",
  organization: "vigil",
  bucket: "peers_1",
};

/** The `key = value` lines of one TOML table, in order. */
const table = (toml: string, name: string): Record<string, string> => {
  const start = toml.indexOf(`${name}\n`);
  const body = toml.slice(start + name.length + 1).split("\n[")[0] ?? "";
  return Object.fromEntries(
    body
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf(" = ")), line.slice(line.indexOf(" = ") + 3)]),
  );
};

describe("telegrafConfig", () => {
  const config = telegrafConfig(target, tuning);

  it("gives Telegraf the writer's batching, flush interval, concurrency and in-flight bound", () => {
    const agent = table(config, "[agent]");
    expect(agent.metric_batch_size).toBe("5000");
    expect(agent.flush_interval).toBe('"100ms"');
    expect(agent.flush_jitter).toBe('"0s"');
    expect(table(config, "[[inputs.nats_consumer]]").max_undelivered_messages).toBe("20000");
    expect(table(config, "[[outputs.influxdb_v2]]").concurrent_writes).toBe("2");
  });

  it("keeps room in the buffer for all that may be in flight, so no metric is dropped", () => {
    expect(Number(table(config, "[agent]").metric_buffer_limit)).toBeGreaterThanOrEqual(tuning.maxInFlight);
  });

  it("reads the events stream through JetStream only, bound by the queue group to the durable consumer", () => {
    const input = table(config, "[[inputs.nats_consumer]]");
    expect(input.servers).toBe('["nats://127.0.0.1:4222"]');
    expect(input.subjects).toBe("[]");
    expect(input.jetstream_subjects).toBe('["events"]');
    expect(input.jetstream_stream).toBe('"EVENTS"');
    expect(input.queue_group).toBe('"telegraf"');
  });

  it("lays an event out as the writer does: criticality a tag, the rest string fields, no extra tags", () => {
    const input = table(config, "[[inputs.nats_consumer]]");
    expect(input.name_override).toBe('"security_events"');
    expect(input.tag_keys).toBe('["criticality"]');
    expect(input.json_string_fields).toBe('["eventMessage", "timestamp", "id", "source"]');
    expect(input.tagexclude).toBe('["subject"]');
    expect(table(config, "[agent]").omit_hostname).toBe("true");
  });

  it("writes uncompressed to the bucket with the token it is given", () => {
    expect(table(config, "[[outputs.influxdb_v2]]")).toMatchObject({
      urls: '["http://127.0.0.1:8086"]',
      token: '"secret-token"',
      organization: '"vigil"',
      bucket: '"peers_1"',
      content_encoding: '"identity"',
    });
  });

  it("quotes what it is given as TOML strings", () => {
    const quoted = telegrafConfig({ ...target, token: 'a"b\\c' }, tuning);
    expect(table(quoted, "[[outputs.influxdb_v2]]").token).toBe('"a\\"b\\\\c"');
  });
});

describe("drainFigures", () => {
  it("counts rate and CPU from ready to the whole backlog stored", () => {
    const ready = { atMs: 1_000, stored: 0, cpuMicros: 500_000 };
    const done = { atMs: 11_000, stored: 100_000, cpuMicros: 1_500_000 };
    expect(drainFigures(ready, done, 100_000)).toEqual({ eventsPerSecond: 10_000, cpuMicrosPerEvent: 10 });
  });
});

describe("killOutcome", () => {
  it("counts lost events by distinct id and duplicates as points beyond them", () => {
    expect(killOutcome(10_000, 10_000, 10_000)).toEqual({ lost: 0, duplicates: 0 });
    expect(killOutcome(10_000, 9_200, 10_000)).toEqual({ lost: 800, duplicates: 800 });
  });
});

describe("renderPeers", () => {
  const figures = (eventsPerSecond: number, lost: number): PeerFigures => ({
    rate: [1, 2, 3].map((k) => ({
      eventsPerSecond: eventsPerSecond * k,
      cpuMicrosPerEvent: 10 * k,
      peakRssBytes: 100 * k * 1_048_576,
      backlog: 1_000,
      stored: 1_000,
    })),
    kill: [0, lost, 0].map((x) => ({
      published: 1_000,
      publishedAtKill: 600,
      storedAtKill: 250,
      unackedAtKill: 300,
      drained: true,
      stored: 1_000 - x,
      points: 1_000,
      ...killOutcome(1_000, 1_000 - x, 1_000),
    })),
  });
  const results: PeersResults = {
    plan: { runs: 3, backlog: 1_000, killEvents: 1_000, drainTimeoutMs: 1_000 },
    tuning,
    telegrafVersion: "Telegraf 1.37.2",
    telegrafBuild: "go install -tags custom",
    natsServer: "nats-server v2.11.10",
    influxdb: "InfluxDB 2.7.12",
    date: "2026-12-02T12:00:00.000Z",
    commit: "abc1234",
    machineBusy: 0.9,
    vigil: figures(1_000, 0),
    telegraf: figures(2_000, 7),
  };

  it("puts each peer's median (min – max) and each run's loss in one table", () => {
    const lines = renderPeers(results);
    expect(lines).toContain(
      "| Vigil writer | 2,000 (1,000 – 3,000) | 20.0 (10.0 – 30.0) | 200.0 MiB (100.0 MiB – 300.0 MiB) | 0, 0, 0 of 1,000 | 0, 0, 0 of 1,000 |",
    );
    expect(lines).toContain(
      "| Telegraf 1.37.2 | 4,000 (2,000 – 6,000) | 20.0 (10.0 – 30.0) | 200.0 MiB (100.0 MiB – 300.0 MiB) | 0, 7, 0 of 1,000 | 0, 7, 0 of 1,000 |",
    );
  });

  it("shows how far behind each peer was when it was killed", () => {
    expect(renderPeers(results).join("\n")).toContain("writer 250 / 600 / 300; 250 / 600 / 300; 250 / 600 / 300;");
  });

  it("says when a restarted peer did not empty the stream", () => {
    const stuck = {
      ...results,
      telegraf: { ...results.telegraf, kill: results.telegraf.kill.map((x, i) => ({ ...x, drained: i !== 0 })) },
    };
    expect(renderPeers(stuck).join("\n")).toContain("1 restarted run(s) did not empty the stream");
    expect(renderPeers(results).join("\n")).not.toContain("did not empty");
  });
});
