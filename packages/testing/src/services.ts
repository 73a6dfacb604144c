import { fileURLToPath } from "node:url";
import type { InfluxConfig } from "@vigil/influx";
import { freePort, type ManagedProcess, spawnManaged, WaitAbortedError, waitFor } from "./process.js";

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
   * unset, as a user running the service with its defaults leaves it. Absent: a free port.
   */
  readonly defaultOpsPort?: number;
}

/**
 * Starts `services/<name>/dist/main.js` (run `pnpm build` first) with `env` and a free operations
 * port (or its default one), and waits until its `/readyz` answers 200.
 */
export const startService = async (
  name: string,
  env: Record<string, string>,
  options: StartServiceOptions = {},
): Promise<RunningService> => {
  const port = options.defaultOpsPort ?? (await freePort());
  const proc = spawnManaged(process.execPath, [`${ROOT}services/${name}/dist/main.js`], {
    ...env,
    ...(options.defaultOpsPort === undefined ? { OPS_PORT: String(port) } : {}),
  });
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
