import { randomBytes } from "node:crypto";
import type { InfluxConfig } from "@vigil/influx";
import { type RunningService, serviceEnv, startService } from "./services.js";

/** A running influx-gate process and where it listens. */
export interface StartedInfluxGate {
  readonly service: RunningService;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
}

/** A running influx-gate and the client settings a writer uses to store through it. */
export interface RunningInfluxGate extends StartedInfluxGate {
  /** The writer's side: the gate's URL and a token of its own, for the database the gate serves. */
  readonly config: InfluxConfig;
}

/**
 * Starts the built influx-gate (`pnpm build` first) with `env` (`INFLUX_GATE_PORT` 0 unless set)
 * and reads the port it bound from its "serving the write gate" log line.
 */
export const startInfluxGateWith = async (env: Record<string, string>): Promise<StartedInfluxGate> => {
  const service = await startService("influx-gate", { INFLUX_GATE_PORT: "0", ...env });
  const serving = service.process.logs().find((line) => line.msg === "serving the write gate");
  if (typeof serving?.port !== "number") {
    await service.process.stop();
    throw new Error("the influx-gate logged no port");
  }
  return { service, url: `http://127.0.0.1:${serving.port}` };
};

/**
 * Starts the built influx-gate in front of `storage` (the InfluxDB writer credential it holds, and
 * the one database it passes writes to), as compose runs it, with a fresh token for the writer.
 */
export const startInfluxGate = async (storage: InfluxConfig): Promise<RunningInfluxGate> => {
  const token = randomBytes(24).toString("hex");
  const { service, url } = await startInfluxGateWith({
    ...serviceEnv("nats://unused", storage, {}),
    LOG_LEVEL: "info",
    INFLUX_GATE_TOKEN: token,
  });
  return {
    service,
    url,
    config: { url, database: storage.database, auth: { kind: "token", token }, timeoutMs: storage.timeoutMs },
  };
};
