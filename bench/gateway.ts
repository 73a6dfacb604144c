/**
 * The gateway's speed figures (issue 11, "Speed"), on the servers users run (nats-server and
 * InfluxDB 2.x at the versions compose pins, built by scripts/build-servers.sh): the gateway is its
 * built `dist/main.js` in a process of its own, and the load comes from another
 * (`bench/gateway-load.ts`), so the three never share an event loop.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, EventsStreamEnv, ensureEventsStream } from "@vigil/runtime";
import { EVENTS_STREAM } from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  runToExit,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
  WaitAbortedError,
  waitFor,
} from "@vigil/testing";
import { forkJobRunner, type JobRunner } from "./child-jobs.js";
import type { AggregatesResult, LoadJob, LoadResult, OpenLoopResult, RateResult } from "./gateway-load.js";
import { busyShare, childPids, cpuMicros, machineTicks } from "./process-stats.js";
import { loadHistory } from "./reader-latency.js";
import { benchCommit, shippedServers } from "./servers.js";

/** How much work the gateway figures do. */
export interface GatewayPlan {
  readonly runs: number;
  /** Events per run of the batch figure, through the gateway and straight to JetStream each. */
  readonly batchEvents: number;
  readonly batchSize: number;
  /** Batch requests in flight; the direct publisher keeps as many events in flight (`× batchSize`). */
  readonly batchConcurrency: number;
  readonly singleRate: number;
  readonly singleSeconds: number;
  /** API keys the single-event load is spread over, as from that many producers. */
  readonly singleProducers: number;
  /** Figure 2 also from one key, and on a gateway with rate limits off: what counting them costs. */
  readonly singleVariants: boolean;
  /** Events in the hour that `GET /v1/aggregates?minutes=60` counts, one history per size. */
  readonly hourSizes: readonly number[];
  readonly aggregateRequests: number;
}

/**
 * Where the CPU went during one job, in microseconds per event (or per request), warm-up included:
 * by process, from /proc, and the whole machine's busy share (other users' work included).
 */
export interface CpuUse {
  readonly gateway: number;
  readonly natsServer: number;
  /** The load generator process. */
  readonly generator: number;
  /** This process, which starts the others and reads their logs. */
  readonly bench: number;
  /** Share of all cores' time that was busy, whoever used it. */
  readonly machineBusy: number;
}

/** One run of figure 1: the same events through the gateway's batch route and straight to JetStream. */
export interface BatchRun {
  readonly directPerSecond: number;
  readonly gatewayPerSecond: number;
  readonly ratio: number;
  /** CPU per event of each half; `gateway` is 0 for the direct half. */
  readonly cpu: { readonly direct: CpuUse; readonly gateway: CpuUse };
  /** Events refused or unconfirmed, and events missing from the stream afterwards (should be 0). */
  readonly failed: number;
  readonly missingFromStream: number;
}

/** One run of figure 2: single events at a fixed arrival rate. */
export interface SingleRun extends OpenLoopResult {
  /** CPU per request. */
  readonly cpu: CpuUse;
}

/** Figure 3 for one size of hour. */
export interface HourAggregates {
  readonly events: number;
  readonly loadPointsPerSecond: number;
  readonly runs: readonly AggregatesResult[];
}

/** Everything the gateway figures measured. */
export interface GatewayResults {
  readonly plan: GatewayPlan;
  readonly measuredAt: string;
  readonly commit: string;
  readonly servers: { readonly natsServer: string; readonly influxdb: string };
  /** Rate limits the gateway ran with, per minute: high enough never to refuse a request. */
  readonly rateLimitPerMinute: number;
  readonly batch: readonly BatchRun[];
  /** Figure 2: the load spread over `plan.singleProducers` API keys, as from that many producers. */
  readonly single: readonly SingleRun[];
  /** Figure 2 from one API key: every request waits for the one key's rate count (they are queued per key). */
  readonly singleOneKey: readonly SingleRun[];
  /** Figure 2 on a gateway with rate limits off: what counting them costs each request. */
  readonly singleUncounted: readonly SingleRun[];
  readonly hours: readonly HourAggregates[];
}

/** Requests a minute per API key and per user: counted as usual (two KV round trips), never reached. */
const RATE_LIMIT_PER_MINUTE = 100_000_000;
/**
 * The history fills 50 minutes ending a minute before it is loaded: the last hour (which the reader
 * ends at the current whole second) then holds all of it from the load until 9 minutes after.
 */
const HISTORY_SPAN_MS = 50 * 60_000;
const HISTORY_END_BEFORE_LOAD_MS = 60_000;
const CREDENTIALS_COMMAND = fileURLToPath(new URL("../services/gateway/dist/credentials/main.js", import.meta.url));
const LOAD_GENERATOR = fileURLToPath(new URL("./gateway-load.ts", import.meta.url));

/** The load generator process, asked for one job at a time. */
type LoadGenerator = JobRunner<LoadJob>;

const startLoadGenerator = (): LoadGenerator => forkJobRunner<LoadJob>(LOAD_GENERATOR, "load generator");

/** The port the gateway logged it bound (`GATEWAY_PORT=0`). */
const publicPort = async (gateway: RunningService): Promise<number> => {
  let port = 0;
  await waitFor("the gateway to report its public port", () => {
    if (gateway.process.child.exitCode !== null)
      throw new WaitAbortedError(`the gateway exited: ${gateway.process.output()}`);
    const line = gateway.process.logs().find((entry) => entry.msg === "serving the HTTP API");
    port = typeof line?.port === "number" ? line.port : 0;
    return port !== 0;
  });
  return port;
};

/**
 * Makes the bench's signing key and, through the gateway's own `credentials add-key` command,
 * `producers` producer keys and a viewer key in a fresh credentials file.
 */
export const createCredentials = async (dir: string, producers: number) => {
  const signingKeyFile = join(dir, "signing-key.pem");
  const credentialsFile = join(dir, "credentials");
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  await writeFile(signingKeyFile, signingKey, { mode: 0o600 });
  await writeFile(credentialsFile, "# pnpm bench: the gateway figures\n", { mode: 0o600 });
  const addKey = async (name: string, role: "producer" | "viewer") => {
    const env = { PATH: process.env.PATH ?? "", GATEWAY_CREDENTIALS_FILE: credentialsFile };
    const result = await runToExit(process.execPath, [CREDENTIALS_COMMAND, "add-key", name, role], env);
    if (result.code !== 0) throw new Error(`credentials add-key ${name} ${role} failed: ${result.stderr}`);
    return result.stdout.trim();
  };
  const producerKeys: string[] = [];
  for (let i = 1; i <= producers; i++) producerKeys.push(await addKey(`bench-producer-${i}`, "producer"));
  return {
    signingKeyFile,
    credentialsFile,
    producerKeys,
    viewerKey: await addKey("bench-viewer", "viewer"),
  };
};

/** A gateway process and where it listens. */
interface GatewayProcess {
  readonly service: RunningService;
  readonly url: string;
}

/** The servers, the gateways and the load generator of one gateway benchmark. */
interface Bench {
  readonly nats: NatsServer;
  readonly influxd: Influxd;
  readonly nc: NatsConnection;
  /** The gateway as users run it: rate limits counted (never reached), requests audited and logged. */
  readonly gateway: GatewayProcess;
  /** The same with rate limits off (0), so that no request counts in the key-value bucket: what counting costs. */
  readonly uncounted: GatewayProcess | undefined;
  readonly keys: { readonly producers: readonly string[]; readonly viewer: string };
  readonly load: LoadGenerator;
  /** nats-server's process, when this bench started it (not with `NATS_URL`). */
  readonly natsPid: number | undefined;
}

/** Events the stream has taken so far (it denies purges, so runs count from the sequence before them). */
const streamedEvents = async (nc: NatsConnection) =>
  (await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.last_seq;

const cpuReadings = (bench: Bench, gateway: GatewayProcess) => {
  const own = process.cpuUsage();
  return {
    gateway: cpuMicros(gateway.service.pid),
    natsServer: bench.natsPid === undefined ? Number.NaN : cpuMicros(bench.natsPid),
    generator: cpuMicros(bench.load.pid),
    bench: own.user + own.system,
    machine: machineTicks(),
  };
};

/**
 * Runs `job` in the generator; `cpu(units)` then says what each process spent on it per unit
 * (event or request, warm-up included, as the CPU readings cannot leave it out).
 */
const measured = async <T extends LoadResult>(bench: Bench, job: LoadJob, gateway = bench.gateway) => {
  const before = cpuReadings(bench, gateway);
  const result = await bench.load.run<T>(job, 600_000);
  const after = cpuReadings(bench, gateway);
  const cpu = (units: number): CpuUse => ({
    gateway: (after.gateway - before.gateway) / units,
    natsServer: (after.natsServer - before.natsServer) / units,
    generator: (after.generator - before.generator) / units,
    bench: (after.bench - before.bench) / units,
    machineBusy: busyShare(before.machine, after.machine),
  });
  return { result, cpu };
};

/** Figure 1, one run: the gateway's batch route against the direct confirmed publish of the same events. */
const batchRun = async (bench: Bench, plan: GatewayPlan): Promise<BatchRun> => {
  const warmupEvents = plan.batchSize * plan.batchConcurrency * 2;
  const before = await streamedEvents(bench.nc);
  const direct = await measured<RateResult>(bench, {
    kind: "direct",
    natsUrl: bench.nats.url,
    events: plan.batchEvents,
    warmupEvents,
    inFlight: plan.batchSize * plan.batchConcurrency,
  });
  const between = await streamedEvents(bench.nc);
  const gateway = await measured<RateResult>(bench, {
    kind: "batch",
    gateway: { url: bench.gateway.url, apiKeys: bench.keys.producers.slice(0, 1) },
    events: plan.batchEvents,
    warmupEvents,
    batchSize: plan.batchSize,
    concurrency: plan.batchConcurrency,
  });
  const after = await streamedEvents(bench.nc);
  return {
    directPerSecond: direct.result.eventsPerSecond,
    gatewayPerSecond: gateway.result.eventsPerSecond,
    ratio: gateway.result.eventsPerSecond / direct.result.eventsPerSecond,
    cpu: {
      direct: direct.cpu(warmupEvents + direct.result.events),
      gateway: gateway.cpu(warmupEvents + gateway.result.events),
    },
    failed: direct.result.failed + gateway.result.failed,
    missingFromStream:
      warmupEvents +
      direct.result.events -
      (between - before) +
      (warmupEvents + gateway.result.events - (after - between)),
  };
};

/** Figure 2, one run: `POST /v1/events` to `gateway` on a fixed arrival schedule, from `producers` API keys. */
const singleRun = async (
  bench: Bench,
  plan: GatewayPlan,
  gateway: GatewayProcess,
  producers: number,
): Promise<SingleRun> => {
  const warmupSeconds = Math.min(2, plan.singleSeconds / 2);
  const job: LoadJob = {
    kind: "single",
    gateway: { url: gateway.url, apiKeys: bench.keys.producers.slice(0, producers) },
    rate: plan.singleRate,
    seconds: plan.singleSeconds,
    warmupSeconds,
  };
  const single = await measured<OpenLoopResult>(bench, job, gateway);
  return { ...single.result, cpu: single.cpu(plan.singleRate * (plan.singleSeconds + warmupSeconds)) };
};

/** Figure 3 for one size: an hour of `events` loaded straight into InfluxDB, then asked about `runs` times. */
const hourAggregates = async (bench: Bench, plan: GatewayPlan, events: number): Promise<HourAggregates> => {
  const bucket = `hour_${events}`;
  await bench.influxd.createDatabase(bucket);
  const loadPointsPerSecond = await loadHistory(bench.influxd.client("writer", bucket), events, {
    spanMs: HISTORY_SPAN_MS,
    end: Date.now() - HISTORY_END_BEFORE_LOAD_MS,
  });
  const reader = await startService("reader", serviceEnv(bench.nats.url, bench.influxd.config("reader", bucket), {}));
  try {
    const runs: AggregatesResult[] = [];
    for (let run = 0; run < plan.runs; run++) {
      runs.push(
        await bench.load.run<AggregatesResult>(
          {
            kind: "aggregates",
            gateway: { url: bench.gateway.url, apiKeys: [bench.keys.viewer] },
            natsUrl: bench.nats.url,
            influx: bench.influxd.config("reader", bucket),
            minutes: 60,
            requests: plan.aggregateRequests,
            warmupRequests: 3,
            expectedTotal: events,
          },
          600_000,
        ),
      );
    }
    return { events, loadPointsPerSecond, runs };
  } finally {
    await reader.process.stop("SIGTERM", 30_000);
  }
};

/** Settings of a gateway benchmark beyond its plan. */
export interface GatewayBenchOptions {
  /** `NODE_OPTIONS` of the gateway that counts rate limits, e.g. `--import ./bench/cpu-profile.mjs` for a CPU profile. */
  readonly gatewayNodeOptions?: string | undefined;
}

const startBench = async (
  plan: GatewayPlan,
  dir: string,
  stack: (() => Promise<unknown>)[],
  options: GatewayBenchOptions,
): Promise<Bench> => {
  const bins = shippedServers();
  // What does not depend on each other starts together: the quick run is a smoke test within a minute.
  const load = startLoadGenerator();
  stack.push(() => load.stop());
  const influxdStarted = startInfluxd("gateway", bins.influxd).then((influxd) => {
    stack.push(() => influxd.dispose());
    return influxd;
  });
  const nats = await startNatsServer({ bin: bins.NATS_SERVER_BIN });
  stack.push(() => nats.dispose());
  const nc = await connect({ servers: nats.url });
  stack.push(() => nc.close());
  // The events stream as the daemon and writer create it; the gateway only publishes to it.
  await ensureEventsStream(await jetstreamManager(nc), EventsStreamEnv.parse({}), createLogger("bench", "silent"));
  const credentials = await createCredentials(dir, plan.singleProducers);
  const startGateway = async (ratePerMinute: number, nodeOptions: string | undefined): Promise<GatewayProcess> => {
    const service = await startService(
      "gateway",
      serviceEnv(nats.url, undefined, {
        GATEWAY_PORT: "0",
        GATEWAY_SIGNING_KEY_FILE: credentials.signingKeyFile,
        GATEWAY_CREDENTIALS_FILE: credentials.credentialsFile,
        GATEWAY_RATE_LIMIT_KEY: String(ratePerMinute),
        GATEWAY_RATE_LIMIT_USER: String(ratePerMinute),
        ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
      }),
    );
    stack.push(() => service.process.stop("SIGTERM", 30_000));
    return { service, url: `http://127.0.0.1:${await publicPort(service)}` };
  };
  const [gateway, uncounted, influxd] = await Promise.all([
    startGateway(RATE_LIMIT_PER_MINUTE, options.gatewayNodeOptions),
    plan.singleVariants ? startGateway(0, undefined) : undefined,
    influxdStarted,
  ]);
  return {
    nats,
    influxd,
    nc,
    gateway,
    uncounted,
    keys: { producers: credentials.producerKeys, viewer: credentials.viewerKey },
    load,
    natsPid: childPids(bins.NATS_SERVER_BIN)[0],
  };
};

/** Runs the three gateway figures `plan.runs` times each. */
export const gatewayFigures = async (
  plan: GatewayPlan,
  log: (text: string) => void,
  options: GatewayBenchOptions = {},
): Promise<GatewayResults> => {
  const measuredAt = new Date().toISOString();
  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-gateway-"));
  const stack: (() => Promise<unknown>)[] = [];
  try {
    const bench = await startBench(plan, dir, stack, options);
    const batch: BatchRun[] = [];
    const single: SingleRun[] = [];
    const singleOneKey: SingleRun[] = [];
    const singleUncounted: SingleRun[] = [];
    for (let run = 1; run <= plan.runs; run++) {
      log(`gateway run ${run}/${plan.runs}: batches of ${plan.batchSize}, ${plan.batchEvents} events`);
      batch.push(await batchRun(bench, plan));
      log(
        `gateway run ${run}/${plan.runs}: POST /v1/events at ${plan.singleRate}/s for ${plan.singleSeconds}s ` +
          `from ${plan.singleProducers} producer key(s)${bench.uncounted === undefined ? "" : ", then one, then rate limits off"}`,
      );
      single.push(await singleRun(bench, plan, bench.gateway, plan.singleProducers));
      if (bench.uncounted === undefined) continue;
      singleOneKey.push(await singleRun(bench, plan, bench.gateway, 1));
      singleUncounted.push(await singleRun(bench, plan, bench.uncounted, plan.singleProducers));
    }
    const hours: HourAggregates[] = [];
    for (const events of plan.hourSizes) {
      log(`gateway: GET /v1/aggregates?minutes=60 over an hour of ${events} events`);
      hours.push(await hourAggregates(bench, plan, events));
    }
    const bins = shippedServers();
    return {
      plan,
      measuredAt,
      commit: benchCommit(),
      servers: {
        natsServer: bins.natsServerVersion(),
        influxdb: bins.influxdbVersion(),
      },
      rateLimitPerMinute: RATE_LIMIT_PER_MINUTE,
      batch,
      single,
      singleOneKey,
      singleUncounted,
      hours,
    };
  } finally {
    for (const dispose of stack.reverse()) await dispose().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
};
