import { fileURLToPath } from "node:url";
import type { InfluxConfig } from "@vigil/influx";
import type { LogLine } from "./log-sink.js";
import { type ManagedProcess, spawnManaged, WaitAbortedError, waitFor } from "./process.js";

/** The repository root, so services start the same way from any working directory. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Environment that points a service at local servers; `extra` adds or overrides variables. */
export const serviceEnv = (natsUrl: string, influx: InfluxConfig | undefined, extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? "",
  NATS_URL: natsUrl,
  LOG_LEVEL: "warn",
  OPS_HOST: "127.0.0.1",
  ...(influx === undefined
    ? {}
    : {
        INFLUX_URL: influx.url,
        INFLUX_DATABASE: influx.database,
        ...(influx.auth.kind === "basic"
          ? { INFLUX_USERNAME: influx.auth.username, INFLUX_PASSWORD: influx.auth.password }
          : influx.auth.kind === "token"
            ? { INFLUX_TOKEN: influx.auth.token }
            : {}),
      }),
  ...extra,
});

/** A service started from its built `dist/main.js`, with its operations port. */
export interface RunningService {
  readonly process: ManagedProcess;
  readonly pid: number;
  readonly opsUrl: string;
  /** Current value of one metric (summed over label sets), scraped from `/metrics`. */
  metric(name: string): Promise<number>;
}

/** How {@link startService} chooses the operations port. */
export interface StartServiceOptions {
  /**
   * The service's own default port (`DEFAULT_OPS_PORTS` of @vigil/runtime): `OPS_PORT` is left
   * unset, as a user running the service with its defaults leaves it, and the start fails if the
   * service binds another one. Absent: a port the service chooses itself (`OPS_PORT=0`).
   */
  readonly defaultOpsPort?: number;
}

/** The line every service logs once its operations server listens, with the port it bound. */
const OPS_LISTENING = "serving /healthz, /readyz and /metrics";

/**
 * The port a service's operations server bound (run it with `LOG_LEVEL` info or lower), read from
 * the line it logs once it listens.
 */
export const reportedOpsPort = async (proc: ManagedProcess, name = "the service"): Promise<number> => {
  let port = 0;
  await waitFor(`${name} to report its operations port`, () => {
    if (proc.child.exitCode !== null) throw new WaitAbortedError(`${name} exited: ${proc.output()}`);
    const listening = proc.logs().find((line: LogLine) => line.msg === OPS_LISTENING);
    port = typeof listening?.port === "number" ? listening.port : 0;
    return port !== 0;
  });
  return port;
};

/** Levels quieter than info would hide {@link OPS_LISTENING}; debug and trace are kept. */
const atLeastInfo = (level: string | undefined) => (level === "debug" || level === "trace" ? level : "info");

/**
 * Starts `services/<name>/dist/main.js` (run `pnpm build` first) with `env` and an operations
 * server on a port it chooses itself (`OPS_PORT=0`, read back from its log) or on its default one,
 * and waits until its `/readyz` answers 200. The log level is raised to info at least, for that line.
 */
export const startService = async (
  name: string,
  env: Record<string, string>,
  options: StartServiceOptions = {},
): Promise<RunningService> => {
  const proc = spawnManaged(process.execPath, [`${ROOT}services/${name}/dist/main.js`], {
    ...env,
    LOG_LEVEL: atLeastInfo(env.LOG_LEVEL),
    ...(options.defaultOpsPort === undefined ? { OPS_PORT: "0" } : {}),
  });
  const port = await reportedOpsPort(proc, name);
  if (options.defaultOpsPort !== undefined && port !== options.defaultOpsPort) {
    await proc.stop("SIGKILL");
    throw new Error(`${name} serves its operations endpoint on ${port}, not on its default ${options.defaultOpsPort}`);
  }
  const opsUrl = `http://127.0.0.1:${port}`;
  await waitFor(`${name} to be ready`, async () => {
    if (proc.child.exitCode !== null) throw new WaitAbortedError(`${name} exited: ${proc.output()}`);
    return (await fetch(`${opsUrl}/readyz`)).ok;
  });
  return {
    process: proc,
    pid: proc.child.pid as number,
    opsUrl,
    async metric(metric) {
      const text = await (await fetch(`${opsUrl}/metrics`)).text();
      let total = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith(`${metric} `) || line.startsWith(`${metric}{`)) total += Number(line.split(" ").at(-1));
      }
      return total;
    },
  };
};
