import { DEFAULT_AGGREGATE_SLICES } from "@vigil/reader";
import type { GatewayResults } from "./gateway.js";
import type { AggregatesResult as AggregatesRun } from "./gateway-load.js";
import type { LiveResults } from "./live.js";
import type { PeersResults } from "./peers.js";
import type { DrainRun, LatencyRun, SustainedRun } from "./pipeline.js";
import type { PhaseCost, ReaderSize, ThresholdLatency } from "./reader-latency.js";
import { type Summary, summarise } from "./stats.js";

/** How much work each figure does: the quick smoke run does a sliver of the full one. */
export interface BenchPlan {
  readonly runs: number;
  readonly influxPoints: number;
  readonly natsMessages: number;
  readonly jsMessages: number;
  readonly baselineEvents: number;
  /** Seconds the services run before a figure starts counting. */
  readonly warmupSeconds: number;
  readonly sustainedSeconds: number;
  readonly latencySeconds: number;
  readonly latencyRate: number;
  /** Events of history the reader target is judged at, on InfluxDB 2.x. */
  readonly historyEvents: number;
  /** Sizes of history, ascending, the reader is measured at on InfluxDB 2.x (how cost grows). */
  readonly readerSizes: readonly number[];
  /** The same on InfluxDB 1.x; none when empty. */
  readonly readerSizesV1: readonly number[];
  readonly sequentialRequests: number;
  readonly concurrentRequests: number;
  readonly overloadSeconds: number;
  /** Cap on the overload backlog, so that prefilling it stays within the run's time budget. */
  readonly maxOverloadBacklog: number;
  readonly overloadRuns: number;
  readonly mixBacklog: number;
  /** Writer counts sharing the durable consumer beside figure 1's one (how cost grows). */
  readonly scalingWriters?: readonly number[];
  readonly scalingSeconds?: number;
}

/** The pipeline's figures `--only` can measure on their own. */
export type ApartPart = "latency" | "reader" | "invalid";

/** When a figure was measured on its own, and at which commit. */
export interface MeasuredApart {
  readonly date: string;
  readonly commit: string;
}

/** The line saying a figure was measured apart from the rest of the pipeline's, if it was. */
const apartLine = (r: Results, part: ApartPart): string[] => {
  const apart = r.measuredApart?.[part];
  return apart === undefined
    ? []
    : [
        `Measured apart from the figures above on ${apart.date} at commit \`${apart.commit}\` (\`pnpm bench --only ${part}\`), on the same servers.`,
        "",
      ];
};

/** Everything one `pnpm bench` run measured. */
export interface Results {
  readonly mode: "quick" | "full";
  readonly machine: Readonly<Record<string, string | number>>;
  readonly plan: BenchPlan;
  readonly ceilings: {
    readonly influxPointsPerSecond: Summary;
    readonly natsMessagesPerSecond: Summary;
    readonly jetStreamPublishPerSecond: Summary;
    readonly jetStreamConsumePerSecond: Summary;
  };
  readonly baselineEventsPerSecond: Summary;
  readonly sustained: readonly SustainedRun[];
  /** Figure 1 again with more writers (absent from results measured before it existed). */
  readonly scaling?: readonly { readonly writers: number; readonly runs: readonly SustainedRun[] }[];
  readonly latency: readonly LatencyRun[];
  /** Figure 3 at every size and InfluxDB, each over `plan.runs` runs (absent from results measured before it). */
  readonly readerSizes?: readonly ReaderSize[];
  /** Figure 3 of results measured before `readerSizes`: one run at `plan.historyEvents` on `machine.influxdb`. */
  readonly history?: { readonly events: number; readonly loadPointsPerSecond: number };
  readonly reader?: readonly ThresholdLatency[];
  readonly overload: readonly DrainRun[];
  readonly invalidMix: { readonly clean: readonly DrainRun[]; readonly mixed: readonly DrainRun[] };
  /**
   * Figures measured by `--only reader` or `--only invalid` after the rest of the pipeline's: when
   * and at which commit (absent for figures measured with the others).
   */
  readonly measuredApart?: { readonly [part in ApartPart]?: MeasuredApart };
  /** The gateway's figures (absent from results measured before they existed). */
  readonly gateway?: GatewayResults;
  /** The live tail's figures (absent from results measured before they existed). */
  readonly live?: LiveResults;
  /** The writer beside Telegraf (`--peers` only; absent until measured). */
  readonly peers?: PeersResults;
}

const n = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a";
/** The gateway's default GATEWAY_LIVE_RECENT_EVENTS (services/gateway/src/config.ts). */
const RECENT_EVENTS_DEFAULT = 20_000;

const mb = (bytes: number) => `${n(bytes / 1_048_576, 1)} MiB`;
const cell = (s: Summary, digits = 0, unit = "") =>
  `${n(s.median, digits)}${unit} (${n(s.min, digits)} – ${n(s.max, digits)})`;
const of = <T>(runs: readonly T[], pick: (run: T) => number) => summarise(runs.map(pick));

/** Figure 3's sizes, also from results measured before it had sizes (one run at one size). */
const readerSizesOf = (r: Results): readonly ReaderSize[] =>
  r.readerSizes ??
  (r.reader === undefined || r.history === undefined
    ? []
    : [
        {
          influxdb: String(r.machine.influxdb),
          events: r.history.events,
          loadPointsPerSecond: r.history.loadPointsPerSecond,
          runs: [r.reader],
        },
      ]);

/** The sizes the reader target is judged at: `plan.historyEvents` events, on each InfluxDB measured. */
const readerTargets = (r: Results): readonly ReaderSize[] =>
  readerSizesOf(r).filter((size) => size.events === r.plan.historyEvents);

/** Per run, the worst p99 of every threshold; summarised over runs. */
const worstP99 = (size: ReaderSize, mode: "sequential" | "concurrent"): Summary =>
  summarise(size.runs.map((run) => Math.max(...run.map((t) => t[mode].p99Ms))));

/** One threshold's figure over runs, thresholds in the same order in every run. */
const thresholdOf = (size: ReaderSize, index: number, pick: (t: ThresholdLatency) => number): Summary =>
  summarise(size.runs.map((run) => pick(run[index] as ThresholdLatency)));
/** The p99 with 100 in flight of one threshold (by index), the median over runs. */
const concurrentP99Of = (size: ReaderSize, index: number): number =>
  thresholdOf(size, index, (t) => t.concurrent.p99Ms).median;

/** The index of the threshold whose p99 with 100 in flight (median over runs) is the highest. */
const worstConcurrentIndex = (size: ReaderSize): number =>
  (size.runs[0] ?? []).reduce(
    (worst, _t, i) => (concurrentP99Of(size, i) > concurrentP99Of(size, worst) ? i : worst),
    0,
  );

/**
 * influxd's CPU per InfluxDB query, in ms, at one threshold (by index) and phase, the median over
 * runs: what it spent on the phase's `requests` over the queries they asked. Undefined when a run
 * did not measure it (older results, influxd's process not found) or asked InfluxDB nothing.
 */
const influxdMsPerQuery = (
  size: ReaderSize,
  index: number,
  phase: "sequentialCost" | "concurrentCost",
  requests: number,
): number | undefined => {
  const costs = size.runs.map((run) => run[index]?.[phase]);
  if (costs.some((c) => c === undefined || !Number.isFinite(c.cpuMicrosPerRequest.influxd) || c.influxQueries === 0))
    return undefined;
  return summarise(
    (costs as PhaseCost[]).map((c) => (c.cpuMicrosPerRequest.influxd * requests) / c.influxQueries / 1_000),
  ).median;
};

const verdict = (met: boolean) => (met ? "met" : "**missed**");
/** The influx-gate's CPU per event over `runs`, or "not measured" for results from before the gate. */
const gateCell = (runs: readonly { readonly gateCpuMicrosPerEvent?: number }[]) =>
  runs.every((x) => x.gateCpuMicrosPerEvent !== undefined)
    ? cell(
        of(runs, (x) => x.gateCpuMicrosPerEvent ?? 0),
        1,
        " µs",
      )
    : "not measured";

/** Figure 1's CPU per stored event, process by process (medians of runs), when it was measured. */
const cpuSplit = (r: Results): Record<string, number> | undefined => {
  if (!r.sustained.every((x) => x.cpuMicrosPerEvent !== undefined && x.gateCpuMicrosPerEvent !== undefined))
    return undefined;
  const median = (pick: (x: SustainedRun) => number) => of(r.sustained, pick).median;
  return {
    "nats-server": median((x) => x.cpuMicrosPerEvent?.natsServer ?? 0),
    daemon: median((x) => x.cpuMicrosPerEvent?.daemon ?? 0),
    writer: median((x) => x.writerCpuMicrosPerEvent),
    "influx-gate": median((x) => x.gateCpuMicrosPerEvent ?? 0),
    influxd: median((x) => x.cpuMicrosPerEvent?.influxd ?? 0),
  };
};

/** The "What holds the figures back" section: each target's bound, from this run's own figures. */
const holdingBack = (
  r: Results,
  f: {
    readonly e2e: number;
    readonly tightestName: string;
    readonly tightest: number;
    /** What the three stages allow together when they share the machine's cores. */
    readonly shared: number;
    readonly p99: number;
    readonly latencyMax: number;
    readonly mixRatio: number;
  },
): string[] => {
  const budget = ((r.machine.cores as number) * 1_000_000) / f.e2e;
  const split = cpuSplit(r);
  const splitText =
    split === undefined
      ? "This run did not split the CPU by process."
      : `Measured per stored event in figure 1: ${Object.entries(split)
          .sort((a, b) => b[1] - a[1])
          .map(([name, micros]) => `${name} ${n(micros, 1)} µs`)
          .join(", ")} (together ${n(
          Object.values(split).reduce((a, b) => a + b, 0),
          1,
        )} µs of the ${n(budget, 1)} µs the ${r.machine.cores} cores give each event at this rate).`;
  // Which targets the shared bound alone already rules out.
  const below = [
    ...(f.shared < 50_000 ? ["less than 50,000 events/s"] : []),
    ...(f.shared < 0.8 * f.tightest ? [`${n(f.shared / f.tightest, 2)} × the tightest ceiling`] : []),
  ];
  const sharedBound = below.length === 0 ? "" : `, ${below.join(" and ")}`;
  const readerSize = readerTargets(r)[0] ?? readerSizesOf(r)[0];
  // The threshold whose p99 (one at a time or 100 in flight, median over runs) is the highest.
  const thresholdP99 = (index: number) =>
    readerSize === undefined
      ? 0
      : Math.max(
          thresholdOf(readerSize, index, (t) => t.sequential.p99Ms).median,
          thresholdOf(readerSize, index, (t) => t.concurrent.p99Ms).median,
        );
  const thresholds = readerSize?.runs[0] ?? [];
  const worstIndex = thresholds.reduce(
    (worst, _t, index) => (thresholdP99(index) > thresholdP99(worst) ? index : worst),
    0,
  );
  const readerWorst = (mode: "sequential" | "concurrent") =>
    readerSize === undefined ? 0 : worstP99(readerSize, mode).median;
  // Where the time of the requests with 100 in flight went, at the threshold worst with them.
  const readerCostText = (): string => {
    if (readerSize === undefined) return "";
    const concurrentP99 = (index: number) => concurrentP99Of(readerSize, index);
    const index = worstConcurrentIndex(readerSize);
    const costs = readerSize.runs.map((run) => run[index]?.concurrentCost);
    if (costs.some((c) => c === undefined)) return "";
    const med = (pick: (c: PhaseCost) => number, of: readonly (PhaseCost | undefined)[] = costs) =>
      summarise(of.map((c) => pick(c as PhaseCost))).median;
    const rate = med((c) => c.requestsPerSecond);
    const busy = med((c) => c.machineBusy);
    const perQuery = influxdMsPerQuery(readerSize, index, "concurrentCost", r.plan.concurrentRequests);
    const cpu = (key: "bench" | "natsServer" | "reader" | "influxd") => n(med((c) => c.cpuMicrosPerRequest[key]));
    const littles =
      `. With 100 waiting, answered at ${n(rate)}/s, a request waits ${n((100 / rate) * 1_000, 1)} ms ` +
      "on average (Little's law)";
    const common =
      `. Where their time goes, at threshold ${thresholds[index]?.minCriticality} (its p99 with 100 in flight, ` +
      `${n(concurrentP99(index), 1)} ms, is the worst; medians over runs, from /proc and the reader's /metrics): ` +
      `${n(med((c) => c.ladders))} of the ${n(r.plan.concurrentRequests)} requests ran a ladder of their own ` +
      `(${n(med((c) => c.influxQueries))} InfluxDB queries), the others shared the one in flight; the requests were ` +
      `answered at ${n(rate)}/s with the machine ${n(busy * 100)}% busy`;
    if (perQuery === undefined)
      return (
        `${common}, and each cost ${cpu("reader")} µs of the reader's CPU, ${cpu("natsServer")} µs of ` +
        `nats-server's and ${cpu("bench")} µs of the bench's client (influxd's share was not counted in this run)` +
        littles
      );
    const sequential = readerSize.runs.map((run) => run[index]?.sequentialCost);
    const alone = influxdMsPerQuery(readerSize, index, "sequentialCost", r.plan.sequentialRequests);
    const sequentialText =
      alone === undefined
        ? ""
        : `One at a time, a request at this threshold ran ${n(
            med((c) => c.influxQueries / c.ladders, sequential),
            1,
          )} InfluxDB queries and cost influxd ${n(alone, 1)} ms of CPU per query, the reader ${n(
            med((c) => c.cpuMicrosPerRequest.reader, sequential),
          )} µs. `;
    return (
      `${common}. Each InfluxDB query cost influxd ${n(perQuery, 1)} ms of CPU, and each request ${cpu("reader")} µs of the reader's, ${cpu("natsServer")} µs of nats-server's ` +
      `and ${cpu("bench")} µs of the bench's client${littles}. ${sequentialText}So the wait is InfluxDB's query: ` +
      "the requests in flight share the ladder being asked, wait for the rest of it and, answered together, ask the " +
      "next one together; the reader's own work is a small part. In a probe (2026-12-03, 10,000,000 events, " +
      "threshold -1, the newest hour, not part of this report's runs) InfluxDB 2.7.12 spent 2.7 ms of CPU on a query " +
      "for the one integer field `seq` against 17.0 ms (and 30.5 ms right after the load) for the reply's four " +
      "fields, and 16 ms on the same query over the last 10 s, which held no event: the cost is reading every field " +
      "of each qualifying series' newest points, most still in its write cache, not the rows returned"
    );
  };
  return [
    "## What holds the figures back",
    "",
    `- **Throughput** (${n(f.e2e)} events/s; the tightest ceiling measured alone is ${f.tightestName} at ` +
      `${n(f.tightest)}/s). Every process of the path shares the same ${r.machine.cores} cores, so the end-to-end ` +
      `rate is bounded by the CPU each event costs all of them together: the three stages, each as cheap as when ` +
      `measured alone, would allow ${n(f.shared)} events/s together${sharedBound} (figure 1 reaches ` +
      `${n(f.e2e / f.shared, 2)} × that). ${splitText} nats-server's share is ` +
      "the JetStream work per message: store the event, answer the daemon's confirmation, deliver it to the writer " +
      "and take the writer's acknowledgement, which is a NATS message of its own per event. What would cut it: one " +
      "acknowledgement per batch (`ack_policy: all`). In a probe on nats-server 2.11.10 (2026-12-02, 300,000 stored " +
      "messages drained in fetches of 5,000, twice each way, not part of this report's runs), acknowledging each " +
      "message cost nats-server 13.0–17.6 µs and the consuming process 12.8–16.4 µs per message, one acknowledgement " +
      "per fetch 4.4–4.7 µs and 3.4–3.6 µs. It is only safe with one active writer per consumer (2.11's pinned " +
      "priority groups, or subjects partitioned per writer, which the one-subject contract does not give), and the " +
      "writer would have to acknowledge only the stored prefix of what it was given; not built.",
    f.p99 <= 250 && f.latencyMax < 1_000
      ? `- **Publish-to-queryable** (p99 ${n(f.p99)} ms, max ${n(f.latencyMax)} ms) is bounded by one write through ` +
        "the influx-gate and the write in flight before it: a batch that is not full goes as soon as nothing is being " +
        `written, and waits at most WRITER_FLUSH_INTERVAL (100 ms) behind a write. ${latencyTailText(r)}`
      : `- **Publish-to-queryable** (p99 ${n(f.p99)} ms, max ${n(f.latencyMax)} ms): one write through the ` +
        "influx-gate and the write in flight before it set the floor (a batch that is not full goes as soon as nothing " +
        `is being written, and waits at most WRITER_FLUSH_INTERVAL, 100 ms, behind a write). ${latencyTailText(r)}`,
    `- **Reader latency** (worst p99 ${n(readerWorst("sequential"), 1)} ms one at a time and ` +
      `${n(readerWorst("concurrent"), 1)} ms with 100 in flight, the median over ${readerSize?.runs.length ?? 0} run(s) ` +
      `of each run's worst threshold, on ${readerSize?.influxdb}; the worst threshold at the median is ` +
      `${thresholds[worstIndex]?.minCriticality}). The query reads only the series of ` +
      "the qualifying criticalities (one tag per level): a threshold that cannot match (10 and above) never reaches " +
      "InfluxDB. It asks the newest hour first (`time > $since`) and widens (1 d, 7 d, then unbounded; " +
      "READER_QUERY_WINDOWS) only while fewer than 10 events came back, so a common threshold reads the tail of one " +
      "shard instead of every shard of the 30 days; a threshold whose events are rarer than 10 an hour pays one query " +
      "per window it needs (`vigil_reader_query_steps`). What is left at low thresholds is reading every qualifying " +
      `series in the newest shard. With 100 requests in flight, identical requests share one answer${readerCostText()}.` +
      otherReadersText(r, readerSize),
    `- **Writer memory** is bounded by what it holds (at most WRITER_MAX_IN_FLIGHT events, whatever the backlog) ` +
      "and by V8's heap cap, which compose sets (`NODE_OPTIONS` in docker-compose.yml, used by this bench too); " +
      "the cap makes the writer collect more often, which is part of its CPU per event.",
    `- **Invalid input**: the valid rate with 20% invalid messages is ${n(f.mixRatio, 2)} × the all-valid rate. ` +
      "The target holds only if an invalid message costs no more than a valid one, and each costs more: its " +
      "dead-letter record is a stored publish of its own on nats-server, with its confirmation, where a valid event " +
      "shares a write to InfluxDB with thousands. Until 0ee3e47/a768c57 each record also went out as a socket write of " +
      "its own (the pull loop yields a microtask between messages, after which the NATS client flushes), and each " +
      "logged a warning line. A CPU profile of the writer draining 100,000 messages with 20% invalid (2026-12-02) put " +
      "an invalid message at about 195 µs of writer and 90 µs of nats-server CPU before, and about 90 µs and 26 µs " +
      "since records of one event-loop turn go out together and dead letters are logged once per 10 s; what remains " +
      "in the writer is mostly garbage collection under the heap cap, the `SyntaxError` `JSON.parse` throws and zod's " +
      "error for a payload that is not an event, and the record's headers. Each record is still counted once in " +
      "the DEADLETTERS stream.",
    "",
  ];
};

/** Figure 2's runs that watched InfluxDB's TSM writes, or none when any run did not. */
const watchedWrites = (r: Results) => {
  const watched = r.latency.map((x) => x.storageWrites);
  return watched.every((x) => x !== undefined) ? (watched as NonNullable<(typeof watched)[number]>[]) : [];
};

/**
 * For each reader target but `shown` (the one the account above details): influxd's CPU per query at
 * the threshold worst with 100 in flight, one at a time and with 100 in flight, medians over runs.
 */
const otherReadersText = (r: Results, shown: ReaderSize | undefined): string =>
  readerTargets(r)
    .filter((size) => size !== shown)
    .map((size) => {
      const index = worstConcurrentIndex(size);
      const alone = influxdMsPerQuery(size, index, "sequentialCost", r.plan.sequentialRequests);
      const shared = influxdMsPerQuery(size, index, "concurrentCost", r.plan.concurrentRequests);
      if (alone === undefined || shared === undefined) return "";
      return (
        ` On ${size.influxdb}, at threshold ${size.runs[0]?.[index]?.minCriticality} (the worst with 100 in flight, ` +
        `${n(concurrentP99Of(size, index), 1)} ms), each InfluxDB query cost influxd ${n(alone, 1)} ms of CPU one at a time ` +
        `and ${n(shared, 1)} ms with 100 in flight: the same account.`
      );
    })
    .join("");

/** Whether most of figure 2's slowest probes, over all runs, waited while InfluxDB wrote a TSM file. */
const tailMostlyDuringWrites = (watched: ReturnType<typeof watchedWrites>) =>
  2 * watched.reduce((sum, x) => sum + x.tailProbesDuringWrites, 0) > watched.reduce((sum, x) => sum + x.tailProbes, 0);

/** Per run, "<waited> of <probes at or above the p99>": the slowest probes that waited on a TSM write. */
const tailCounts = (watched: ReturnType<typeof watchedWrites>) =>
  watched.map((x) => `${x.tailProbesDuringWrites} of ${x.tailProbes}`).join(", ");

/** What figure 2's slowest probes waited on, for the account of what holds the figures back. */
const latencyTailText = (r: Results): string => {
  const watched = watchedWrites(r);
  const mostly = tailMostlyDuringWrites(watched);
  const measured =
    watched.length === 0
      ? "The tail is writes InfluxDB is slow to confirm: in probes of this figure (2026-12-02) a run's slowest " +
        "writes took up to 500 ms (the writer's `vigil_writer_write_duration_seconds`), and every probe published " +
        "then waited for them."
      : `${mostly ? "The tail is mostly InfluxDB writing TSM files (its cache snapshots and their compactions)" : "The tail is mostly not InfluxDB writing to disk"}: ` +
        `of the probes at or above each run's p99, ${tailCounts(watched)} waited while a TSM file was being written, ` +
        `which took ${n(of(watched, (x) => x.busyShare).median * 100)}% of the time (figure 2).` +
        (mostly ? " A snapshot takes CPU from the writes that arrive meanwhile, on cores already busy." : "");
  return (
    `${measured} Compose sets influxd's cache snapshot size to 5 MiB (INFLUXD_STORAGE_CACHE_SNAPSHOT_MEMORY_SIZE, 25 MiB ` +
    "by default), as this bench's InfluxDB runs: in probes of this figure (2026-12-03, not this report's runs) a " +
    "25 MiB snapshot took 530–820 ms to write, every 15 s, and the p99 was 199–257 ms and the max 287–335 ms (3 " +
    "runs); with 5 MiB snapshots, 40–120 ms every 3 s, p99 122–158 ms and max 153–189 ms (2 runs)."
  );
};

/** Figure 2's account of InfluxDB's TSM writes while the probes ran, when every run watched them. */
const renderStorageWrites = (r: Results): string[] => {
  const watched = watchedWrites(r);
  if (watched.length === 0) return [];
  return [
    "While the probes ran, the bench watched InfluxDB's data directory for TSM files being written (cache snapshots " +
      `and compactions, sampled every 10 ms): ${cell(
        of(watched, (x) => x.writes),
        0,
        "",
      )} stretches of writing per ` +
      `run, the longest ${cell(
        of(watched, (x) => x.longestMs),
        0,
        " ms",
      )}, ${cell(
        of(watched, (x) => x.busyShare * 100),
        0,
        "%",
      )} of the time. Of the probes at or above each run's p99, ${tailCounts(watched)} waited while one was being written.`,
    "",
  ];
};

/** How cost grows with writers: figure 1 with 1 writer, then each count of `r.scaling`. */
const renderScaling = (r: Results): string[] => {
  if (r.scaling === undefined || r.scaling.length === 0) return [];
  const rows = [
    { writers: 1, runs: r.sustained, seconds: r.plan.sustainedSeconds },
    ...r.scaling.map((x) => ({ ...x, seconds: r.plan.scalingSeconds })),
  ];
  return [
    "### How cost grows with writers",
    "",
    "Writers share the durable consumer on the same two cores; CPU is all writers' together, per stored event.",
    "",
    "| Writers | Stored events/s | Writer CPU per event | influx-gate CPU per event | Lost | Seconds per run |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.writers} | ${cell(of(row.runs, (x) => x.eventsPerSecond))} | ${cell(
          of(row.runs, (x) => x.writerCpuMicrosPerEvent),
          1,
          " µs",
        )} | ${gateCell(row.runs)} | ${row.runs.reduce((sum, x) => sum + x.missing, 0)} | ${row.seconds ?? "n/a"} |`,
    ),
    "",
  ];
};

/** Figure 3: per threshold at the target size, then how the worst p99 grows with the history. */
const renderReader = (r: Results): string[] => {
  const sizes = readerSizesOf(r);
  const size = readerTargets(r)[0] ?? sizes[0];
  if (size === undefined) return [];
  const ms = (index: number, pick: (t: ThresholdLatency) => number) => cell(thresholdOf(size, index, pick), 1, " ms");
  return [
    `## 3. Reader latency, last 10 events above a threshold (${n(size.events)} events over 30 days, ${size.influxdb})`,
    "",
    ...apartLine(r, "reader"),
    `The history is loaded straight into InfluxDB in the writer's layout, spread evenly over the last 30 days, at ` +
      `${n(size.loadPointsPerSecond)} points/s, and asked by the real reader (its defaults) through NATS; latency is ` +
      `measured at the client. Each threshold gets ${n(r.plan.sequentialRequests)} requests one at a time, then ` +
      `${n(r.plan.concurrentRequests)} with 100 in flight; each figure is the median (min – max) over ` +
      `${size.runs.length} run(s).`,
    "",
    "| minCriticality | events returned | p50 one at a time | p99 one at a time | p50, 100 in flight | p99, 100 in flight |",
    "|---|---|---|---|---|---|",
    ...(size.runs[0] ?? []).map(
      (t, index) =>
        `| ${t.minCriticality} | ${t.matches} | ${ms(index, (x) => x.sequential.p50Ms)} | ${ms(index, (x) => x.sequential.p99Ms)} | ` +
        `${ms(index, (x) => x.concurrent.p50Ms)} | ${ms(index, (x) => x.concurrent.p99Ms)} |`,
    ),
    "",
    "### How the reader's cost grows with the history",
    "",
    "The same history grown by further loads over the same 30 days, measured again at each size; the worst p99 is " +
      "the highest of every threshold in a run, as median (min – max) over runs.",
    "",
    "| InfluxDB | Events stored | Loaded at | Worst p99 one at a time | Worst p99, 100 in flight |",
    "|---|---|---|---|---|",
    ...sizes.map(
      (one) =>
        `| ${one.influxdb} | ${n(one.events)} | ${n(one.loadPointsPerSecond)} points/s | ` +
        `${cell(worstP99(one, "sequential"), 1, " ms")} | ${cell(worstP99(one, "concurrent"), 1, " ms")} |`,
    ),
    "",
  ];
};

/** Renders the Markdown report and a short console summary. */
export const renderReport = (r: Results): { markdown: string; summary: string } => {
  const e2e = of(r.sustained, (x) => x.eventsPerSecond);
  const published = of(r.sustained, (x) => x.publishedPerSecond);
  const ratioInflux = e2e.median / r.ceilings.influxPointsPerSecond.median;
  const ratioBaseline = e2e.median / r.baselineEventsPerSecond.median;
  const p99 = of(r.latency, (x) => x.p99Ms);
  const overloadRss = of(r.overload, (x) => x.writerPeakRssBytes);
  const lost = [...r.sustained, ...(r.scaling ?? []).flatMap((x) => x.runs), ...r.overload].reduce(
    (sum, x) => sum + Math.max(0, x.missing),
    0,
  );
  const clean = of(r.invalidMix.clean, (x) => x.validPerSecond);
  const mixed = of(r.invalidMix.mixed, (x) => x.validPerSecond);

  const ceilings = [
    ["JetStream confirmed publish", r.ceilings.jetStreamPublishPerSecond.median],
    ["JetStream consume with ack", r.ceilings.jetStreamConsumePerSecond.median],
    ["InfluxDB raw ingest", r.ceilings.influxPointsPerSecond.median],
  ] as const;
  const [tightestName, tightest] = ceilings.reduce((low, c) => (c[1] < low[1] ? c : low));
  const ratioTightest = e2e.median / tightest;
  // Each ceiling was measured with the whole machine to itself; in the path every event costs the
  // machine all three, one after another on the same cores.
  const shared = 1 / ceilings.reduce((sum, c) => sum + 1 / c[1], 0);
  const exact = r.sustained.every((x) => x.stored === x.confirmed);
  const latencyMax = Math.max(...r.latency.map((x) => x.maxMs));
  const mixRatio = mixed.median / clean.median;
  const recordedOnce = r.invalidMix.mixed.every((x) => x.deadLettered === r.plan.mixBacklog - x.valid);

  const targets = [
    [
      `End-to-end ≥ 0.8 × the tightest ceiling in the path (${tightestName}, ${n(tightest)}/s)`,
      `${n(ratioTightest, 2)} ×`,
      verdict(ratioTightest >= 0.8),
    ],
    [
      "End-to-end ≥ 50,000 events/s, zero loss and zero duplicates",
      `${n(e2e.median)} events/s; stored = confirmed in ${r.sustained.filter((x) => x.stored === x.confirmed).length} of ${r.sustained.length} runs, ${lost} lost`,
      verdict(e2e.median >= 50_000 && exact && lost === 0),
    ],
    [
      `Publish-to-queryable p99 ≤ 250 ms at ${n(r.plan.latencyRate)} events/s, no multi-second stall (max < 1 s)`,
      `p99 ${n(p99.median)} ms, max ${n(latencyMax)} ms at ${n(of(r.latency, (x) => x.loadPerSecond).median)} events/s`,
      verdict(p99.median <= 250 && latencyMax < 1_000),
    ],
    ...readerTargets(r).map((size) => {
      const sequential = worstP99(size, "sequential");
      const concurrent = worstP99(size, "concurrent");
      return [
        `Reader p99 ≤ 50 ms at every threshold, one at a time and 100 in flight (${n(size.events)} events, ${size.influxdb})`,
        `worst ${cell(sequential, 1, " ms")} one at a time, ${cell(concurrent, 1, " ms")} with 100 in flight`,
        verdict(sequential.median <= 50 && concurrent.median <= 50),
      ] as const;
    }),
    [
      "Writer peak RSS ≤ 160 MB under a 2× overload backlog, nothing lost",
      `${n(overloadRss.max / 1_000_000, 1)} MB peak, the highest of ${r.overload.length} run(s) (${n(overloadRss.min / 1_000_000, 1)} – ${n(overloadRss.max / 1_000_000, 1)})`,
      verdict(overloadRss.max <= 160 * 1_000_000 && r.overload.every((x) => x.missing === 0)),
    ],
    [
      "With 20% invalid input, valid rate ≥ 0.8 × the all-valid rate; each dead letter recorded once",
      `${n(mixRatio, 2)} ×; ${recordedOnce ? "every" : "**not every**"} invalid message recorded once`,
      verdict(mixRatio >= 0.8 && recordedOnce),
    ],
  ];

  const lines = [
    "# Vigil benchmarks",
    "",
    `Produced by \`pnpm bench${r.mode === "quick" ? " --quick" : ""}\` on ${r.machine.date} at commit \`${r.machine.commit}\`. ` +
      `Each figure is the median of ${r.plan.runs} run(s), with (min – max).`,
    "",
    "## Machine",
    "",
    "| | |",
    "|---|---|",
    `| Cores | ${r.machine.cores} × ${r.machine.cpu} |`,
    `| Memory | ${n(Number(r.machine.memoryBytes) / 2 ** 30, 1)} GiB |`,
    `| Node | ${r.machine.node} |`,
    `| nats-server | ${r.machine.natsServer} |`,
    `| InfluxDB | ${r.machine.influxdb} |`,
    "",
    "NATS, InfluxDB, the services and the load generator all share these cores, as in the tests.",
    "",
    "## Targets",
    "",
    "| Target | Measured | |",
    "|---|---|---|",
    ...targets.map((row) => `| ${row.join(" | ")} |`),
    "",
    "## Ceilings and baseline (same run)",
    "",
    "| What | Rate |",
    "|---|---|",
    `| InfluxDB raw ingest (pre-built line protocol, batches of 5,000, 2 in flight) | ${cell(r.ceilings.influxPointsPerSecond)} points/s |`,
    `| NATS core transport (no persistence) | ${cell(r.ceilings.natsMessagesPerSecond)} msgs/s |`,
    `| JetStream confirmed publish (the daemon's publisher, 1,000 in flight) | ${cell(r.ceilings.jetStreamPublishPerSecond)} msgs/s |`,
    `| JetStream pull consume, ack each | ${cell(r.ceilings.jetStreamConsumePerSecond)} msgs/s |`,
    `| Baseline: one InfluxDB write and one ack per event | ${cell(r.baselineEventsPerSecond, 1)} events/s |`,
    "",
    `The three stages of the path share these cores: if each event cost the machine what the confirmed publish, ` +
      `the consume with ack and the raw ingest each cost it alone, the path could carry at most ${n(shared)} events/s ` +
      `(1 / (1/publish + 1/consume + 1/ingest), medians); figure 1 stores ${n(e2e.median / shared, 2)} × that.`,
    "",
    `## 1. Sustained end-to-end (${r.plan.sustainedSeconds} s, confirmed publishes, ack after write)`,
    "",
    "| | |",
    "|---|---|",
    `| Stored | ${cell(e2e)} events/s |`,
    `| Published (confirmed by JetStream) | ${cell(published)} events/s |`,
    ...(cpuSplit(r) === undefined
      ? []
      : [
          `| CPU per stored event (median of runs) | ${Object.entries(cpuSplit(r) ?? {})
            .map(([name, micros]) => `${name} ${n(micros, 1)} µs`)
            .join(
              ", ",
            )}; machine busy ${n(100 * of(r.sustained, (x) => x.cpuMicrosPerEvent?.machineBusy ?? 0).median)}% |`,
        ]),
    `| Ratio to InfluxDB raw ceiling | ${n(ratioInflux, 2)} × |`,
    `| Ratio to baseline | ${n(ratioBaseline)} × |`,
    `| Loss check (confirmed − stored, after drain) | ${r.sustained.map((x) => `${n(x.confirmed)} − ${n(x.stored)} = ${x.missing}`).join("; ")} |`,
    "",
    ...renderScaling(r),
    `## 2. Publish-to-queryable latency (load ${r.plan.latencyRate} events/s, ${r.plan.latencySeconds} s)`,
    "",
    ...apartLine(r, "latency"),
    "| p50 | p99 | max | probes seen |",
    "|---|---|---|---|",
    `| ${cell(
      of(r.latency, (x) => x.p50Ms),
      0,
      " ms",
    )} | ${cell(p99, 0, " ms")} | ${cell(
      of(r.latency, (x) => x.maxMs),
      0,
      " ms",
    )} | ${r.latency.map((x) => `${x.seen}/${x.probes}`).join(", ")} |`,
    "",
    ...renderStorageWrites(r),
    ...renderReader(r),
    "## 4. Writer cost",
    "",
    "The writer stores through an influx-gate of its own, as compose runs it; the gate's CPU is counted apart.",
    "",
    "| Load | Writer CPU per event | influx-gate CPU per event | Writer peak RSS | Lost |",
    "|---|---|---|---|---|",
    `| Sustained (figure 1) | ${cell(
      of(r.sustained, (x) => x.writerCpuMicrosPerEvent),
      1,
      " µs",
    )} | ${gateCell(r.sustained)} | ${mb(of(r.sustained, (x) => x.writerPeakRssBytes).max)} | ${r.sustained.reduce((s, x) => s + x.missing, 0)} |`,
    `| Overload (${r.plan.overloadRuns} run(s)): backlog of ${n(r.overload[0]?.valid ?? 0)} events waiting (2× the sustained rate for ${r.plan.overloadSeconds} s) | ${cell(
      of(r.overload, (x) => x.writerCpuMicrosPerEvent),
      1,
      " µs",
    )} | ${gateCell(r.overload)} | ${mb(overloadRss.max)}, the highest of ${r.overload.length} run(s) (${mb(overloadRss.min)} – ${mb(overloadRss.max)}) | ${r.overload.reduce((s, x) => s + x.missing, 0)} |`,
    "",
    "## 5. Cost of bad input (backlog drain, 20% invalid)",
    "",
    ...apartLine(r, "invalid"),
    "| Backlog | Valid events stored/s | Dead-lettered |",
    "|---|---|---|",
    `| ${n(r.plan.mixBacklog)} valid | ${cell(clean)} | 0 |`,
    `| ${n(r.plan.mixBacklog)} with 20% invalid | ${cell(mixed)} | ${r.invalidMix.mixed.map((x) => n(x.deadLettered)).join(", ")} |`,
    "",
    `Valid throughput with 20% invalid input is ${n((mixed.median / clean.median) * 100)}% of the all-valid rate.`,
    "",
  ];
  lines.push(
    ...holdingBack(r, { e2e: e2e.median, tightestName, tightest, shared, p99: p99.median, latencyMax, mixRatio }),
  );
  const gateway = r.gateway === undefined ? undefined : renderGateway(r.gateway);
  if (gateway !== undefined) lines.push(...gateway.lines);
  const live = r.live === undefined ? undefined : renderLive(r.live);
  if (live !== undefined) lines.push(...live.lines);
  if (r.peers !== undefined) lines.push(...renderPeers(r.peers));
  const summary = [...targets, ...(gateway?.targets ?? []), ...(live?.targets ?? [])]
    .map((row) => `${row[2] === "met" ? "✓" : "✗"} ${row[0]}: ${row[1]}`)
    .join("\n");
  return { markdown: lines.join("\n"), summary };
};

const pct = (share: number) => `${n(share * 100)}%`;

/** One row of the gateway's open-loop table. */
const singleRow = (label: string, runs: GatewayResults["single"]): string => {
  const median = (pick: (run: GatewayResults["single"][number]) => number) => of(runs, pick).median;
  return `| ${[
    label,
    cell(of(runs, (x) => x.answeredPerSecond)),
    cell(
      of(runs, (x) => x.latency.p50Ms),
      1,
      " ms",
    ),
    cell(
      of(runs, (x) => x.latency.p99Ms),
      1,
      " ms",
    ),
    cell(
      of(runs, (x) => x.latency.maxMs),
      0,
      " ms",
    ),
    runs.map((x) => x.failed).join(", "),
    `${n(
      median((x) => x.sendLag.p99Ms),
      1,
    )} ms (${n(of(runs, (x) => x.sendLag.maxMs).max, 0)} ms)`,
    `${n(median((x) => x.cpu.gateway))} µs`,
    `${n(median((x) => x.cpu.natsServer))} µs`,
    `${n(median((x) => x.cpu.generator))} µs`,
    `${n(median((x) => x.cpu.bench))} µs`,
    pct(median((x) => x.cpu.machineBusy)),
  ].join(" | ")} |`;
};

/** The gateway's section: its targets, the three figures, and what holds them back. */
export const renderGateway = (g: GatewayResults): { lines: string[]; targets: string[][] } => {
  const { plan } = g;
  const ratio = of(g.batch, (x) => x.ratio);
  const direct = of(g.batch, (x) => x.directPerSecond);
  const viaGateway = of(g.batch, (x) => x.gatewayPerSecond);
  const batchLost = g.batch.reduce((sum, x) => sum + x.failed + Math.max(0, x.missingFromStream), 0);
  const p99 = of(g.single, (x) => x.latency.p99Ms);
  const answered = of(g.single, (x) => x.answeredPerSecond);
  const singleFailed = g.single.reduce((sum, x) => sum + x.failed, 0);
  const largest = g.hours.reduce((big, hour) => (hour.events > big.events ? hour : big));
  const hourP99 = (hour: (typeof g.hours)[number], layer: "gateway" | "reader" | "influx") =>
    of(hour.runs, (x) => x[layer].p99Ms);
  const hourP50 = (hour: (typeof g.hours)[number], layer: "gateway" | "reader" | "influx") =>
    of(hour.runs, (x) => x[layer].p50Ms);
  const wrong = (hour: (typeof g.hours)[number]) => hour.runs.reduce((sum, x) => sum + x.wrongAnswers, 0);
  const largestP99 = hourP99(largest, "gateway");
  const cpuOf = (pick: (run: (typeof g.batch)[number]) => number) => of(g.batch, pick).median;

  const targets = [
    [
      `Gateway batch ingest ≥ 0.5 × direct JetStream publish (batches of ${plan.batchSize})`,
      `${n(ratio.median, 2)} × (${n(ratio.min, 2)} – ${n(ratio.max, 2)}), ${batchLost} lost or refused`,
      verdict(ratio.median >= 0.5 && batchLost === 0),
    ],
    [
      `Gateway \`POST /v1/events\` p99 ≤ 10 ms at ${n(plan.singleRate)} requests/s (from ${plan.singleProducers} producer keys)`,
      `${cell(p99, 1, " ms")}, ${singleFailed} failed`,
      verdict(p99.median <= 10 && singleFailed === 0 && answered.median >= 0.95 * plan.singleRate),
    ],
    [
      `Gateway \`GET /v1/aggregates?minutes=60\` p99 ≤ 100 ms over an hour of ${n(largest.events)} events`,
      `${cell(largestP99, 1, " ms")}, ${wrong(largest)} wrong answers`,
      verdict(largestP99.median <= 100 && wrong(largest) === 0),
    ],
  ];
  const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const lines = [
    "## Gateway",
    "",
    `Measured on ${g.measuredAt} at commit \`${g.commit}\`, ${plan.runs} run(s) of each figure, on the servers users ` +
      `run: ${g.servers.natsServer} and ${g.servers.influxdb} (the versions compose pins, built by ` +
      "`scripts/build-servers.sh`). The gateway is its own process (`services/gateway/dist/main.js`, started as the " +
      "tests start every service, `LOG_LEVEL=info`: one log line per request, when it is answered). " +
      "The load comes from another process (`bench/gateway-load.ts`: `node:http` with keep-alive connections), with API " +
      "keys made by the gateway's own `credentials add-key` (`producer` to ingest, `viewer` to read). Rate limits are " +
      `${n(g.rateLimitPerMinute)} requests a minute per key: never reached, but counted as in production (a read and ` +
      "a compare-and-set per counting round of each key), and every request is audited as in production. Each figure is the median " +
      "(min – max) over runs. `pnpm bench --only gateway` measures this section alone and keeps the others.",
    "",
    "| Target | Measured | |",
    "|---|---|---|",
    ...targets.map(row),
    "",
    `### 1. Batch ingest against direct JetStream publish (${n(plan.batchEvents)} events per run)`,
    "",
    `Direct: one process publishing the same kind of events to \`events\` with the daemon's and gateway's confirmed ` +
      `publish (\`Nats-Msg-Id\` = event id), ${n(plan.batchSize * plan.batchConcurrency)} awaiting confirmation. ` +
      `Gateway: \`POST /v1/events/batch\` of ${plan.batchSize} events, ${plan.batchConcurrency} requests in flight ` +
      `(the same ${n(plan.batchSize * plan.batchConcurrency)} events in flight), each answered 200 only once JetStream ` +
      "confirmed every event in it. CPU is per event, from /proc, warm-up included.",
    "",
    "| | events/s | CPU gateway | CPU nats-server | CPU load generator | machine busy |",
    "|---|---|---|---|---|---|",
    row([
      "Direct confirmed publish",
      cell(direct),
      "–",
      `${n(
        cpuOf((x) => x.cpu.direct.natsServer),
        1,
      )} µs`,
      `${n(
        cpuOf((x) => x.cpu.direct.generator),
        1,
      )} µs`,
      pct(cpuOf((x) => x.cpu.direct.machineBusy)),
    ]),
    row([
      "`POST /v1/events/batch`",
      cell(viaGateway),
      `${n(
        cpuOf((x) => x.cpu.gateway.gateway),
        1,
      )} µs`,
      `${n(
        cpuOf((x) => x.cpu.gateway.natsServer),
        1,
      )} µs`,
      `${n(
        cpuOf((x) => x.cpu.gateway.generator),
        1,
      )} µs`,
      pct(cpuOf((x) => x.cpu.gateway.machineBusy)),
    ]),
    "",
    `Ratio per run: ${g.batch.map((x) => `${n(x.ratio, 2)} ×`).join(", ")}. Refused or unconfirmed: ` +
      `${g.batch.map((x) => x.failed).join(", ")}; missing from the stream afterwards: ` +
      `${g.batch.map((x) => x.missingFromStream).join(", ")}.`,
    "",
    `### 2. \`POST /v1/events\`, one event per request, open loop at ${n(plan.singleRate)} requests/s (${plan.singleSeconds} s per run)`,
    "",
    "Requests leave on a fixed schedule whether or not earlier ones were answered; latency runs from when a request " +
      "was due to its `202`, which the gateway sends once JetStream confirmed the event. The generator's own " +
      "lateness (send lag) is part of the latency and shown apart.",
    "",
    `The requests take ${plan.singleProducers} producer API key(s) in turn, as from that many producers ` +
      `(${n(plan.singleRate / plan.singleProducers)} requests/s each).` +
      (g.singleOneKey.length === 0 && g.singleUncounted.length === 0
        ? ""
        : " The same load then comes from one key, whose waiting requests the gateway counts together in rounds, " +
          "and goes to a second gateway with rate limits off (`GATEWAY_RATE_LIMIT_KEY=0`), which skips the " +
          "key-value round trips: the difference is what counting costs.") +
      " CPU is per request, from /proc, warm-up included.",
    "",
    "| Gateway | answered/s | p50 | p99 | max | failed | send lag p99 (max) | CPU gateway | CPU nats-server | CPU load generator | CPU bench | machine busy |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    singleRow(`${plan.singleProducers} producer keys, rate limits counted (as users run it)`, g.single),
    ...(g.singleOneKey.length === 0 ? [] : [singleRow("One producer key, rate limits counted", g.singleOneKey)]),
    ...(g.singleUncounted.length === 0
      ? []
      : [singleRow(`${plan.singleProducers} producer keys, rate limits off`, g.singleUncounted)]),
    "",
    "The bench process reads every log line the gateway writes (one per request), as a container runtime would.",
    "",
    "### 3. `GET /v1/aggregates?minutes=60`, one request at a time",
    "",
    `The hour is loaded straight into InfluxDB 2.x as line protocol in the writer's layout (\`encodePoints\`), spread ` +
      `over 50 minutes ending a minute before loading, so the hour holds every event while it is asked (each answer's \`total\` is ` +
      `checked). Each of ${n(plan.aggregateRequests)} rounds per run asks the gateway, then the reader over NATS, then ` +
      "InfluxDB alone (the reader's statement over the whole hour, as one query), so the three layers see the same " +
      "moments. The reader runs with its defaults: it counts the hour in " +
      `${DEFAULT_AGGREGATE_SLICES} parts at once (\`READER_AGGREGATE_SLICES\`).`,
    "",
    "| Events in the hour | loaded at | gateway p50 | gateway p99 | reader p50 | reader p99 | InfluxDB p50 | InfluxDB p99 | wrong answers |",
    "|---|---|---|---|---|---|---|---|---|",
    ...g.hours.map((hour) =>
      row([
        n(hour.events),
        `${n(hour.loadPointsPerSecond)} points/s`,
        cell(hourP50(hour, "gateway"), 1, " ms"),
        cell(hourP99(hour, "gateway"), 1, " ms"),
        cell(hourP50(hour, "reader"), 1, " ms"),
        cell(hourP99(hour, "reader"), 1, " ms"),
        cell(hourP50(hour, "influx"), 1, " ms"),
        cell(hourP99(hour, "influx"), 1, " ms"),
        String(wrong(hour)),
      ]),
    ),
    "",
    ...gatewayLimits(g),
  ];
  return { lines, targets };
};

/** What the gateway's figures say about where the time goes, from the CPU measured beside them. */
const gatewayLimits = (g: GatewayResults): string[] => [
  "### What holds the gateway figures back",
  "",
  batchLimits(g),
  singleLimits(g),
  ...aggregatesLimits(g),
  "",
];

const batchLimits = (g: GatewayResults): string => {
  const median = (pick: (run: GatewayResults["batch"][number]) => number) => of(g.batch, pick).median;
  const rate = median((x) => x.gatewayPerSecond);
  const via = {
    gateway: median((x) => x.cpu.gateway.gateway),
    natsServer: median((x) => x.cpu.gateway.natsServer),
    generator: median((x) => x.cpu.gateway.generator),
  };
  const direct = {
    natsServer: median((x) => x.cpu.direct.natsServer),
    generator: median((x) => x.cpu.direct.generator),
  };
  // Sums of the medians shown beside them, so that the parts add up on the page.
  const viaTotal = via.gateway + via.natsServer + via.generator;
  const directTotal = direct.natsServer + direct.generator;
  const busy = pct(median((x) => x.cpu.gateway.machineBusy));
  return (
    `- **Batch ingest costs the machine ${n(viaTotal / directTotal, 1)} times the CPU per event of the direct ` +
    `publish.** Through the gateway an event cost ${n(viaTotal, 1)} µs of CPU in all (gateway ${n(via.gateway, 1)}, ` +
    `nats-server ${n(via.natsServer, 1)}, load generator ${n(via.generator, 1)}), the direct publish ` +
    `${n(directTotal, 1)} µs (nats-server ${n(direct.natsServer, 1)}, publisher ${n(direct.generator, 1)}), and both ` +
    `share the same two cores with each other and with everyone's work (the machine was ${busy} busy). The ` +
    `gateway's own share runs on one thread: at ${n(rate)} events/s it used ${n((via.gateway * rate) / 1e6, 2)} of ` +
    "a core. A CPU profile of the gateway under this load (`pnpm bench --only gateway " +
    '--gateway-node-options="--import ./bench/cpu-profile.mjs"`, 2026-12-02, before the gateway logged one line ' +
    "per request instead of two) split its busy time: the NATS client " +
    "40% (a publish and a parsed acknowledgement per event, and the socket writes), node:http and fastify 21%, " +
    "pino's two log lines per request 9%, zod 8% (each item checked on the way in, and the reply's results checked " +
    "again by the response serializer; the ingest routes now write the replies they build as they are), the " +
    "gateway's own code 7%, garbage collection 6%. Several gateway processes " +
    "would spread its share over the cores (the gateway keeps nothing between requests that NATS does not hold), " +
    "but on two cores only less work per event moves the ratio."
  );
};

const singleLimits = (g: GatewayResults): string => {
  const median = (runs: GatewayResults["single"], pick: (run: GatewayResults["single"][number]) => number) =>
    of(runs, pick).median;
  const cpu = {
    gateway: median(g.single, (x) => x.cpu.gateway),
    natsServer: median(g.single, (x) => x.cpu.natsServer),
    generator: median(g.single, (x) => x.cpu.generator),
    bench: median(g.single, (x) => x.cpu.bench),
  };
  const share = ((cpu.gateway + cpu.natsServer + cpu.generator + cpu.bench) * g.plan.singleRate) / 20_000;
  const p99 = median(g.single, (x) => x.latency.p99Ms);
  const parts = [
    "- **Single events: what a request costs.** From " +
      `${g.plan.singleProducers} producer key(s) each request cost ${n(cpu.gateway)} µs of gateway CPU and ` +
      `${n(cpu.natsServer)} µs of nats-server (plus ${n(cpu.generator)} µs in the load generator and ` +
      `${n(cpu.bench)} µs in the bench reading the gateway's log): ${n(g.plan.singleRate)} requests/s take ` +
      `${n(share)}% of the two cores, and the machine was ${pct(median(g.single, (x) => x.cpu.machineBusy))} busy ` +
      "with everyone's work. The slowest requests still wait for a core or for a garbage collection in the gateway.",
  ];
  if (g.singleUncounted.length > 0) {
    const off = (pick: (run: GatewayResults["single"][number]) => number) => median(g.singleUncounted, pick);
    parts.push(
      `With rate limits off the gateway spent ${n(off((x) => x.cpu.gateway))} µs and nats-server ` +
        `${n(off((x) => x.cpu.natsServer))} µs per request, and p99 was ${n(
          off((x) => x.latency.p99Ms),
          1,
        )} ms ` +
        `against ${n(p99, 1)} ms: the shared rate limit, counted ahead in leases (a read and a compare-and-set ` +
        "write take about a second of a caller's requests at once), costs what the difference says.",
    );
  }
  if (g.singleOneKey.length > 0) {
    const one = (pick: (run: GatewayResults["single"][number]) => number) => median(g.singleOneKey, pick);
    parts.push(
      `From one key p99 was ${n(
        one((x) => x.latency.p99Ms),
        1,
      )} ms (p50 ${n(
        one((x) => x.latency.p50Ms),
        1,
      )} ms).`,
    );
  }
  parts.push(
    "How the target was reached (2026-12-02, from 23.8 ms at 796de1b; one-run probes of this figure after the " +
      "batch figure, as here, not in the results file): a trace of one run put the slow requests in clusters right " +
      "after the gateway's young-generation collections of 5–10 ms; a sampling heap profile put 41% of the " +
      "gateway's allocation in the live tail's shared feed, which parsed the headers and decoded every event of " +
      "`LIVE` with no client connected; and a CPU profile put 23% of its busy time in socket writes to NATS, about " +
      "four per request (the rate counter's read and compare-and-set, the event, its audit record), each a system " +
      "call on loopback where the kernel also does the server's receiving. The feed now follows `LIVE` only while " +
      "a live-tail client is connected (p99 21.7 and 17.0 ms with it, 13.5 and 15.6 ms without, at 4167669); the " +
      "rate counters are taken ahead in leases and the audit records of 10 ms are published together, which took " +
      "nats-server from about 470 to 210 µs per request and the gateway from about 630 to 440 µs (p99 6.7 ms in " +
      "that probe with the feed still running, 5.5 ms without).",
  );
  return parts.join(" ");
};

const aggregatesLimits = (g: GatewayResults): string[] => {
  const hours = [...g.hours].sort((a, b) => a.events - b.events);
  const largest = hours.at(-1);
  if (largest === undefined) return [];
  const median = (hour: GatewayResults["hours"][number], pick: (run: AggregatesRun) => number) =>
    of(hour.runs, pick).median;
  const p50 = (hour: GatewayResults["hours"][number], layer: "gateway" | "reader" | "influx") =>
    median(hour, (x) => x[layer].p50Ms);
  return [
    "- **Aggregates grow with the hour, in InfluxDB.** One InfluxDB query over the hour takes " +
      `${hours.map((hour) => `${n(p50(hour, "influx"), 1)} ms`).join(", ")} (p50) for ` +
      `${hours.map((hour) => n(hour.events)).join(", ")} events: \`count()\` reads every point of the hour, and ` +
      `InfluxDB reads one query's points on one core. The reader counts the hour in ${DEFAULT_AGGREGATE_SLICES} parts at once, so over ` +
      `${n(largest.events)} events it answers in ${n(p50(largest, "reader"), 1)} ms at the median (p99 ` +
      `${n(
        median(largest, (x) => x.reader.p99Ms),
        1,
      )} ms), and the gateway in ${n(p50(largest, "gateway"), 1)} ms ` +
      `(p99 ${n(
        median(largest, (x) => x.gateway.p99Ms),
        1,
      )} ms). The time still grows with the hour's size. Counts ` +
      "kept per minute as events are written would read 60 points instead of every event, but a count added on " +
      "write is not exact: a redelivered event would be counted twice where its point overwrites itself; not built.",
  ];
};

type FanoutRun = LiveResults["fanout"][number];
type ResumeRun = LiveResults["resume"][number];

const cores = (share: number) => n(share, 2);
const counts = (byCode: Readonly<Record<string, number>>) =>
  Object.keys(byCode).length === 0
    ? "none"
    : Object.entries(byCode)
        .map(([code, count]) => `${count} × ${code}`)
        .join(", ");
const closedCount = (runs: readonly { readonly closed: Readonly<Record<string, number>> }[]) =>
  runs.reduce((sum, run) => sum + Object.values(run.closed).reduce((a, b) => a + b, 0), 0);
/** The runs' delivery checks added up. */
const deliveryOf = (runs: readonly (FanoutRun | ResumeRun)[]) => ({
  exact: runs.map((x) => x.delivery.exact).join(", "),
  wrong: runs.reduce((sum, x) => sum + x.delivery.wrong, 0),
  missed: runs.reduce((sum, x) => sum + x.delivery.missed, 0),
  mostMissedByOne: Math.max(...runs.map((x) => x.delivery.mostMissedByOne)),
  unexpected: runs.reduce((sum, x) => sum + x.delivery.unexpected, 0),
  gapMissed: runs.reduce((sum, x) => sum + x.delivery.gapMissed, 0),
  short: runs.reduce((sum, x) => sum + x.shortInTime, 0),
});
/** Every client of every run received exactly its events, and none was closed. */
const allExact = (runs: readonly (FanoutRun | ResumeRun)[]) => {
  const d = deliveryOf(runs);
  return closedCount(runs) === 0 && d.wrong === 0 && d.missed === 0 && d.unexpected === 0 && d.short === 0;
};
/** Event frames per published event: what the clients' filters let through, on average times the clients. */
const framesPerEvent = (run: FanoutRun) => run.framesReceived / Math.max(1, run.published);

const fanoutRow = (runs: readonly FanoutRun[]) => {
  const first = runs[0] as FanoutRun;
  const d = deliveryOf(runs);
  return `| ${[
    `${n(first.clients)} clients, ${n(first.rate)} events/s for ${first.seconds} s`,
    `${cell(of(runs, (x) => x.framesPerSecond))} (${n(first.rate * of(runs, framesPerEvent).median)} asked)`,
    cell(
      of(runs, (x) => x.latency.p50Ms),
      0,
      " ms",
    ),
    cell(
      of(runs, (x) => x.latency.p99Ms),
      0,
      " ms",
    ),
    cell(
      of(runs, (x) => x.latency.maxMs),
      0,
      " ms",
    ),
    cell(
      of(runs, (x) => x.deliveryTailMs),
      0,
      " ms",
    ),
    `${d.exact} of ${n(first.clients)}; ${n(d.missed)} missed, ${d.unexpected} unexpected`,
    counts(Object.fromEntries(runs.flatMap((x) => Object.entries(x.closed)))),
    mb(of(runs, (x) => x.gatewayPeakRssBytes).max),
    cores(of(runs, (x) => x.cpu.gateway).median),
    cores(of(runs, (x) => x.cpu.natsServer).median),
    cores(of(runs, (x) => x.cpu.clients).median),
    pct(of(runs, (x) => x.cpu.machineBusy).median),
    `${n(of(runs, (x) => x.gatewayLoopDelayMaxMs).median)} ms`,
    `${n(of(runs, (x) => x.clientsLoopDelay.p99Ms).median)} / ${n(of(runs, (x) => x.clientsLoopDelay.maxMs).max)} ms`,
  ].join(" | ")} |`;
};

/** The live tail's section: its targets, the fan-out and the resume, and what holds them back. */
export const renderLive = (l: LiveResults): { lines: string[]; targets: string[][] } => {
  const { plan } = l;
  const target = l.fanout;
  const p99 = of(target, (x) => x.latency.p99Ms);
  const p50 = of(target, (x) => x.latency.p50Ms);
  const rss = of(target, (x) => x.gatewayPeakRssBytes);
  const closed = closedCount(target);
  const d = deliveryOf(target);
  const resumed = deliveryOf(l.resume);
  const caughtUp = of(l.resume, (x) => x.caughtUpMs.p50Ms);
  const backlog = of(l.resume, (x) => x.backlogMs.p50Ms);
  const replayedAll = l.resume.every((x) => x.replayed === x.missedWhileAway.total);
  const clients = n(plan.clients);
  const targets = [
    [
      `Live tail p99 ≤ 100 ms, ${clients} clients, ${n(plan.rate)} events/s`,
      `${cell(p99, 0, " ms")} (p50 ${n(p50.median)} ms)`,
      verdict(p99.median <= 100),
    ],
    [
      `Gateway peak RSS ≤ 512 MB with ${clients} live clients`,
      `${n(rss.max / 1_000_000, 1)} MB (${mb(rss.max)}), the highest run`,
      // MB as in the writer's target: 10^6 bytes.
      verdict(rss.max <= 512 * 1_000_000),
    ],
    [
      "No live client that keeps up is dropped; each gets exactly its events",
      `${closed} closed; ${n(d.missed)} events missed, ${d.unexpected} duplicated or out of order or filter; exact: ${d.exact} of ${clients}`,
      verdict(allExact(target)),
    ],
    [
      `Resume after ${plan.awaySeconds} s away at ${n(plan.rate)} events/s: everything missed, in order, once`,
      `${l.resume.map((x) => `${n(x.replayed)} of ${n(x.missedWhileAway.total)}`).join(", ")} replayed; caught up in ${cell(caughtUp, 0, " ms")} (p50 over ${plan.resumeClients} clients)`,
      verdict(allExact(l.resume) && replayedAll),
    ],
  ];
  const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rates = [...(l.light.length > 0 ? [l.light] : []), target];
  const lines = [
    "## Live tail",
    "",
    `Measured on ${l.measuredAt} at commit \`${l.commit}\`, ${plan.runs} run(s), on ${l.natsServer}, each run on a ` +
      "fresh gateway (`services/gateway/dist/main.js`, started as the tests start every service, `LOG_LEVEL=info`) with " +
      `${Object.entries(l.gatewayEnv)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(", ")}, ` +
      "rate limits counted as in production but never reached. Streams as the set-up makes them (`LIVE` first, then " +
      "`EVENTS` with its republish); no writer or InfluxDB, which the live tail does not read. Each figure is the median " +
      "(min – max) over runs. `pnpm bench --only live` measures this section alone and keeps the others.",
    "",
    `- *Publisher*: its own process, one probe event at a time on a fixed schedule to \`events\` with JetStream's ` +
      "confirmed publish (as the daemon), criticality 0 to 10 in turn. Each probe carries the moment it was handed to " +
      "the NATS client, on the machine's monotonic clock (the same clock in every process), in its `eventMessage`.",
    `- *Clients*: \`ws\` WebSockets with a viewer API key, spread over ${plan.clientProcesses} process(es) of their own ` +
      "(`bench/live-clients.ts`), `minCriticality` -1 to 9 in turn, all open before the first event. Latency runs from " +
      "the probe's stamp to the frame's arrival at a client, so it includes the confirmed publish into JetStream " +
      `(which took ${n(of(target, (x) => x.confirm.p50Ms).median, 1)} ms at p50 and ${n(of(target, (x) => x.confirm.p99Ms).median, 1)} ms at p99 ` +
      "to confirm) and is counted for every frame every client received (a histogram with 1% buckets).",
    "- *Exactly its events*: each client keeps a digest of the cursors it received, in order; once the publisher is " +
      "done the bench reads back from `LIVE` what was stored and computes, per filter, the digest and count every " +
      "client should have. A client is exact when they match and no cursor came twice or out of order or below its " +
      `filter. Clients get ${plan.drainBoundSeconds} s after the last publish to receive their last event; the delivery ` +
      "tail is from the last probe's stamp to the last frame's arrival.",
    `- *Limits*: \`ulimit -n\` was ${n(l.openFilesLimit)} for every process (checked, not set, by the bench: the gateway ` +
      "holds one descriptor per client, a clients process one per client it holds).",
    "",
    "| Target | Measured | |",
    "|---|---|---|",
    ...targets.map(row),
    "",
    "### 1. Fan-out: every client follows the feed with its own filter",
    "",
    "| Load | frames delivered/s | p50 | p99 | max | delivery tail | exact clients | closed | gateway peak RSS | gateway CPU (cores) | nats-server | clients | machine busy | gateway event-loop delay, max | clients' loop delay p99 / max |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rates.map((runs) => fanoutRow(runs)),
    "",
    `Frames asked per second: clients × events/s × the share of events above their filters (${n(of(target, framesPerEvent).median / plan.clients, 3)} on average). ` +
      `Machine load (1 minute) before the runs: ${[...l.light, ...target].map((x) => n(x.loadBefore, 2)).join(", ")}.`,
    "",
    `### 2. Resume: ${plan.resumeClients} clients away ${plan.awaySeconds} s at ${n(plan.rate)} events/s, back with \`after=<last cursor>\``,
    "",
    `The clients (filters -1 to 9 in turn, nothing else connected) follow the feed for ${plan.resumeLeadSeconds} s, close, ` +
      `stay away ${plan.awaySeconds} s while events flow, and reconnect together with \`after=\` the cursor of their last ` +
      `event frame; events flow ${plan.resumeTailSeconds} s more. *Backlog delivered*: from reconnecting to the last event ` +
      "published before it (everything missed has arrived). *Caught up*: from reconnecting to the first frame that arrived " +
      "within 100 ms of its publication (the client is at the live edge again). Times are per client; the table shows " +
      "their p50 and max, each the median over runs.",
    "",
    "| missed while away (per client, total) | replayed | reconnect (upgrade) p50 | backlog delivered p50 / max | caught up p50 / max | exact clients | closed | gateway CPU (cores) | nats-server |",
    "|---|---|---|---|---|---|---|---|---|",
    row([
      `${n(of(l.resume, (x) => x.missedWhileAway.median).median)}, ${l.resume.map((x) => n(x.missedWhileAway.total)).join(", ")}`,
      l.resume.map((x) => n(x.replayed)).join(", "),
      `${n(of(l.resume, (x) => x.openMs.p50Ms).median)} ms`,
      `${cell(backlog, 0, " ms")} / ${n(of(l.resume, (x) => x.backlogMs.maxMs).median)} ms`,
      `${cell(caughtUp, 0, " ms")} / ${n(of(l.resume, (x) => x.caughtUpMs.maxMs).median)} ms`,
      `${resumed.exact} of ${plan.resumeClients}`,
      counts(Object.fromEntries(l.resume.flatMap((x) => Object.entries(x.closed)))),
      cores(of(l.resume, (x) => x.cpu.gateway).median),
      cores(of(l.resume, (x) => x.cpu.natsServer).median),
    ]),
    "",
    ...liveLimits(l),
  ];
  return { lines, targets };
};

/** What the live figures say about where the time goes, from what was measured beside them. */
const liveLimits = (l: LiveResults): string[] => {
  const { plan } = l;
  const target = l.fanout;
  const median = (runs: readonly FanoutRun[], pick: (run: FanoutRun) => number) => of(runs, pick).median;
  const delivered = median(target, (x) => x.framesPerSecond);
  const asked = plan.rate * (median(target, framesPerEvent) || 0);
  const perFrame = (median(target, (x) => x.cpu.gateway) * 1e6) / delivered;
  const clientsPerFrame = (median(target, (x) => x.cpu.clients) * 1e6) / delivered;
  // Behind: frames still arriving a second after the last publish.
  const behind = median(target, (x) => x.deliveryTailMs) > 1_000;
  const costs =
    `the gateway spent ${n(perFrame, 1)} µs of its CPU per frame delivered and the clients ${n(clientsPerFrame, 1)} µs ` +
    `reading it (${cores(median(target, (x) => x.cpu.gateway))} and ${cores(median(target, (x) => x.cpu.clients))} cores ` +
    "of the machine's 2; nats-server and the publisher cost little: one message per event)";
  const parts = [
    "### What holds the live tail back",
    "",
    behind
      ? `- **Frames, not events.** ${n(plan.clients)} clients at ${n(plan.rate)} events/s ask for ${n(asked)} WebSocket ` +
        `frames a second; the gateway delivered ${n(delivered)} a second: ${costs}. At those costs the frames asked ` +
        `would need ${n((asked * perFrame) / 1e6, 1)} cores for the gateway alone and ` +
        `${n((asked * clientsPerFrame) / 1e6, 1)} for the clients. So the feed falls behind from the first second: ` +
        `latency grows with the length of the run (the p50 and p99 above are those of a ${plan.seconds} s run, not a ` +
        "steady state), and every frame still arrives, late, once the publisher stops."
      : `- **Kept up.** ${n(plan.clients)} clients at ${n(plan.rate)} events/s ask for ${n(asked)} WebSocket frames a ` +
        `second, all delivered as they came: ${costs}.`,
  ];
  if (behind)
    parts.push(
      "- **Where the gateway's CPU goes.** A CPU profile of the gateway (`--gateway-node-options=\"--import " +
        './bench/cpu-profile.mjs"`, 2026-12-02) at 1,000 clients and 1,000 events/s first showed 57% of its time in ' +
        "`writev`: one system call per frame per client, on loopback TCP where the kernel also does the receiving side. " +
        "Now that the gateway writes the frames a client gets in one turn of the event loop together (corked until " +
        "`setImmediate`, at most 16 KiB held), the same load, 10 s of it at the same machine load, delivered 200,500 " +
        "frames/s against 50,800 before (its delivery tail 17 s against 97 s). At 5,000 clients behind the feed the " +
        "gateway now spends 21% of its time in the fan-out loop over the sessions, 18% handing frames to each session " +
        "and to `ws`, 8% in the bound check reading `bufferedAmount`, 13% in garbage collection, 12% in `writev` and 8% " +
        `in Node's stream buffering: about 2.5 µs per frame, where ${n(plan.clients)} clients at ${n(plan.rate)} events/s ` +
        `need ${n(1e6 / Math.max(1, asked), 2)} µs on one core. What would close that: clients with the same filter get ` +
        "the same bytes, so each frame could be framed once per filter and turn and written to each socket as one " +
        "buffer (one write per client per turn, no per-frame work per client); or more gateways, each with its share of " +
        "the clients, on more cores.",
    );
  if (l.light.length > 0) {
    const light = l.light;
    parts.push(
      `- **When it keeps up.** At ${n(plan.lightRate)} events/s the same ${n(plan.clients)} clients ask for ` +
        `${n(plan.lightRate * median(light, framesPerEvent))} frames a second; p99 was ` +
        `${n(median(light, (x) => x.latency.p99Ms))} ms. Events then arrive one at a time, so each frame is its own ` +
        `system call again: the gateway spent ${n((median(light, (x) => x.cpu.gateway) * 1e6) / median(light, (x) => x.framesPerSecond), 1)} µs per frame and the clients ` +
        `${n((median(light, (x) => x.cpu.clients) * 1e6) / median(light, (x) => x.framesPerSecond), 1)} µs, ` +
        `${cores(median(light, (x) => x.cpu.gateway))} and ${cores(median(light, (x) => x.cpu.clients))} cores of the ` +
        "machine's 2, so the gateway's event loop and the clients wait for each other's CPU. Holding frames for a few " +
        "milliseconds before writing them would trade that latency for fewer system calls.",
    );
  }
  if (behind)
    parts.push(
      `- **Memory and the event loop when behind.** The gateway's peak RSS reached ${mb(of(target, (x) => x.gatewayPeakRssBytes).max)} ` +
        `and its event loop was blocked for up to ${n(median(target, (x) => x.gatewayLoopDelayMaxMs) / 1_000, 1)} s at a time ` +
        "(its `nodejs_eventloop_lag_max_seconds`). The shared feed asks `LIVE` for 256 messages, and for the next 256 " +
        "only once it has handed those out, and gives the event loop a turn every 50 ms of fan-out: a gateway that " +
        "cannot keep up leaves the backlog in `LIVE`, and holds one batch beside the clients' buffers (each bounded by " +
        "`GATEWAY_LIVE_MAX_BUFFERED`). At ca98f8c the feed asked again as messages arrived, not as they were handed " +
        "out, and fanned each chunk read from NATS out in one run of microtasks: the same load reached 888.1 MiB and " +
        "blocked the event loop for up to 95.8 s, and delivered 133,433 frames/s (fewer frames now share each write, " +
        "since the loop turns more often).",
    );
  const resume = l.resume;
  const replayedPerSecond = (x: ResumeRun) => x.missedWhileAway.total / (x.backlogMs.maxMs / 1_000);
  parts.push(
    `- **Resuming.** The gateway keeps the newest messages its feed handed out (\`GATEWAY_LIVE_RECENT_EVENTS\`, ` +
      `${n(RECENT_EVENTS_DEFAULT)} by default), decoded, each event's frame encoded once for every client; a client ` +
      "resuming within them replays from there, with no consumer, read of `LIVE` or decoding of its own, and a feed " +
      "stopped for a pause that fits in them reads that pause when it starts again. " +
      (plan.awaySeconds * plan.rate > RECENT_EVENTS_DEFAULT
        ? `Here the clients were away ${plan.awaySeconds} s at ${n(plan.rate)} events/s, more messages of \`LIVE\` ` +
          "than the gateway keeps, and its feed had stopped (`GATEWAY_LIVE_FEED_IDLE`, 30 s, after the last client " +
          "left): it started again at the stream's end, and each client replayed from `LIVE` through a consumer of its " +
          "own, the gateway decoding every message for each. "
        : "") +
      `${plan.resumeClients} clients back together replayed about ${n(of(resume, replayedPerSecond).median)} missed ` +
      `frames a second with the gateway at ${cores(of(resume, (x) => x.cpu.gateway).median)} cores and their ` +
      `clients' process at ${cores(of(resume, (x) => x.cpu.clients).median)}: the backlog of a ${plan.awaySeconds} s ` +
      `absence took ${n(of(resume, (x) => x.backlogMs.maxMs).median / 1_000, 1)} s for the last of them. With ` +
      "32,768 kept (at 2bb7c38, frames then in Node's buffer pool; a full run of this section, 3 runs, 2026-12-03, " +
      "not in the results file) the same clients replayed from memory: the last had its backlog in 7.2 s, and they were " +
      "back at the live edge in 7.1 s (6.8 – 8.0) at the median, but 5,000 clients took the gateway to 493.4 MiB " +
      "(517 MB), over the 512 MB target. At 111fa53, from `LIVE` alone, a one-run probe (events flowing 40 s after " +
      "the reconnection) had the backlog in 55.6 s for the last client, and no client back at the live edge before " +
      "the events stopped.",
    "",
  );
  return parts;
};

/** Each run's figure in turn, and of how many: "0, 0, 0 of 100,000". */
const perRun = (runs: readonly number[], total: number) => `${runs.map((x) => n(x)).join(", ")} of ${n(total)}`;

/** The section `pnpm bench --peers` writes: the writer beside Telegraf on the same events. */
export const renderPeers = (p: PeersResults): string[] => {
  const { plan, tuning } = p;
  const row = (name: string, f: PeersResults["vigil"]) => {
    const rss = of(f.rate, (x) => x.peakRssBytes);
    return `| ${[
      name,
      cell(of(f.rate, (x) => x.eventsPerSecond)),
      cell(
        of(f.rate, (x) => x.cpuMicrosPerEvent),
        1,
      ),
      `${mb(rss.median)} (${mb(rss.min)} – ${mb(rss.max)})`,
      perRun(
        f.kill.map((x) => x.lost),
        plan.killEvents,
      ),
      perRun(
        f.kill.map((x) => x.duplicates),
        plan.killEvents,
      ),
    ].join(" | ")} |`;
  };
  const atKill = (f: PeersResults["vigil"]) =>
    f.kill.map((x) => `${n(x.storedAtKill)} / ${n(x.publishedAtKill)} / ${n(x.unackedAtKill)}`).join("; ");
  const undrained = [...p.vigil.kill, ...p.telegraf.kill].filter((x) => !x.drained).length;
  return [
    "## Beside a real peer: Telegraf",
    "",
    `Measured on ${p.date.slice(0, 10)} at commit \`${p.commit}\` by \`pnpm bench --peers\` (not part of CI), ${plan.runs} run(s) of each peer, ` +
      `interleaved, on ${p.natsServer} and ${p.influxdb}: Vigil's writer (\`services/writer/dist/main.js\`, its ` +
      `defaults) and ${p.telegrafVersion} (\`${p.telegrafBuild}\`, built by \`scripts/build-servers.sh --peers\`) with ` +
      "`inputs.nats_consumer` on JetStream and `outputs.influxdb_v2`. Each figure is the median (min – max) over runs; " +
      `the machine's two cores were shared with other work (${pct(p.machineBusy)} of both busy over the whole part, the ` +
      "peers' own work included), so the figures are noisy.",
    "",
    `- *Rate*: ${n(plan.backlog)} events of \`bench/fixtures.ts\` published into a fresh \`EVENTS\` stream (on a ` +
      "fresh nats-server) before the peer starts; it drains them into a fresh bucket. Rate and CPU per event are " +
      "counted from the peer being ready (the writer's `/readyz`, Telegraf's log line that it subscribed) to the whole " +
      "backlog stored (InfluxDB counted every 250 ms), so start-up is left out; peak RSS is the process's VmHWM at the end.",
    `- *Lost after a kill*: the peer starts, ${n(plan.killEvents)} events are published, and it is killed with ` +
      "SIGKILL once a quarter of them are acknowledged, while it is behind the publisher (per run, stored / published / " +
      `delivered and not acknowledged at the kill: writer ${atKill(p.vigil)}; Telegraf ${atKill(p.telegraf)}). The ` +
      "publish completes and the peer is started again until the stream is empty (a work queue: every message " +
      "acknowledged). Lost is published minus distinct event ids stored; stored twice is points minus distinct ids. " +
      "Telegraf's `nats_consumer` (1.37.2's source) acknowledges a JetStream message only once its outputs have " +
      "written the metric, as the writer does; an event it wrote but had not acknowledged when killed is delivered " +
      "again and written as a second point, where the writer's point, keyed by stream sequence, overwrites itself." +
      (undrained > 0 ? ` **${undrained} restarted run(s) did not empty the stream within the timeout.**` : ""),
    `- *Tuned alike*: Telegraf gets the writer's defaults: \`metric_batch_size = ${tuning.batchSize}\`, ` +
      `\`flush_interval = "${tuning.flushIntervalMs}ms"\`, \`concurrent_writes = ${tuning.concurrentWrites}\`, ` +
      `\`max_undelivered_messages = ${tuning.maxInFlight}\` and a durable push consumer made beforehand with ` +
      `\`max_ack_pending\` ${tuning.maxInFlight} and \`ack_wait\` ${n(tuning.ackWaitMs / 1000)} s (the plugin's own would take ` +
      "the server's default of 1,000 in flight), `metric_buffer_limit` twice that so no metric is dropped, and " +
      '`content_encoding = "identity"` (the writer does not compress). Its `json` parser makes the writer\'s point: ' +
      "measurement `security_events`, tag `criticality`, string fields `eventMessage`, `timestamp`, `id`, `source`. " +
      "It has no stream sequence, so it writes no `seq` and its point time is when it parsed the event (the event's " +
      "millisecond would let events of one criticality overwrite each other).",
    "",
    "| Peer | Events/s stored | CPU µs/event | Peak RSS | Lost after kill -9 (per run) | Stored twice (per run) |",
    "| --- | --- | --- | --- | --- | --- |",
    row("Vigil writer", p.vigil),
    row(p.telegrafVersion, p.telegraf),
    "",
  ];
};
