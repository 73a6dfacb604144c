import { runCli } from "./run.js";

const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());

const code = await runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  terminal: process.stdout.isTTY ? { columns: process.stdout.columns } : undefined,
  signal: stop.signal,
});
// A connection attempt cut short by a signal may still be pending; nothing is left to wait for.
process.exit(code);
