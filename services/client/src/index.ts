export type { ClientSettings, Flags, Invocation } from "./config.js";
export { ClientEnv, loadSettings, parseArguments, USAGE, UsageError } from "./config.js";
export { NoAnswerError, queryEvents, ReaderError, ReplyError } from "./query-events.js";
export type { TableOptions } from "./render.js";
export { MAX_MESSAGE_WIDTH, printable, renderHeading, renderTable, truncate } from "./render.js";
export type { ClientIo } from "./run.js";
export { EXIT_CODES, runCli, runClient } from "./run.js";
