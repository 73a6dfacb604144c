import { z } from "zod";
import { readDigits } from "./digits.js";
import { CRITICALITY_RANGE, MAX_EVENT_BYTES, MAX_EVENT_MESSAGE_LENGTH } from "./limits.js";

/** Earliest and latest instants InfluxDB can store (signed 64-bit nanoseconds since the epoch). */
const STORABLE_MS = { min: Date.parse("1677-09-21T00:12:44Z"), max: Date.parse("2262-04-11T23:47:16Z") };

const countCodePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

const SOURCE_MAX_LENGTH = 64;
const SOURCE_PATTERN = new RegExp(`^[A-Za-z0-9._-]{1,${SOURCE_MAX_LENGTH}}$`);

/**
 * A UTF-16 unit of a surrogate pair without its partner. Such text has no UTF-8 form, so InfluxDB
 * would store U+FFFD in its place: the event would be altered, not stored as sent. With the `u`
 * flag a well-formed pair is one code point and does not match.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** True when `text` can be stored exactly as sent: it holds no lone surrogate. */
export const isWellFormedText = (text: string): boolean => !LONE_SURROGATE.test(text);

const isStorableMillis = (ms: number): boolean => ms >= STORABLE_MS.min && ms <= STORABLE_MS.max;

/**
 * One security event as carried on `events` and returned by queries. This schema is the single
 * definition of a valid event; {@link checkSecurityEvent} is a faster check of exactly the same rules.
 */
export const SecurityEvent = z.object({
  criticality: z.int().min(CRITICALITY_RANGE.min).max(CRITICALITY_RANGE.max),
  timestamp: z.iso.datetime({ offset: true }).refine((value) => isStorableMillis(Date.parse(value)), {
    message: "timestamp must be a real instant between 1677-09-21 and 2262-04-11",
  }),
  eventMessage: z
    .string()
    .min(1)
    .refine((value) => countCodePoints(value) <= MAX_EVENT_MESSAGE_LENGTH, {
      message: `eventMessage must be at most ${MAX_EVENT_MESSAGE_LENGTH} characters`,
    })
    .refine(isWellFormedText, {
      message: "eventMessage must be well-formed Unicode: a lone surrogate (\\uD800-\\uDFFF unpaired) cannot be stored",
    }),
  id: z.uuid().optional(),
  source: z
    .string()
    .regex(SOURCE_PATTERN, `source must be 1-${SOURCE_MAX_LENGTH} characters of A-Z a-z 0-9 . _ -`)
    .optional(),
});
export type SecurityEvent = z.infer<typeof SecurityEvent>;

// The hand-written check below exists for speed alone: a generic schema walk costs several times
// more than these few comparisons, on every message the writer takes. Character codes:
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_8 = 56;
const DIGIT_9 = 57;
const HYPHEN = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;
const UNDERSCORE = 95;
const UPPER_T = 84;
const UPPER_Z = 90;
const LOWER_A = 97;
const LOWER_B = 98;
const LOWER_F = 102;
const LOWER_Z = 122;
/** ORed into an ASCII letter, gives its lower case (and leaves digits as they are). */
const LOWER_CASE_BIT = 0x20;

const isDigit = (code: number): boolean => code >= DIGIT_0 && code <= DIGIT_9;

const isLeapYear = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

const daysInMonth = (year: number, month: number): number => {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
};

const DAYS_FROM_0000_03_01_TO_EPOCH = 719_468;
const DAYS_PER_400_YEARS = 146_097;
const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;
/**
 * V8 reads at most nine digits of a fraction and, past nine, loses track of leading zeros
 * (`.0123456789` reads as 123 ms); such rare fractions are left to `Date.parse` itself so that
 * every instant, and so every point key, stays what it has always been.
 */
const MAX_PLAIN_FRACTION_DIGITS = 9;

/** Days from 1970-01-01 to a day of the proleptic Gregorian calendar, for any year from 0 to 9999. */
const daysSinceEpoch = (year: number, month: number, day: number): number => {
  // Counted from 0000-03-01, so that the leap day ends a year: whole 400-year eras, then years, then days.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * DAYS_PER_400_YEARS + dayOfEra - DAYS_FROM_0000_03_01_TO_EPOCH;
};

/**
 * Milliseconds since the epoch of `text` when it has exactly the form `z.iso.datetime({ offset: true })`
 * accepts: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of one or more digits, then `Z` or `±HH:MM`;
 * a real calendar day, hours 00-23, no leap second. NaN for anything else. Equal to `Date.parse`
 * on every text it accepts: digits past the millisecond are dropped, not rounded.
 */
const isoDateTimeMillis = (text: string): number => {
  const length = text.length;
  if (length < 20) return Number.NaN;
  const year = readDigits(text, 0, 4);
  const month = readDigits(text, 5, 7);
  const day = readDigits(text, 8, 10);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (text.charCodeAt(4) !== HYPHEN || text.charCodeAt(7) !== HYPHEN || text.charCodeAt(10) !== UPPER_T) {
    return Number.NaN;
  }
  const hours = readDigits(text, 11, 13);
  const minutes = readDigits(text, 14, 16);
  const seconds = readDigits(text, 17, 19);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return Number.NaN;
  if (text.charCodeAt(13) !== COLON || text.charCodeAt(16) !== COLON) return Number.NaN;
  let millis = 0;
  let longFraction = false;
  let i = 19;
  if (text.charCodeAt(i) === DOT) {
    const fractionStart = ++i;
    while (i < length && isDigit(text.charCodeAt(i))) i++;
    if (i === fractionStart) return Number.NaN;
    longFraction = i - fractionStart > MAX_PLAIN_FRACTION_DIGITS;
    const end = Math.min(i, fractionStart + 3);
    for (let at = fractionStart, scale = 100; at < end; at++, scale /= 10) {
      millis += (text.charCodeAt(at) - DIGIT_0) * scale;
    }
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === UPPER_Z) {
    if (i + 1 !== length) return Number.NaN;
  } else {
    if ((zone !== PLUS && zone !== HYPHEN) || i + 6 !== length || text.charCodeAt(i + 3) !== COLON) return Number.NaN;
    const zoneHours = readDigits(text, i + 1, i + 3);
    const zoneMinutes = readDigits(text, i + 4, i + 6);
    if (zoneHours < 0 || zoneHours > 23 || zoneMinutes < 0 || zoneMinutes > 59) return Number.NaN;
    offsetMinutes = (zone === PLUS ? 1 : -1) * (zoneHours * 60 + zoneMinutes);
  }
  if (longFraction) return Date.parse(text);
  const minuteOfDay = hours * 60 + minutes - offsetMinutes;
  return daysSinceEpoch(year, month, day) * MS_PER_DAY + minuteOfDay * MS_PER_MINUTE + seconds * 1000 + millis;
};

/**
 * The instant of an event timestamp in milliseconds since the epoch, exactly as `Date.parse` reads
 * it (digits past the millisecond dropped). Computed directly, at a fraction of the cost, for the
 * RFC 3339 form that {@link SecurityEvent} admits; by `Date.parse` for anything else.
 */
export const timestampMillis = (timestamp: string): number => {
  const millis = isoDateTimeMillis(timestamp);
  return Number.isNaN(millis) ? Date.parse(timestamp) : millis;
};

const isHex = (code: number): boolean => {
  const lower = code | LOWER_CASE_BIT;
  return isDigit(code) || (lower >= LOWER_A && lower <= LOWER_F);
};

const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const MAX_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/** What `z.uuid()` accepts: RFC 9562 versions 1-8 with the RFC variant, or the nil or max UUID. */
const isUuid = (text: string): boolean => {
  if (text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const code = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== HYPHEN) return false;
    } else if (!isHex(code)) return false;
  }
  const version = text.charCodeAt(14);
  const variant = text.charCodeAt(19) | LOWER_CASE_BIT;
  const rfcVariant = variant === DIGIT_8 || variant === DIGIT_9 || variant === LOWER_A || variant === LOWER_B;
  if (version >= DIGIT_1 && version <= DIGIT_8 && rfcVariant) return true;
  return text === NIL_UUID || text === MAX_UUID;
};

/** What {@link SOURCE_PATTERN} accepts. */
const isSourceName = (text: string): boolean => {
  const length = text.length;
  if (length < 1 || length > SOURCE_MAX_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    const lower = code | LOWER_CASE_BIT;
    const allowed =
      (lower >= LOWER_A && lower <= LOWER_Z) || isDigit(code) || code === DOT || code === HYPHEN || code === UNDERSCORE;
    if (!allowed) return false;
  }
  return true;
};

const isEventMessage = (text: string): boolean =>
  text.length >= 1 &&
  // A code point takes one or two UTF-16 units, so only lengths in between need counting.
  (text.length <= MAX_EVENT_MESSAGE_LENGTH ||
    (text.length <= 2 * MAX_EVENT_MESSAGE_LENGTH && countCodePoints(text) <= MAX_EVENT_MESSAGE_LENGTH)) &&
  isWellFormedText(text);

/**
 * The event `value` describes when it satisfies {@link SecurityEvent}, built exactly as
 * `SecurityEvent.parse` builds it (known fields only, in schema order); `undefined` when it does
 * not, in which case `SecurityEvent.safeParse` says why. Accepts exactly what the schema accepts,
 * at a fraction of the cost; property tests hold the two together.
 */
export const checkSecurityEvent = (value: unknown): SecurityEvent | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { criticality, timestamp, eventMessage, id, source } = value as Record<string, unknown>;
  if (
    typeof criticality !== "number" ||
    !Number.isInteger(criticality) ||
    criticality < CRITICALITY_RANGE.min ||
    criticality > CRITICALITY_RANGE.max ||
    typeof timestamp !== "string" ||
    !isStorableMillis(isoDateTimeMillis(timestamp)) ||
    typeof eventMessage !== "string" ||
    !isEventMessage(eventMessage) ||
    (id !== undefined && (typeof id !== "string" || !isUuid(id))) ||
    (source !== undefined && (typeof source !== "string" || !isSourceName(source)))
  ) {
    return undefined;
  }
  const event: SecurityEvent = { criticality, timestamp, eventMessage };
  if (id !== undefined) event.id = id;
  if (source !== undefined) event.source = source;
  return event;
};

/** Why a payload on `events` can never become a stored event. */
export const EventRejectionCode = z.enum(["TOO_LARGE", "NOT_JSON", "INVALID_EVENT"]);
export type EventRejectionCode = z.infer<typeof EventRejectionCode>;

/** A payload refused by {@link decodeEvent}, with a one-line reason. */
export interface EventRejection {
  readonly code: EventRejectionCode;
  readonly reason: string;
  /**
   * For `INVALID_EVENT`: the `id` the payload claims when it is a JSON object with a string `id`,
   * as sent (untrusted: any length, any characters), so that logs can name it without a second parse.
   */
  readonly claimedId?: string;
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
  const event = checkSecurityEvent(json);
  if (event !== undefined) return { ok: true, event };
  const parsed = SecurityEvent.safeParse(json);
  if (!parsed.success) return rejectInvalid(json, describeIssues(parsed.error));
  // Unreachable while the check and the schema agree; should they ever part, the schema decides.
  return { ok: true, event: parsed.data };
};

const reject = (code: EventRejectionCode, reason: string): DecodedEvent => ({
  ok: false,
  rejection: { code, reason },
});

const rejectInvalid = (json: unknown, reason: string): DecodedEvent => {
  const id = typeof json === "object" && json !== null ? (json as { readonly id?: unknown }).id : undefined;
  return {
    ok: false,
    rejection:
      typeof id === "string" ? { code: "INVALID_EVENT", reason, claimedId: id } : { code: "INVALID_EVENT", reason },
  };
};
