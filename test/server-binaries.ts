import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * The servers users run (the versions docker-compose.yml pins), built from their Go modules by
 * scripts/build-servers.sh, as the environment the test harness reads; NATS_SERVER_BIN and
 * INFLUXD2_BIN set by hand win.
 */
export const serverBinaries = (): { NATS_SERVER_BIN: string; INFLUXD2_BIN: string } => {
  const built = Object.fromEntries(
    execFileSync("bash", [fileURLToPath(new URL("../scripts/build-servers.sh", import.meta.url)), "--print"], {
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .map((line) => line.split("=", 2) as [string, string]),
  );
  return {
    NATS_SERVER_BIN: process.env.NATS_SERVER_BIN ?? built.NATS_SERVER_BIN ?? "nats-server",
    INFLUXD2_BIN: process.env.INFLUXD2_BIN ?? built.INFLUXD2_BIN ?? "influxd",
  };
};
