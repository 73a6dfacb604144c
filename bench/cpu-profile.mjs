/**
 * `NODE_OPTIONS="--import <this file>"`: a CPU profile of a process that Node will not give
 * `--cpu-prof` through NODE_OPTIONS (Node 20 refuses it there), written when the process exits to
 * its working directory as `<pid>.cpuprofile`, which Chrome's DevTools and `speedscope` open. `pnpm bench --only gateway --gateway-node-options="--import ./bench/cpu-profile.mjs"`
 * profiles the gateway under the benchmark's load.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const session = new Session();
session.connect();
session.post("Profiler.enable");
// 1 ms between samples, as --cpu-prof-interval's default.
session.post("Profiler.setSamplingInterval", { interval: 1_000 });
session.post("Profiler.start");
process.once("exit", () => {
  // An in-process session answers synchronously, so the profile is written before the process ends.
  session.post("Profiler.stop", (err, result) => {
    if (err !== null) return;
    writeFileSync(join(process.cwd(), `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
