/**
 * The live tail's figures (issue 12): many `GET /v1/live` WebSocket clients with mixed filters on
 * one gateway while events are published into JetStream at a fixed rate, and clients that leave
 * for a while and resume with `after=`. The gateway is its built `dist/main.js`; the publisher
 * (bench/live-publish.ts) and the clients (bench/live-clients.ts, one or more processes) are
 * processes of their own, so none shares an event loop with another.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, EventsStreamEnv, ensureEventsStream, ensureLiveStream, LiveStreamEnv } from "@vigil/runtime";
import { decodeEvent, LIVE_STREAM } from "@vigil/shared";
import {
  type NatsServer,
  type RunningGateway,
  serviceEnv,
  startGateway,
  startNatsServer,
  waitFor,
} from "@vigil/testing";
import { forkJobRunner, type JobRunner } from "./child-jobs.js";
import { createCredentials } from "./gateway.js";
import {
  type ClientTally,
  expectedTally,
  histogramFigures,
  mergeHistograms,
  type StreamedEvent,
  verifyTally,
} from "./live-check.js";
import type {
  AwaitResult,
  ClientSpec,
  ClientsJob,
  ClientsReport,
  LiveTarget,
  OpenResult,
  ResumeFigures,
} from "./live-clients.js";
import type { PublishJob, PublishResult } from "./live-publish.js";
import type { LatencyFigures } from "./open-loop.js";
import { busyShare, childPids, cpuMicros, machineTicks, peakRssBytes } from "./process-stats.js";
import { benchCommit, shippedServers } from "./servers.js";

/** How much work the live-tail figures do. */
export interface LivePlan {
  readonly runs: number;
  /** Figure 1: WebSocket clients on one gateway, their filters spread over -1..9. */
  readonly clients: number;
  /** Processes the clients are spread over. */
  readonly clientProcesses: number;
  /** Events a second published into JetStream, in total. */
  readonly rate: number;
  readonly seconds: number;
  /** The same clients again at a rate one gateway keeps up with on this machine; 0: not measured. */
  readonly lightRate: number;
  /** How long clients may take to receive the last event once the publisher finished. */
  readonly drainBoundSeconds: number;
  /** Figure 2: clients that leave and resume with `after=` (filters spread over -1..9 too). */
  readonly resumeClients: number;
  /** Seconds of events before they leave, away, and after they are back. */
  readonly resumeLeadSeconds: number;
  readonly awaySeconds: number;
  readonly resumeTailSeconds: number;
}

/** Where the CPU went during a figure, in cores (CPU seconds per second of the run). */
export interface LiveCpu {
  readonly gateway: number;
  readonly natsServer: number;
  readonly publisher: number;
  /** All client processes together. */
  readonly clients: number;
  /** This process, which starts the others and reads the gateway's log. */
  readonly bench: number;
  /** Share of all cores' time that was busy, whoever used it. */
  readonly machineBusy: number;
}

/** How each client's frames compared with what the stream says it should have been sent. */
export interface Delivery {
  /** Clients that received exactly the events above their filter, in order, once each. */
  readonly exact: number;
  /** Clients still open at the end that did not (missed, duplicated or reordered events). */
  readonly wrong: number;
  /** Expected events that did not arrive, over every client; and the most one client missed. */
  readonly missed: number;
  readonly mostMissedByOne: number;
  /** The same for clients still open at the end (those the gateway did not close). */
  readonly missedByOpen: number;
  /** Frames that should not have come: duplicates, out of order, or outside the filter. */
  readonly unexpected: number;
  /** Events that gap frames said will never come. */
  readonly gapMissed: number;
}

/** One run of figure 1: the fan-out at one rate. */
export interface FanoutRun {
  readonly rate: number;
  readonly seconds: number;
  readonly clients: number;
  readonly opened: number;
  readonly refused: Readonly<Record<string, number>>;
  /** How long opening them all took. */
  readonly openMs: number;
  readonly published: number;
  readonly publishFailed: number;
  readonly publishedPerSecond: number;
  /** From the probe's stamp (just before its publish) to JetStream's confirmation, at the publisher. */
  readonly confirm: LatencyFigures;
  /** From the probe's stamp to the frame's arrival at a client, over every frame every client received. */
  readonly latency: LatencyFigures;
  readonly framesReceived: number;
  /** Frames received a second, from the first probe's stamp to the last frame's arrival. */
  readonly framesPerSecond: number;
  /** From the last probe's stamp to the last frame's arrival at any client. */
  readonly deliveryTailMs: number;
  /** Open clients that had their last event within the drain bound, and those that had not. */
  readonly reachedInTime: number;
  readonly shortInTime: number;
  /** Connections the gateway or the network ended, by close code. */
  readonly closed: Readonly<Record<string, number>>;
  readonly delivery: Delivery;
  /** The gateway's peak resident set (VmHWM) from its start to the end of this run. */
  readonly gatewayPeakRssBytes: number;
  readonly cpu: LiveCpu;
  /** The longest the gateway's event loop was blocked during the run (its /metrics). */
  readonly gatewayLoopDelayMaxMs: number;
  /** The worst client process's event-loop delay: whether the clients kept up with their sockets. */
  readonly clientsLoopDelay: { readonly p99Ms: number; readonly maxMs: number };
  /** Lines the gateway logged at warn or error during the run (a replay that failed, for instance). */
  readonly gatewayWarnings: number;
  /** The machine's 1-minute load average before and after the run. */
  readonly loadBefore: number;
  readonly loadAfter: number;
}

/** One run of figure 2: leave, stay away, resume with `after=`. */
export interface ResumeRun {
  readonly clients: number;
  readonly published: number;
  /** How long the clients were away: from the last one closed to the first reconnection. */
  readonly awayMs: number;
  /** Events each client missed while away (above its filter): the median and the total. */
  readonly missedWhileAway: { readonly median: number; readonly total: number };
  /** Of those, received after resuming (should be all). */
  readonly replayed: number;
  readonly openMs: LatencyFigures;
  /** From reconnecting to the last event published before it (everything missed has arrived). */
  readonly backlogMs: LatencyFigures;
  /** From reconnecting to the first event frame that arrived within 100 ms of its publication. */
  readonly caughtUpMs: LatencyFigures;
  /** Clients that had their last event within the drain bound, and those that had not. */
  readonly reachedInTime: number;
  readonly shortInTime: number;
  /** From reconnecting until every client had its last event (or the drain bound). */
  readonly cpu: LiveCpu;
  readonly closed: Readonly<Record<string, number>>;
  readonly delivery: Delivery;
  readonly gatewayWarnings: number;
}

/** Everything the live-tail figures measured. */
export interface LiveResults {
  readonly plan: LivePlan;
  readonly measuredAt: string;
  readonly commit: string;
  readonly natsServer: string;
  /** The gateway's settings that matter here. */
  readonly gatewayEnv: Readonly<Record<string, string>>;
  /** `ulimit -n` (soft) the processes ran with. */
  readonly openFilesLimit: number;
  /** Figure 1 at `plan.rate`, one per run. */
  readonly fanout: readonly FanoutRun[];
  /** Figure 1 at `plan.lightRate`, one per run (none when it is 0). */
  readonly light: readonly FanoutRun[];
  readonly resume: readonly ResumeRun[];
}

/** A frame counts as live within this of its publication: the p99 target. */
export const LIVE_WITHIN_MS = 100;
/** Criticality filters the clients take in turn (`minCriticality`): every event, then fewer and fewer. */
const FILTERS: readonly number[] = [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const RATE_LIMIT_PER_MINUTE = 100_000_000;
/** Handshakes each client process has in flight while opening. */
const OPEN_CONCURRENCY = 50;
const CLIENTS = fileURLToPath(new URL("./live-clients.ts", import.meta.url));
const PUBLISHER = fileURLToPath(new URL("./live-publish.ts", import.meta.url));

/** The soft limit on open files this process (and so its children) runs with. */
const openFilesLimit = async (): Promise<number> => {
  const line = (await readFile("/proc/self/limits", "utf8")).split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
};

/** Spreads `count` clients over `processes`, filters in turn. */
const clientSpecs = (count: number, processes: number): ClientSpec[][] =>
  Array.from({ length: processes }, (_, p) =>
    Array.from({ length: count }, (_, id) => id)
      .filter((id) => id % processes === p)
      .map((id) => ({ id, minCriticality: FILTERS[id % FILTERS.length] as number })),
  );

/** The newest sequence of `LIVE`. */
const liveEnd = async (jsm: JetStreamManager) => (await jsm.streams.info(LIVE_STREAM)).state.last_seq;

/** The stamp in a probe's `eventMessage` (see `stampedMessage`). */
const stampOf = (message: string) => Number(/published=([0-9.]+)/.exec(message)?.[1] ?? Number.NaN);

/**
 * What `LIVE` holds after `from` once it holds `count` more events: the ground truth each client's
 * frames are compared with. Waits for the copies, which JetStream republishes after confirming.
 */
const readStreamed = async (nc: NatsConnection, from: number, count: number): Promise<StreamedEvent[]> => {
  const jsm = await jetstreamManager(nc);
  await waitFor(`LIVE to hold the ${count} events published`, async () => (await liveEnd(jsm)) >= from + count);
  const consumer = await jetstream(nc).consumers.get(LIVE_STREAM, { opt_start_seq: from + 1 });
  const streamed: StreamedEvent[] = [];
  const messages = await consumer.consume();
  for await (const msg of messages) {
    const decoded = decodeEvent(msg.data);
    if (decoded.ok) {
      const { criticality, eventMessage } = decoded.event;
      streamed.push({ cursor: msg.seq, criticality, publishedAt: stampOf(eventMessage) });
    }
    if (msg.seq >= from + count) break;
  }
  await consumer.delete().catch(() => undefined);
  return streamed;
};

/** The cursor of the last event above each filter: where each client's `await` ends. */
const lastCursors = (streamed: readonly StreamedEvent[]): Record<string, number> =>
  Object.fromEntries(FILTERS.map((m) => [String(m), streamed.findLast((event) => event.criticality > m)?.cursor ?? 0]));

/** Compares every client's tally with what it should have been sent; `closedIds` ended early. */
const verifyDelivery = (
  tallies: readonly (ClientTally & { readonly id: number })[],
  expectedFor: (tally: ClientTally) => ClientTally,
  closedIds: ReadonlySet<number>,
): Delivery => {
  let exact = 0;
  let wrong = 0;
  let missed = 0;
  let mostMissedByOne = 0;
  let missedByOpen = 0;
  let unexpected = 0;
  let gapMissed = 0;
  for (const tally of tallies) {
    const verdict = verifyTally(tally, expectedFor(tally));
    if (verdict.exact) exact++;
    else if (!closedIds.has(tally.id)) wrong++;
    missed += verdict.missed;
    mostMissedByOne = Math.max(mostMissedByOne, verdict.missed);
    if (!closedIds.has(tally.id)) missedByOpen += verdict.missed;
    unexpected += verdict.unexpected;
    gapMissed += tally.gapMissed;
  }
  return { exact, wrong, missed, mostMissedByOne, missedByOpen, unexpected, gapMissed };
};

/** Clients whose connection ended before their last event: the gateway (or the network) closed them. */
const closedEarly = (
  tallies: readonly (ClientTally & { readonly id: number })[],
  expectedFor: (tally: ClientTally) => ClientTally,
): Set<number> => new Set(tallies.filter((t) => t.lastCursor < expectedFor(t).lastCursor).map((t) => t.id));

const addCounts = (parts: readonly Readonly<Record<string, number>>[]): Record<string, number> => {
  const sum: Record<string, number> = {};
  for (const part of parts) for (const [key, n] of Object.entries(part)) sum[key] = (sum[key] ?? 0) + n;
  return sum;
};

const figuresOf = (values: readonly number[]): LatencyFigures => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return {
    count: sorted.length,
    p50Ms: at(50) ?? Number.NaN,
    p99Ms: at(99) ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
};

/** The servers, the publisher and the credentials shared by every run. */
interface LiveBench {
  readonly nats: NatsServer;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly natsPid: number | undefined;
  readonly publisher: JobRunner<PublishJob>;
  readonly env: Record<string, string>;
  readonly viewerKey: string;
}

/** One run's gateway and the clients processes of one figure. */
interface RunProcesses {
  readonly gateway: RunningGateway;
  readonly clients: readonly JobRunner<ClientsJob>[];
  readonly target: LiveTarget;
}

/** `count` fresh clients processes, stopped by `stack`. */
const forkClients = (count: number, stack: (() => Promise<unknown>)[]) =>
  Array.from({ length: count }, () => {
    const runner = forkJobRunner<ClientsJob>(CLIENTS, "live-tail clients");
    stack.push(() => runner.stop());
    return runner;
  });

const cpuReadings = (bench: LiveBench, run: RunProcesses) => {
  const own = process.cpuUsage();
  return {
    gateway: cpuMicros(run.gateway.service.pid),
    natsServer: bench.natsPid === undefined ? Number.NaN : cpuMicros(bench.natsPid),
    publisher: cpuMicros(bench.publisher.pid),
    clients: run.clients.reduce((sum, runner) => sum + cpuMicros(runner.pid), 0),
    bench: own.user + own.system,
    machine: machineTicks(),
    at: performance.now(),
  };
};

const cpuBetween = (before: ReturnType<typeof cpuReadings>, after: ReturnType<typeof cpuReadings>): LiveCpu => {
  const micros = (after.at - before.at) * 1_000;
  const cores = (key: "gateway" | "natsServer" | "publisher" | "clients" | "bench") =>
    (after[key] - before[key]) / micros;
  return {
    gateway: cores("gateway"),
    natsServer: cores("natsServer"),
    publisher: cores("publisher"),
    clients: cores("clients"),
    bench: cores("bench"),
    machineBusy: busyShare(before.machine, after.machine),
  };
};

/** Asks every clients process for `job`. */
const onEveryProcess = <T>(run: RunProcesses, job: (index: number) => ClientsJob, timeoutMs: number) =>
  Promise.all(run.clients.map((runner, index) => runner.run<T>(job(index), timeoutMs)));

/** Lines the gateway has logged at warn or error so far. */
const warningsOf = (gateway: RunningGateway) =>
  gateway.service.process.logs().filter((line) => line.level === "warn" || line.level === "error").length;

/**
 * Figure 1, one run at `rate`: `plan.clients` clients in fresh processes on `gateway`, all open
 * before the first event, then `rate` events a second for `plan.seconds`; every client should get
 * exactly the events above its filter.
 */
const fanoutRun = async (
  bench: LiveBench,
  plan: LivePlan,
  gateway: RunningGateway,
  rate: number,
): Promise<FanoutRun> => {
  const stack: (() => Promise<unknown>)[] = [];
  try {
    const run: RunProcesses = {
      gateway,
      clients: forkClients(plan.clientProcesses, stack),
      target: { url: `ws://127.0.0.1:${gateway.port}/v1/live`, apiKey: bench.viewerKey },
    };
    const loadBefore = loadavg()[0] as number;
    const specs = clientSpecs(plan.clients, plan.clientProcesses);
    const opened = await onEveryProcess<OpenResult>(
      run,
      (p) => ({ kind: "open", target: run.target, clients: specs[p] ?? [], concurrency: OPEN_CONCURRENCY }),
      600_000,
    );
    const warningsBefore = warningsOf(gateway);
    // Scraping resets the gateway's event-loop delay figures, so the next scrape covers the run alone.
    await gateway.service.metric("nodejs_eventloop_lag_max_seconds");
    const from = await liveEnd(bench.jsm);
    const before = cpuReadings(bench, run);
    const published = await bench.publisher.run<PublishResult>(
      { kind: "publish", natsUrl: bench.nats.url, rate, seconds: plan.seconds },
      plan.seconds * 1_000 + 120_000,
    );
    const streamed = await readStreamed(bench.nc, from, published.published - published.failed);
    const drainMs = plan.drainBoundSeconds * 1_000;
    const waited = await onEveryProcess<AwaitResult>(
      run,
      () => ({ kind: "await", lastCursor: lastCursors(streamed), timeoutMs: drainMs }),
      drainMs + 60_000,
    );
    const after = cpuReadings(bench, run);
    const reports = await onEveryProcess<ClientsReport>(run, () => ({ kind: "report" }), 120_000);
    // After the clients' reports: a gateway still behind answers its ops port late.
    const loopMax = await gateway.service.metric("nodejs_eventloop_lag_max_seconds");
    const tallies = reports.flatMap((r) => r.tallies);
    const expected = new Map(FILTERS.map((m) => [m, expectedTally(streamed, m)]));
    const expectedFor = (t: ClientTally) => expected.get(t.minCriticality) as ClientTally;
    const latency = mergeHistograms(reports.map((r) => r.latency));
    const lastEventAt = Math.max(...reports.map((r) => r.lastEventAt));
    return {
      rate,
      seconds: plan.seconds,
      clients: plan.clients,
      opened: opened.reduce((sum, r) => sum + r.opened, 0),
      refused: addCounts(opened.map((r) => r.refused)),
      openMs: Math.max(...opened.map((r) => r.elapsedMs)),
      published: published.published,
      publishFailed: published.failed,
      publishedPerSecond: published.publishedPerSecond,
      confirm: published.confirm,
      latency: histogramFigures(latency),
      framesReceived: latency.count,
      framesPerSecond: latency.count / ((lastEventAt - published.firstStamp) / 1_000),
      deliveryTailMs: lastEventAt - published.lastStamp,
      reachedInTime: waited.reduce((sum, r) => sum + r.reached, 0),
      shortInTime: waited.reduce((sum, r) => sum + r.short, 0),
      closed: addCounts(reports.map((r) => r.closed)),
      delivery: verifyDelivery(tallies, expectedFor, closedEarly(tallies, expectedFor)),
      gatewayPeakRssBytes: peakRssBytes(gateway.service.pid),
      cpu: cpuBetween(before, after),
      gatewayLoopDelayMaxMs: loopMax * 1_000,
      clientsLoopDelay: {
        p99Ms: Math.max(...reports.map((r) => r.loopDelay.p99Ms)),
        maxMs: Math.max(...reports.map((r) => r.loopDelay.maxMs)),
      },
      gatewayWarnings: warningsOf(gateway) - warningsBefore,
      loadBefore,
      loadAfter: loadavg()[0] as number,
    };
  } finally {
    for (const dispose of stack.reverse()) await dispose().catch(() => undefined);
  }
};

/**
 * Figure 2, one run: `plan.resumeClients` clients (nothing else connected) leave while `plan.rate`
 * events a second flow, stay away `plan.awaySeconds`, and come back with `after=<last cursor>`.
 */
const resumeRun = async (bench: LiveBench, plan: LivePlan, gateway: RunningGateway): Promise<ResumeRun> => {
  const stack: (() => Promise<unknown>)[] = [];
  try {
    const [clients] = forkClients(1, stack);
    if (clients === undefined) throw new Error("no clients process");
    const target = { url: `ws://127.0.0.1:${gateway.port}/v1/live`, apiKey: bench.viewerKey };
    const specs = clientSpecs(plan.resumeClients, 1)[0] ?? [];
    const ids = specs.map((spec) => spec.id);
    await clients.run<OpenResult>({ kind: "open", target, clients: specs, concurrency: OPEN_CONCURRENCY }, 600_000);
    const warningsBefore = warningsOf(gateway);
    const from = await liveEnd(bench.jsm);
    const seconds = plan.resumeLeadSeconds + plan.awaySeconds + plan.resumeTailSeconds;
    const publishing = bench.publisher.run<PublishResult>(
      { kind: "publish", natsUrl: bench.nats.url, rate: plan.rate, seconds },
      seconds * 1_000 + 120_000,
    );
    // These waits are the measurement: events flow while the clients are connected, then away.
    await wait(plan.resumeLeadSeconds * 1_000);
    await clients.run({ kind: "leave", ids }, 60_000);
    const leftAt = performance.now();
    await wait(plan.awaySeconds * 1_000);
    const awayMs = performance.now() - leftAt;
    const cpuRun: RunProcesses = { gateway, clients: [clients], target };
    const before = cpuReadings(bench, cpuRun);
    await clients.run<OpenResult>({ kind: "resume", target, ids, liveWithinMs: LIVE_WITHIN_MS }, 600_000);
    const published = await publishing;
    const streamed = await readStreamed(bench.nc, from, published.published - published.failed);
    const drainMs = plan.drainBoundSeconds * 1_000;
    const waited = await clients.run<AwaitResult>(
      { kind: "await", lastCursor: lastCursors(streamed), timeoutMs: drainMs },
      drainMs + 60_000,
    );
    const after = cpuReadings(bench, cpuRun);
    const report = await clients.run<ClientsReport>({ kind: "report" }, 120_000);
    const expected = new Map(FILTERS.map((m) => [m, expectedTally(streamed, m)]));
    const expectedFor = (t: ClientTally) => expected.get(t.minCriticality) as ClientTally;
    // What each missed: its events after its last cursor that were published before it came back.
    const missedWhileAway = report.resumes.map(
      (r: ResumeFigures) =>
        streamed.filter((e) => e.cursor > r.after && e.criticality > r.minCriticality && e.publishedAt < r.startedAt)
          .length,
    );
    return {
      clients: ids.length,
      published: published.published,
      awayMs,
      missedWhileAway: {
        median: figuresOf(missedWhileAway).p50Ms,
        total: missedWhileAway.reduce((sum, n) => sum + n, 0),
      },
      replayed: report.resumes.reduce((sum, r) => sum + r.replayed, 0),
      openMs: figuresOf(report.resumes.map((r) => r.openMs)),
      backlogMs: figuresOf(report.resumes.map((r) => r.backlogMs)),
      caughtUpMs: figuresOf(report.resumes.map((r) => r.caughtUpMs)),
      reachedInTime: waited.reached,
      shortInTime: waited.short,
      cpu: cpuBetween(before, after),
      closed: report.closed,
      delivery: verifyDelivery(report.tallies, expectedFor, closedEarly(report.tallies, expectedFor)),
      gatewayWarnings: warningsOf(gateway) - warningsBefore,
    };
  } finally {
    for (const dispose of stack.reverse()) await dispose().catch(() => undefined);
  }
};

const startLiveBench = async (plan: LivePlan, dir: string, stack: (() => Promise<unknown>)[]): Promise<LiveBench> => {
  const bins = shippedServers();
  const publisher = forkJobRunner<PublishJob>(PUBLISHER, "live-tail publisher");
  stack.push(() => publisher.stop());
  const nats = await startNatsServer({ bin: bins.NATS_SERVER_BIN });
  stack.push(() => nats.dispose());
  const nc = await connect({ servers: nats.url });
  stack.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  // As the set-up and the writer make them: LIVE first, so it keeps the first event EVENTS republishes.
  const silent = createLogger("bench", "silent");
  await ensureLiveStream(jsm, LiveStreamEnv.parse({}), silent);
  await ensureEventsStream(jsm, EventsStreamEnv.parse({}), silent);
  const credentials = await createCredentials(dir, 0);
  const env = serviceEnv(nats.url, undefined, {
    GATEWAY_SIGNING_KEY_FILE: credentials.signingKeyFile,
    GATEWAY_CREDENTIALS_FILE: credentials.credentialsFile,
    GATEWAY_LIVE_MAX_CLIENTS: String(Math.max(1_000, plan.clients, plan.resumeClients)),
    GATEWAY_RATE_LIMIT_KEY: String(RATE_LIMIT_PER_MINUTE),
    GATEWAY_RATE_LIMIT_USER: String(RATE_LIMIT_PER_MINUTE),
  });
  return {
    nats,
    nc,
    jsm,
    natsPid: childPids(bins.NATS_SERVER_BIN)[0],
    publisher,
    env,
    viewerKey: credentials.viewerKey,
  };
};

/** Settings of the live-tail figures beyond their plan. */
export interface LiveBenchOptions {
  /** `NODE_OPTIONS` of the gateway, e.g. `--import ./bench/cpu-profile.mjs` for a CPU profile. */
  readonly gatewayNodeOptions?: string | undefined;
}

/** Runs both live-tail figures `plan.runs` times, each run on a fresh gateway. */
export const liveFigures = async (
  plan: LivePlan,
  log: (text: string) => void,
  options: LiveBenchOptions = {},
): Promise<LiveResults> => {
  const measuredAt = new Date().toISOString();
  const limit = await openFilesLimit();
  // The gateway holds one descriptor per client, a clients process one per client it holds.
  const needed = plan.clients + 1_000;
  if (limit < needed)
    throw new Error(
      `the live-tail figures need ulimit -n of at least ${needed} (it is ${limit}): raise it and run again`,
    );
  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-live-"));
  const stack: (() => Promise<unknown>)[] = [];
  try {
    const bench = await startLiveBench(plan, dir, stack);
    const fanout: FanoutRun[] = [];
    const light: FanoutRun[] = [];
    const resume: ResumeRun[] = [];
    for (let n = 1; n <= plan.runs; n++) {
      const gateway = await startGateway({
        ...bench.env,
        ...(options.gatewayNodeOptions === undefined ? {} : { NODE_OPTIONS: options.gatewayNodeOptions }),
      });
      try {
        const clients = `${plan.clients} clients in ${plan.clientProcesses} process(es)`;
        if (plan.lightRate > 0) {
          log(`live run ${n}/${plan.runs}: ${clients}, ${plan.lightRate} events/s for ${plan.seconds}s`);
          light.push(await fanoutRun(bench, plan, gateway, plan.lightRate));
        }
        log(`live run ${n}/${plan.runs}: ${clients}, ${plan.rate} events/s for ${plan.seconds}s`);
        fanout.push(await fanoutRun(bench, plan, gateway, plan.rate));
        log(
          `live run ${n}/${plan.runs}: ${plan.resumeClients} clients away ${plan.awaySeconds}s at ${plan.rate} events/s, then after=`,
        );
        resume.push(await resumeRun(bench, plan, gateway));
      } finally {
        await gateway.service.process.stop("SIGTERM", 30_000);
      }
    }
    const bins = shippedServers();
    return {
      plan,
      measuredAt,
      commit: benchCommit(),
      natsServer: bins.natsServerVersion(),
      gatewayEnv: {
        GATEWAY_LIVE_MAX_CLIENTS: bench.env.GATEWAY_LIVE_MAX_CLIENTS as string,
        GATEWAY_LIVE_MAX_BUFFERED: "256KiB (default)",
        GATEWAY_RATE_LIMIT_KEY: String(RATE_LIMIT_PER_MINUTE),
      },
      openFilesLimit: limit,
      fanout,
      light,
      resume,
    };
  } finally {
    for (const dispose of stack.reverse()) await dispose().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
};
