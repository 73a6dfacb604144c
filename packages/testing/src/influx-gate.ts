import { randomBytes } from "node:crypto";
import type { InfluxConfig } from "@vigil/influx";
import { type RunningService, serviceEnv, startService } from "./services.js";

/** A running influx-gate and the client settings a writer uses to store through it. */
export interface RunningInfluxGate {
  readonly service: RunningService;
  /** The writer's side: the gate's URL and a token of its own, for the database the gate serves. */
  readonly config: InfluxConfig;
}

/**
 * Starts the built influx-gate (`pnpm build` first) in front of `storage` (the InfluxDB writer
 * credential it holds, and the one database it passes writes to), as compose runs it, with a fresh
 * token for the writer, on a port it chooses itself (read from its "serving the write gate" line).
 */
export const startInfluxGate = async (
  storage: InfluxConfig,
  extra: Record<string, string> = {},
): Promise<RunningInfluxGate> => {
  const token = randomBytes(24).toString("hex");
  const service = await startService("influx-gate", {
    ...serviceEnv("nats://unused", storage, {}),
    LOG_LEVEL: "info",
    INFLUX_GATE_PORT: "0",
    INFLUX_GATE_TOKEN: token,
    ...extra,
  });
  const serving = service.process.logs().find((line) => line.msg === "serving the write gate");
  if (typeof serving?.port !== "number") {
    await service.process.stop();
    throw new Error("the influx-gate logged no port");
  }
  return {
    service,
    config: {
      url: `http://127.0.0.1:${serving.port}`,
      database: storage.database,
      auth: { kind: "token", token },
      timeoutMs: storage.timeoutMs,
    },
  };
};
