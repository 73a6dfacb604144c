import { runDeadLettersCli } from "./run.js";

const code = await runDeadLettersCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
// Writes to a pipe or a file are synchronous on Linux, so nothing printed is lost by exiting now.
process.exit(code);
