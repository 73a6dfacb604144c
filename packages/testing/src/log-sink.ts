import { type LevelWithSilent, type Logger, pino } from "pino";

/** One JSON log line as pino writes it (services log the level as its label). */
export interface LogLine {
  readonly level: string | number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** The line parsed, when it is a JSON object (a log line); otherwise undefined. */
export const parseLogLine = (line: string): LogLine | undefined => {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
};

/** A logger for code under test, and the lines it wrote, so a test can assert them. */
export interface LogSink {
  readonly log: Logger;
  /** Every line written so far, oldest first. */
  readonly lines: readonly LogLine[];
  /** The lines whose message is `msg`. */
  withMessage(msg: string): LogLine[];
}

/**
 * A pino logger writing its JSON lines into an array, as pino's own tests do with a destination
 * stream: the same line format as the services' root logger (level as its label), kept in memory.
 */
export const createLogSink = (level: LevelWithSilent = "info"): LogSink => {
  const lines: LogLine[] = [];
  const destination = {
    write(chunk: string) {
      const line = parseLogLine(chunk.trimEnd());
      if (line !== undefined) lines.push(line);
    },
  };
  const log = pino({ level, formatters: { level: (label) => ({ level: label }) } }, destination);
  return { log, lines, withMessage: (msg) => lines.filter((line) => line.msg === msg) };
};
