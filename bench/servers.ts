/**
 * The servers every part of the benchmark runs: the versions docker-compose.yml pins, built from
 * their Go modules by scripts/build-servers.sh (NATS_SERVER_BIN and INFLUXD2_BIN set by hand win).
 */
import { execFileSync } from "node:child_process";
import type { InfluxdOptions } from "@vigil/testing";
import { readCompose, withDefaults } from "../deploy/checks/deployment-files.js";
import { serverBinaries } from "../test/server-binaries.js";

/** The first line `bin args` prints, or "unknown". */
export const versionOf = (bin: string, args: string[]): string => {
  try {
    return execFileSync(bin, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "unknown";
  } catch {
    return "unknown";
  }
};

/**
 * The storage settings docker-compose.yml gives influxd (`INFLUXD_STORAGE_...`, compose's defaults
 * for any `${...}` in them): every InfluxDB 2.x of the benchmark runs with them.
 */
export const shippedInfluxdEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(readCompose("docker-compose.yml").services.influxdb?.environment ?? {})
      .filter(([name]) => name.startsWith("INFLUXD_STORAGE_"))
      .map(([name, value]) => [name, withDefaults(String(value))]),
  );

/** The shipped servers' binaries, and how they name their versions in a report. */
export const shippedServers = () => {
  const bins = serverBinaries();
  return {
    ...bins,
    /** How to start the InfluxDB 2.x compose ships: its binary, with compose's storage settings. */
    influxd: { version: 2, bin: bins.INFLUXD2_BIN, env: shippedInfluxdEnv() } satisfies InfluxdOptions,
    natsServerVersion: () => versionOf(bins.NATS_SERVER_BIN, ["--version"]).replace(/^nats-server: /, "nats-server "),
    // Its build date is when it was built here, not InfluxData's release.
    influxdbVersion: () => versionOf(bins.INFLUXD2_BIN, ["version"]).replace(/ build_date: .*$/, ""),
  };
};

/** The commit the benchmark measures. */
export const benchCommit = () => versionOf("git", ["rev-parse", "--short", "HEAD"]);
