import { z } from "zod";

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

/** Parses a duration such as `250ms`, `30s`, `5m`, `2h` or `7d` into milliseconds. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] as string] as number));
};

/** Parses a size such as `4096`, `512KiB`, `64MiB` or `1GB` into bytes. */
export const parseBytes = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(text.trim());
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (BYTE_UNITS[(match[2] ?? "").toLowerCase()] as number));
};

/** A zod field for a duration variable, in milliseconds, bounded to `[min, max]`. */
export const durationVar = (fallback: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms < min || ms > max) {
        ctx.addIssue({
          code: "custom",
          message: `expected a duration from ${min}ms to ${max}ms such as 500ms, 30s, 5m, 2h or 7d, got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** A zod field for a size variable, in bytes, bounded to `[min, max]`. */
export const bytesVar = (fallback: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const bytes = parseBytes(text);
      if (bytes === undefined || bytes < min || bytes > max) {
        ctx.addIssue({
          code: "custom",
          message: `expected a size from ${min} to ${max} bytes such as 4096, 512KiB or 1GiB, got "${text}"`,
        });
        return z.NEVER;
      }
      return bytes;
    });

/** A zod field for an integer variable bounded to `[min, max]`. */
export const intVar = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
