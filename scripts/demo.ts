import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// Ctrl-C signals every process in the terminal's foreground group at once, which would stop
// nats-server while the daemon still waits for confirmations. The supervisor, and every server
// and service it starts, therefore run in a process group of their own: only this process sees
// the signal, and it hands it to the supervisor, which stops everything in order.
const supervisor = spawn(
  process.execPath,
  [...process.execArgv, fileURLToPath(new URL("./demo/supervisor.ts", import.meta.url))],
  { detached: true, stdio: ["ignore", "inherit", "inherit", "ipc"] },
);
// `timeout -s INT` signals this process and then its whole group, so one request to stop may
// arrive twice: repeats within this window are the same request, a later one asks to kill.
const REPEAT_WINDOW_MS = 1_000;
let firstSignalAt: number | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    const now = Date.now();
    if (firstSignalAt !== undefined && now - firstSignalAt < REPEAT_WINDOW_MS) return;
    firstSignalAt ??= now;
    supervisor.kill(signal);
  });
}
supervisor.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
