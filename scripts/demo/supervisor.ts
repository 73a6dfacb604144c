import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  type Influxd,
  type NatsServer,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  waitFor,
} from "@vigil/testing";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LOG_DIR = join(ROOT, ".vigil", "demo");
/** Services that run in the background, in the order they start; they stop in {@link STOP_ORDER}. */
const BACKGROUND = ["writer", "reader", "daemon"] as const;
/** Producers first, so that what is in flight can still be stored; storage last. */
const STOP_ORDER = ["daemon", "client", "writer", "reader"] as const;
/** How long a service may take to report ready. */
const READY_TIMEOUT_MS = 30_000;
/** How long a service may take to stop before it is killed; above every service's own shutdown deadline. */
const STOP_GRACE_MS = 20_000;
const CLIENT_REPEAT = "2s";
const DEFAULT_MIN_CRITICALITY = "5";

type ServiceName = (typeof STOP_ORDER)[number];

interface RunningService {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly opsPort?: number;
  readonly logFile?: string;
}

const say = (text: string) => console.log(`[demo] ${text}`);
const shown = (path: string) => relative(process.cwd(), path) || path;

const running = new Map<ServiceName, RunningService>();
let nats: NatsServer | undefined;
let influx: Influxd | undefined;
let stopping = false;

/** Starts `services/<name>/dist/main.js`; its output goes to a log file, or to this terminal. */
const startService = (name: ServiceName, env: NodeJS.ProcessEnv, opsPort?: number): RunningService => {
  const logFile = name === "client" ? undefined : join(LOG_DIR, `${name}.log`);
  const output = logFile === undefined ? "inherit" : openSync(logFile, "w");
  const child = spawn(process.execPath, [join(ROOT, "services", name, "dist", "main.js")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", output, output],
  });
  // The child holds its own descriptor of the log file.
  if (typeof output === "number") closeSync(output);
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", (err) => {
      say(`${name} could not start: ${err.message}`);
      resolve(null);
    });
    child.once("exit", (code, signal) => {
      if (!stopping) {
        const how = code === null ? `killed by ${signal}` : `exit code ${code}`;
        say(`${name} exited unexpectedly (${how})${logFile === undefined ? "" : `; see ${shown(logFile)}`}`);
      }
      resolve(code);
    });
  });
  const service: RunningService = {
    name,
    child,
    exited,
    ...(opsPort === undefined ? {} : { opsPort }),
    ...(logFile === undefined ? {} : { logFile }),
  };
  running.set(name, service);
  return service;
};

const waitUntilReady = (service: RunningService) =>
  waitFor(
    `${service.name} to be ready`,
    async () => {
      if (service.child.exitCode !== null || service.child.signalCode !== null) {
        throw new Error(`${service.name} exited; see ${shown(service.logFile ?? "its output")}`);
      }
      return (await fetch(`http://127.0.0.1:${service.opsPort}/readyz`)).ok;
    },
    READY_TIMEOUT_MS,
    100,
  );

const stopService = async (service: RunningService) => {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), STOP_GRACE_MS);
  const code = await service.exited;
  clearTimeout(timer);
  say(`stopped ${service.name} (${code === null ? "killed" : `exit code ${code}`})`);
};

/** Stops the services in order, then the servers this script started; exits with `code`. */
const shutdown = async (code: number): Promise<never> => {
  stopping = true;
  for (const name of STOP_ORDER) {
    const service = running.get(name);
    if (service !== undefined) await stopService(service);
  }
  for (const [label, server] of [
    ["nats-server", nats],
    ["influxd", influx],
  ] as const) {
    if (server?.managed !== true) continue;
    await server.stop();
    await server.dispose();
    say(`stopped ${label}`);
  }
  process.exit(code);
};

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) {
    say(`second ${signal}: killing everything`);
    for (const service of running.values()) service.child.kill("SIGKILL");
    process.exit(1);
  }
  say(`${signal}: stopping daemon, client, writer, reader, then the servers`);
  void shutdown(0);
};
// Whatever ends this process must not leave services behind (the harness does the same for the servers).
process.on("exit", () => {
  for (const service of running.values()) service.child.kill("SIGKILL");
});
// A closed terminal or pipe must not kill the supervisor before it has stopped everything.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// The launcher went away without passing a signal on (it was killed): stop as if interrupted.
process.on("disconnect", () => onSignal("SIGTERM"));

const main = async () => {
  mkdirSync(LOG_DIR, { recursive: true });
  say(process.env.NATS_URL ? `using NATS at ${process.env.NATS_URL}` : "starting nats-server");
  nats = await startNatsServer();
  say(process.env.INFLUX_URL ? `using InfluxDB at ${process.env.INFLUX_URL}` : "starting influxd");
  influx = await startInfluxd(process.env.INFLUX_DATABASE || "vigil");
  if (stopping) return;

  const logLevel = process.env.LOG_LEVEL || "info";
  const background = new Map<ServiceName, RunningService>();
  for (const name of BACKGROUND) {
    const opsPort = await freePort();
    // The writer only writes and the reader only reads: each gets its own least-privilege account.
    const influxAccount = name === "writer" || name === "reader" ? influx.config(name) : undefined;
    const env = {
      ...process.env,
      ...serviceEnv(nats.url, influxAccount, { LOG_LEVEL: logLevel, OPS_PORT: String(opsPort) }),
    };
    background.set(name, startService(name, env, opsPort));
    // The daemon starts once the writer and reader are ready, so that its first events are stored and queryable.
    if (name === "reader") {
      await Promise.all([...background.values()].map(waitUntilReady));
    }
    if (stopping) return;
  }
  const daemon = background.get("daemon") as RunningService;
  await waitUntilReady(daemon);
  if (stopping) return;

  const minCriticality = process.env.CLIENT_MIN_CRITICALITY || DEFAULT_MIN_CRITICALITY;
  console.log(
    [
      "",
      `  NATS      ${nats.url}${nats.managed ? " (local nats-server)" : ""}`,
      `  InfluxDB  ${influx.url}${influx.managed ? " (local influxd)" : ""}`,
      ...[...background.values()].map(
        (s) =>
          `  ${s.name.padEnd(8)}  log ${shown(s.logFile as string)}, metrics http://127.0.0.1:${s.opsPort}/metrics`,
      ),
      `  client    events above criticality ${minCriticality}, every ${CLIENT_REPEAT}; Ctrl-C stops everything`,
      "",
    ].join("\n"),
  );
  startService("client", {
    ...process.env,
    ...serviceEnv(nats.url, undefined, { CLIENT_REPEAT, CLIENT_MIN_CRITICALITY: minCriticality }),
  });
};

main().catch(async (err: unknown) => {
  // A signal during start-up makes the steps still running fail; the shutdown it began will exit.
  if (stopping) return;
  say(`start-up failed: ${(err as Error).message}`);
  await shutdown(1);
});
