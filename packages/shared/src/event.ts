import { z } from "zod";
import { CRITICALITY_RANGE, MAX_EVENT_BYTES, MAX_EVENT_MESSAGE_LENGTH } from "./limits.js";

/** Earliest and latest instants InfluxDB can store (signed 64-bit nanoseconds since the epoch). */
const STORABLE_MS = { min: Date.parse("1677-09-21T00:12:44Z"), max: Date.parse("2262-04-11T23:47:16Z") };

const countCodePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

/** One security event as carried on `events` and returned by queries. */
export const SecurityEvent = z.object({
  criticality: z.int().min(CRITICALITY_RANGE.min).max(CRITICALITY_RANGE.max),
  timestamp: z.iso.datetime({ offset: true }).refine(
    (value) => {
      const ms = Date.parse(value);
      return ms >= STORABLE_MS.min && ms <= STORABLE_MS.max;
    },
    { message: "timestamp must be a real instant between 1677-09-21 and 2262-04-11" },
  ),
  eventMessage: z
    .string()
    .min(1)
    .refine((value) => countCodePoints(value) <= MAX_EVENT_MESSAGE_LENGTH, {
      message: `eventMessage must be at most ${MAX_EVENT_MESSAGE_LENGTH} characters`,
    }),
  id: z.uuid().optional(),
  source: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "source must be 1-64 characters of A-Z a-z 0-9 . _ -")
    .optional(),
});
export type SecurityEvent = z.infer<typeof SecurityEvent>;

/** Why a payload on `events` can never become a stored event. */
export const EventRejectionCode = z.enum(["TOO_LARGE", "NOT_JSON", "INVALID_EVENT"]);
export type EventRejectionCode = z.infer<typeof EventRejectionCode>;

/** A payload refused by {@link decodeEvent}, with a one-line reason. */
export interface EventRejection {
  readonly code: EventRejectionCode;
  readonly reason: string;
}

/** Outcome of decoding one payload: the event, or why there is none. */
export type DecodedEvent =
  | { readonly ok: true; readonly event: SecurityEvent }
  | { readonly ok: false; readonly rejection: EventRejection };

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Serialises an event to the bytes published on `events`. `Buffer.from` rather than a
 * TextEncoder: it is a hot path of the daemon, and Buffer's UTF-8 encoding is several times faster.
 */
export const encodeEvent = (event: SecurityEvent): Uint8Array => Buffer.from(JSON.stringify(event));

/** Turns a zod error into one line naming each offending field. */
export const describeIssues = (error: z.ZodError): string =>
  error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");

/**
 * Decodes and validates one payload from `events`. Never throws: anything that is not a valid
 * event comes back as a rejection whose reason names the problem. Unknown fields are dropped.
 */
export const decodeEvent = (payload: Uint8Array, maxBytes: number = MAX_EVENT_BYTES): DecodedEvent => {
  if (payload.byteLength > maxBytes) {
    return reject("TOO_LARGE", `payload is ${payload.byteLength} bytes, the limit is ${maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch (err) {
    return reject("NOT_JSON", `payload is not UTF-8 JSON: ${(err as Error).message}`);
  }
  const parsed = SecurityEvent.safeParse(json);
  if (!parsed.success) return reject("INVALID_EVENT", describeIssues(parsed.error));
  return { ok: true, event: parsed.data };
};

const reject = (code: EventRejectionCode, reason: string): DecodedEvent => ({
  ok: false,
  rejection: { code, reason },
});
