/**
 * The servers every part of the benchmark runs: the versions docker-compose.yml pins, built from
 * their Go modules by scripts/build-servers.sh (NATS_SERVER_BIN and INFLUXD2_BIN set by hand win).
 */
import { execFileSync } from "node:child_process";
import { serverBinaries } from "../test/server-binaries.js";

/** The first line `bin args` prints, or "unknown". */
export const versionOf = (bin: string, args: string[]): string => {
  try {
    return execFileSync(bin, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "unknown";
  } catch {
    return "unknown";
  }
};

/** The shipped servers' binaries, and how they name their versions in a report. */
export const shippedServers = () => {
  const bins = serverBinaries();
  return {
    ...bins,
    natsServerVersion: () => versionOf(bins.NATS_SERVER_BIN, ["--version"]).replace(/^nats-server: /, "nats-server "),
    // Its build date is when it was built here, not InfluxData's release.
    influxdbVersion: () => versionOf(bins.INFLUXD2_BIN, ["version"]).replace(/ build_date: .*$/, ""),
  };
};

/** The commit the benchmark measures. */
export const benchCommit = () => versionOf("git", ["rev-parse", "--short", "HEAD"]);
