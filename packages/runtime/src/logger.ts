import { type Logger, pino } from "pino";
import { z } from "zod";

/** Log levels a service accepts in `LOG_LEVEL`. */
export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevel>;

/** The root logger of one service: JSON lines on stdout, tagged with the service name. */
export const createLogger = (service: string, level: LogLevel = "info"): Logger =>
  pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });

export type { Logger };
