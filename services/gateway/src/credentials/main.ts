import { appendFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { loadCredentialsCliConfig } from "../config.js";
import { prepareFirstStart } from "./first-start.js";
import { runCredentialsCli } from "./run.js";

const { file } = loadCredentialsCliConfig();
const code = await runCredentialsCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readStdin: () => text(process.stdin),
  append:
    file === undefined
      ? undefined
      : async (line) => {
          await appendFile(file, `${line}\n`, { mode: 0o600 });
          return file;
        },
  prepareFirstStart,
});
process.exit(code);
