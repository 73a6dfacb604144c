/**
 * `pnpm bench [--quick] [--only pipeline|latency|reader|invalid|gateway|live] [--peers] [--gateway-node-options=...]`:
 * measures the pipeline on this machine against ceilings and a baseline measured in the same run, the
 * gateway (bench/gateway.ts) and its live tail (bench/live.ts); `--peers` measures the writer beside
 * Telegraf (bench/peers.ts), alone or with the `--only` part, never by default. The full run writes BENCHMARKS.md and
 * bench/results.json; the quick smoke run (CI) writes to .vigil/bench/ and fails only when a figure
 * shows loss. `--only` measures one part and keeps the others' figures from the results file of the
 * same mode (`latency` is figure 2 of the pipeline alone, on an InfluxDB of its own; `reader` figure 3, on InfluxDBs of its own; `invalid` figure 5); `--render` rewrites BENCHMARKS.md from bench/results.json without measuring.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { type Influxd, startInfluxd, startNatsServer } from "@vigil/testing";
import { oneWritePerEventBaseline } from "./baseline.js";
import { influxIngestCeiling, jetStreamCeilings, natsTransportCeiling } from "./ceilings.js";
import { type GatewayPlan, gatewayFigures } from "./gateway.js";
import { type LivePlan, liveFigures } from "./live.js";
import { PEERS_PLANS, peersFigures } from "./peers.js";
import { drainBacklog, publishToQueryable, sustainedEndToEnd } from "./pipeline.js";
import { type ReaderSize, readerLatencyBySize } from "./reader-latency.js";
import { type BenchPlan, type Results, renderReport } from "./report.js";
import { benchCommit, shippedServers, versionOf } from "./servers.js";
import { repeat, summarise } from "./stats.js";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    render: { type: "boolean", default: false },
    only: { type: "string" },
    peers: { type: "boolean", default: false },
    /** NODE_OPTIONS of the gateway process, e.g. `--import ./bench/cpu-profile.mjs` for a CPU profile. */
    "gateway-node-options": { type: "string" },
  },
});
const PARTS = ["pipeline", "latency", "reader", "invalid", "gateway", "live"] as const;
type Part = (typeof PARTS)[number];
const only = flags.only;
if (only !== undefined && !PARTS.includes(only as Part)) {
  console.error(`[bench] --only takes ${PARTS.join(", ")}, not ${only}`);
  process.exit(2);
}
/** `--peers` without `--only` measures the peers alone, keeping every other figure as `--only` does. */
const peersAlone = flags.peers && only === undefined;
const measures = (part: Part) => !peersAlone && (only === undefined || only === part);

const quick = flags.quick;
const plan: BenchPlan = quick
  ? {
      runs: 1,
      influxPoints: 20_000,
      natsMessages: 50_000,
      jsMessages: 10_000,
      baselineEvents: 100,
      warmupSeconds: 1,
      sustainedSeconds: 2,
      latencySeconds: 2,
      latencyRate: 2_000,
      historyEvents: 20_000,
      readerSizes: [20_000],
      // A sliver on 1.x too, so that CI runs the path the full run takes.
      readerSizesV1: [2_000],
      sequentialRequests: 10,
      concurrentRequests: 100,
      overloadSeconds: 2,
      maxOverloadBacklog: 10_000,
      overloadRuns: 1,
      mixBacklog: 5_000,
      scalingWriters: [2],
      scalingSeconds: 2,
    }
  : {
      runs: 3,
      influxPoints: 1_000_000,
      natsMessages: 2_000_000,
      jsMessages: 300_000,
      baselineEvents: 2_000,
      warmupSeconds: 3,
      sustainedSeconds: 60,
      latencySeconds: 30,
      latencyRate: 10_000,
      historyEvents: 10_000_000,
      readerSizes: [1_000_000, 10_000_000, 30_000_000],
      readerSizesV1: [10_000_000],
      sequentialRequests: 200,
      concurrentRequests: 2_000,
      overloadSeconds: 60,
      maxOverloadBacklog: 3_000_000,
      // Prefilling and draining millions of events takes about 4 minutes a run on two cores.
      overloadRuns: 3,
      mixBacklog: 300_000,
      scalingWriters: [2, 4],
      scalingSeconds: 30,
    };

const gatewayPlan: GatewayPlan = quick
  ? {
      runs: 1,
      batchEvents: 1_000,
      batchSize: 100,
      batchConcurrency: 10,
      singleRate: 200,
      singleSeconds: 1,
      singleProducers: 2,
      singleVariants: false,
      hourSizes: [2_000],
      aggregateRequests: 10,
    }
  : {
      runs: 3,
      batchEvents: 200_000,
      batchSize: 100,
      batchConcurrency: 10,
      singleRate: 1_000,
      singleSeconds: 30,
      // 100 requests/s each: under the default GATEWAY_RATE_LIMIT_KEY of 10,000 a minute.
      singleProducers: 10,
      singleVariants: true,
      hourSizes: [10_000, 100_000, 1_000_000],
      aggregateRequests: 200,
    };

const livePlan: LivePlan = quick
  ? {
      runs: 1,
      clients: 100,
      clientProcesses: 1,
      rate: 200,
      seconds: 2,
      lightRate: 0,
      drainBoundSeconds: 30,
      resumeClients: 11,
      resumeLeadSeconds: 1,
      awaySeconds: 2,
      resumeTailSeconds: 1,
    }
  : {
      runs: 3,
      clients: 5_000,
      clientProcesses: 2,
      rate: 1_000,
      // Long enough to show a trend: one gateway on two cores delivers a fraction of what this asks.
      seconds: 20,
      // What one gateway keeps up with here (with the clients on the same two cores).
      lightRate: 25,
      drainBoundSeconds: 300,
      resumeClients: 110,
      resumeLeadSeconds: 5,
      awaySeconds: 30,
      resumeTailSeconds: 30,
    };

/**
 * Every part runs the servers users run (the versions compose pins). The pipeline's helpers start
 * nats-server from NATS_SERVER_BIN, so it is set for them and for the processes they start.
 */
const servers = shippedServers();
process.env.NATS_SERVER_BIN = servers.NATS_SERVER_BIN;

const began = performance.now();
const log = (text: string) => console.log(`[bench +${Math.round((performance.now() - began) / 1000)}s] ${text}`);

/** `--render`: rewrites BENCHMARKS.md from bench/results.json without measuring again. */
const rerender = () => {
  const results = JSON.parse(readFileSync("bench/results.json", "utf8")) as Results;
  writeFileSync("BENCHMARKS.md", renderReport(results).markdown);
  log("BENCHMARKS.md rendered again from bench/results.json");
};

/** What the pipeline's figures run on: `influxd`, with a fresh database for each figure run. */
const pipelineContext = (influxd: Influxd) => {
  let databases = 0;
  return {
    influxd,
    influxdBin: servers.INFLUXD2_BIN,
    nextDatabase: async () => {
      const name = `run_${++databases}`;
      await influxd.createDatabase(name);
      return name;
    },
  };
};

/** Figure 5: the same backlog drained all valid, then with 20% invalid, `plan.runs` times in turn. */
const invalidFigures = async (context: ReturnType<typeof pipelineContext>): Promise<PipelineResults["invalidMix"]> => {
  log("figure 5: 20% invalid messages");
  const clean = [];
  const mixed = [];
  for (let run = 0; run < plan.runs; run++) {
    clean.push(await drainBacklog(context, plan.mixBacklog, 0));
    mixed.push(await drainBacklog(context, plan.mixBacklog, 0.2));
  }
  return { clean, mixed };
};

/** When and at which commit a figure measured on its own was measured. */
const measuredNow = () => ({ date: new Date().toISOString(), commit: benchCommit() });

/**
 * Figure 2 on an InfluxDB of its own, before the pipeline's starts, apart from the millions of
 * events figure 1 stores there, which are not the load this figure sets (measured after figure 1 on
 * that InfluxDB at 586af3c, p99 was 571 ms; on its own at 6ca64ae, 230 ms).
 */
const latencyFigures = async (): Promise<PipelineResults["latency"]> => {
  const influxd = await startInfluxd("bench", servers.influxd);
  try {
    log(`figure 2: publish-to-queryable at ${plan.latencyRate}/s, on an InfluxDB of its own`);
    const context = pipelineContext(influxd);
    const latency = [];
    for (let run = 0; run < plan.runs; run++)
      latency.push(await publishToQueryable(context, plan.latencyRate, plan.latencySeconds, plan.warmupSeconds));
    return latency;
  } finally {
    await influxd.dispose();
  }
};

/** `--only latency`: figure 2 alone, the rest of the pipeline's figures kept. */
const latencyOnly = async (previous: PipelineResults): Promise<PipelineResults> => ({
  ...previous,
  latency: await latencyFigures(),
  measuredApart: { ...previous.measuredApart, latency: measuredNow() },
});

/** `--only invalid`: figure 5 on an InfluxDB of its own, the rest of the pipeline's figures kept. */
const invalidOnly = async (previous: PipelineResults): Promise<PipelineResults> => {
  const influxd = await startInfluxd("bench", servers.influxd);
  try {
    const invalidMix = await invalidFigures(pipelineContext(influxd));
    return { ...previous, invalidMix, measuredApart: { ...previous.measuredApart, invalid: measuredNow() } };
  } finally {
    await influxd.dispose();
  }
};

/** The pipeline's figures: everything but the gateway and its live tail. */
type PipelineResults = Omit<Results, "gateway" | "live" | "peers">;

const pipelineFigures = async (): Promise<PipelineResults> => {
  const startedAt = new Date();
  // First, while no other InfluxDB runs: see latencyFigures and readerFigures.
  const latency = await latencyFigures();
  const readerSizes = await readerFigures();
  const influxd = await startInfluxd("bench", servers.influxd);
  const context = pipelineContext(influxd);
  try {
    log(`${quick ? "quick" : "full"} run: ceilings`);
    const influxCeiling = await repeat(plan.runs, async () =>
      influxIngestCeiling(influxd.client("writer", await context.nextDatabase()), plan.influxPoints),
    );
    const nats = await startNatsServer();
    const natsCeiling = await repeat(plan.runs, () => natsTransportCeiling(nats.url, plan.natsMessages));
    const jsRuns = [];
    for (let run = 0; run < plan.runs; run++) jsRuns.push(await jetStreamCeilings(nats.url, plan.jsMessages));
    log("baseline: one write per event");
    const baseline = await repeat(plan.runs, async () =>
      oneWritePerEventBaseline(nats.url, influxd.client("writer", await context.nextDatabase()), plan.baselineEvents),
    );
    await nats.dispose();

    log(`figure 1: sustained end-to-end for ${plan.sustainedSeconds}s`);
    const sustained = [];
    for (let run = 0; run < plan.runs; run++)
      sustained.push(await sustainedEndToEnd(context, plan.sustainedSeconds, plan.warmupSeconds));

    const scaling = [];
    const scalingSeconds = plan.scalingSeconds ?? plan.sustainedSeconds;
    for (const writers of plan.scalingWriters ?? []) {
      log(`how cost grows: ${writers} writers for ${scalingSeconds}s`);
      const runs = [];
      for (let run = 0; run < plan.runs; run++)
        runs.push(await sustainedEndToEnd(context, scalingSeconds, plan.warmupSeconds, writers));
      scaling.push({ writers, runs });
    }

    const sustainedRate = summarise(sustained.map((r) => r.eventsPerSecond)).median;
    const overloadBacklog = Math.min(
      plan.maxOverloadBacklog,
      Math.max(10_000, Math.round(2 * sustainedRate * plan.overloadSeconds)),
    );
    log(
      `figure 4: writer under a backlog of ${overloadBacklog} events (2x the sustained rate for ${plan.overloadSeconds}s)`,
    );
    const overload = [];
    for (let run = 0; run < plan.overloadRuns; run++) overload.push(await drainBacklog(context, overloadBacklog, 0));

    const invalidMix = await invalidFigures(context);

    return {
      mode: quick ? "quick" : "full",
      machine: {
        cores: cpus().length,
        cpu: cpus()[0]?.model ?? "unknown",
        memoryBytes: totalmem(),
        node: process.version,
        natsServer: servers.natsServerVersion(),
        influxdb: servers.influxdbVersion(),
        commit: benchCommit(),
        date: startedAt.toISOString(),
      },
      plan,
      ceilings: {
        influxPointsPerSecond: influxCeiling,
        natsMessagesPerSecond: natsCeiling,
        jetStreamPublishPerSecond: summarise(jsRuns.map((r) => r.publish)),
        jetStreamConsumePerSecond: summarise(jsRuns.map((r) => r.consume)),
      },
      baselineEventsPerSecond: baseline,
      sustained,
      scaling,
      latency,
      readerSizes,
      overload,
      invalidMix,
    };
  } finally {
    await influxd.dispose();
  }
};

/**
 * Figure 3: the reader's latency at each of `plan.readerSizes` events on an InfluxDB 2.x of its own,
 * then at each of `plan.readerSizesV1` on an InfluxDB 1.x of its own. Like figure 2, it runs before
 * the pipeline's InfluxDB starts, apart from the millions of events figure 1 stores there (measured
 * after figure 1 on that InfluxDB at c85c1f3, the worst p99 over 10,000,000 events was 94.3 ms one
 * at a time and 113.8 ms with 100 in flight).
 */
const readerFigures = async (): Promise<ReaderSize[]> => {
  const work = {
    runs: plan.runs,
    sequentialRequests: plan.sequentialRequests,
    concurrentRequests: plan.concurrentRequests,
  };
  const influxd = await startInfluxd("bench", servers.influxd);
  let v2: ReaderSize[];
  try {
    v2 = await readerLatencyBySize(influxd, "bench", servers.influxdbVersion(), plan.readerSizes, work, log);
  } finally {
    await influxd.dispose();
  }
  const sizesV1 = plan.readerSizesV1;
  if (sizesV1.length === 0) return v2;
  const influxdV1 = await startInfluxd("bench_v1", { version: 1 });
  try {
    // Debian's build names no commit: "InfluxDB v1.6.7~rc0 (git: unknown unknown)".
    const version = versionOf(process.env.INFLUXD_BIN ?? "influxd", ["version"]).replace(/ \(git: [^)]*\)$/, "");
    return [...v2, ...(await readerLatencyBySize(influxdV1, "bench_v1", version, sizesV1, work, log))];
  } finally {
    await influxdV1.dispose();
  }
};

/** `--only reader`: figure 3 alone, the rest of the pipeline's figures kept. */
const readerOnly = async (previous: PipelineResults): Promise<PipelineResults> => {
  const readerSizes = await readerFigures();
  // The figures of results measured before the reader had sizes are replaced, not kept beside them.
  const { history: _history, reader: _reader, ...kept } = previous;
  return {
    ...kept,
    plan: { ...previous.plan, ...readerPlan() },
    readerSizes,
    measuredApart: { ...previous.measuredApart, reader: measuredNow() },
  };
};

/** What of the plan figure 3 follows, for `--only reader` to record beside the other figures' plan. */
const readerPlan = () => ({
  historyEvents: plan.historyEvents,
  readerSizes: plan.readerSizes,
  readerSizesV1: plan.readerSizesV1,
  sequentialRequests: plan.sequentialRequests,
  concurrentRequests: plan.concurrentRequests,
});

/**
 * Live-tail runs in which a client got a duplicate, an event out of order or outside its filter, or
 * (not closed by the gateway) missed one; or a resumed client did not get all it missed.
 */
const liveFailures = (r: Results): string[] => {
  if (r.live === undefined) return [];
  const runs = [...r.live.fanout, ...r.live.light, ...r.live.resume];
  const wrong = runs.filter((x) => x.delivery.wrong !== 0 || x.delivery.unexpected !== 0);
  const notReplayed = r.live.resume.filter((x) => x.replayed !== x.missedWhileAway.total);
  return [
    ...(wrong.length > 0 ? [`${wrong.length} live-tail run(s) delivered other events than each client's`] : []),
    ...(notReplayed.length > 0 ? [`${notReplayed.length} live-tail resume(s) did not replay all that was missed`] : []),
  ];
};

/** Runs that lost an event, refused one, or counted wrong; the smoke run fails on any. */
const failures = (r: Results): string[] => {
  const lost = [
    ...r.sustained,
    ...(r.scaling ?? []).flatMap((x) => x.runs),
    ...r.overload,
    ...r.invalidMix.clean,
    ...r.invalidMix.mixed,
  ].filter((x) => x.missing !== 0);
  const problems = lost.length > 0 ? [`${lost.length} pipeline run(s) did not store every event`] : [];
  problems.push(...liveFailures(r));
  const writerLost = (r.peers?.vigil.kill ?? []).filter((x) => x.lost !== 0);
  if (writerLost.length > 0) problems.push(`${writerLost.length} writer kill run(s) beside Telegraf lost events`);
  if (r.gateway === undefined) return problems;
  const batch = r.gateway.batch.filter((x) => x.failed !== 0 || x.missingFromStream !== 0);
  if (batch.length > 0) problems.push(`${batch.length} gateway batch run(s) refused, failed or lost events`);
  const single = [...r.gateway.single, ...r.gateway.singleOneKey, ...r.gateway.singleUncounted].filter(
    (x) => x.failed !== 0,
  );
  if (single.length > 0) problems.push(`${single.length} gateway open-loop run(s) had failed requests`);
  const wrong = r.gateway.hours.filter((hour) => hour.runs.some((x) => x.wrongAnswers !== 0));
  if (wrong.length > 0) problems.push(`aggregates over ${wrong.length} hour(s) counted wrong`);
  return problems;
};

/** The results file of this mode: written by every run, and where `--only` keeps the other part's figures from. */
const resultsFile = quick ? ".vigil/bench/results.json" : "bench/results.json";
/** The last results of this mode, for `--only`. */
const previousResults = (): Results => {
  if (!existsSync(resultsFile)) {
    throw new Error(
      `${only === undefined ? "--peers" : `--only ${only}`} keeps the other figures from ${resultsFile}, which does not exist: run the whole bench once`,
    );
  }
  const previous = JSON.parse(readFileSync(resultsFile, "utf8")) as Results;
  if (previous.mode !== (quick ? "quick" : "full")) throw new Error(`${resultsFile} holds a ${previous.mode} run`);
  return previous;
};

/** The last results of this mode, if there are any. */
const lastResults = (): Results | undefined => {
  try {
    return previousResults();
  } catch {
    return undefined;
  }
};

const pipelineOf = ({ gateway: _gateway, live: _live, peers: _peers, ...pipeline }: Results): PipelineResults =>
  pipeline;

const main = async () => {
  const previous = only === undefined && !peersAlone ? undefined : previousResults();
  // Never measured by default: a run without --peers keeps the last peer figures of its mode, if any.
  let peers = (previous ?? lastResults())?.peers;
  const pipeline = measures("pipeline")
    ? await pipelineFigures()
    : only === "reader"
      ? await readerOnly(pipelineOf(previous as Results))
      : only === "invalid"
        ? await invalidOnly(pipelineOf(previous as Results))
        : only === "latency"
          ? await latencyOnly(pipelineOf(previous as Results))
          : pipelineOf(previous as Results);
  let gateway = previous?.gateway;
  if (measures("gateway")) {
    log(`gateway: ${gatewayPlan.runs} run(s) on the servers users run`);
    gateway = await gatewayFigures(gatewayPlan, log, { gatewayNodeOptions: flags["gateway-node-options"] });
  }
  let live = previous?.live;
  if (measures("live")) {
    log(`live tail: ${livePlan.runs} run(s), ${livePlan.clients} clients at ${livePlan.rate} events/s`);
    live = await liveFigures(livePlan, log, { gatewayNodeOptions: flags["gateway-node-options"] });
  }
  if (flags.peers) {
    log("peers: the writer beside Telegraf on the same events, servers and machine");
    peers = await peersFigures(PEERS_PLANS[quick ? "quick" : "full"], log);
  }
  const results: Results = {
    ...pipeline,
    ...(gateway === undefined ? {} : { gateway }),
    ...(live === undefined ? {} : { live }),
    ...(peers === undefined ? {} : { peers }),
  };
  const report = renderReport(results);
  const dir = quick ? ".vigil/bench" : ".";
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/BENCHMARKS.md`, report.markdown);
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(report.summary);
  log(`report written to ${dir}/BENCHMARKS.md`);
  const problems = failures(results);
  for (const problem of problems) console.error(`[bench] LOSS: ${problem}`);
  if (problems.length > 0) process.exitCode = 1;
};

(flags.render ? Promise.resolve(rerender()) : main()).catch((err: unknown) => {
  console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
