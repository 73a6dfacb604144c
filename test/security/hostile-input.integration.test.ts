/**
 * Hostile input, end to end: the built writer and reader run as processes against a real
 * nats-server and InfluxDB 1.x. A malicious producer publishes events made to break line protocol,
 * smuggle extra points or pollute prototypes; each must be stored exactly as sent or dead-lettered
 * with its reason, and nothing else may appear in InfluxDB. A malicious requester then sends
 * injection-looking, oversized and malformed queries; each must get an error reply, and the reader
 * must go on answering.
 */
import { randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_STREAM,
  EVENTS_QUERY_SUBJECT,
  EVENTS_SUBJECT,
  type SecurityEvent,
} from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  serviceEnv,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DATABASE = "hostile";

let nats: NatsServer;
let influx: Influxd;
let nc: NatsConnection;
let writer: RunningService;
let reader: RunningService;

let clock = Date.parse("2024-03-01T00:00:00Z");
/** A valid event with a fresh id and a later timestamp than the one before. */
const event = (fields: Partial<SecurityEvent> = {}): SecurityEvent => {
  clock += 1_000;
  return {
    criticality: 4,
    timestamp: new Date(clock).toISOString(),
    eventMessage: "benign",
    id: randomUUID(),
    ...fields,
  };
};

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Valid events whose text tries to break out of line protocol or the JSON contract. */
const HOSTILE_VALID: readonly [string, SecurityEvent][] = [
  ["quotes, commas and equals signs", event({ eventMessage: 'x" ,criticality=10 eventMessage="forged' })],
  [
    "a newline followed by a whole point",
    event({ eventMessage: 'first line\nsecurity_events,criticality=10 eventMessage="injected" 0' }),
  ],
  [
    "CR LF followed by a whole point",
    event({ eventMessage: 'first\r\nsecurity_events,criticality=10 eventMessage="injected" 1' }),
  ],
  ["a trailing backslash", event({ eventMessage: "ends with a backslash \\" })],
  ["backslashes before quotes", event({ eventMessage: '\\" \\\\" \\\\\\n \\' })],
  ["1024 double quotes", event({ eventMessage: '"'.repeat(1024) })],
  ["tabs, bidi overrides, line separators and emoji", event({ eventMessage: "\t\u202egnp.exe\u2028\u2029 🛡️ é" })],
  ["InfluxQL injection", event({ eventMessage: `'; DROP DATABASE "${DATABASE}"; --` })],
  ["the lowest and highest criticality", event({ criticality: 0, eventMessage: "low" })],
  ["a source with every allowed character", event({ criticality: 10, source: "a.B_c-9" })],
];

/** Valid events with extra keys that must be ignored: what is stored is the event without them. */
const WITH_EXTRA_KEYS: readonly [string, SecurityEvent, string][] = (() => {
  const proto = event({ criticality: 3, eventMessage: "proto" });
  const ctor = event({ criticality: 3, eventMessage: "constructor" });
  const extra = event({ criticality: 3, eventMessage: "extra" });
  const text = (value: SecurityEvent, tail: string) => `${JSON.stringify(value).slice(0, -1)},${tail}}`;
  return [
    ["a __proto__ key", proto, text(proto, '"__proto__":{"criticality":10,"eventMessage":"polluted","admin":true}')],
    ["a constructor.prototype key", ctor, text(ctor, '"constructor":{"prototype":{"criticality":10}}')],
    ["a field InfluxDB would take as a tag", extra, text(extra, '"host":"x,criticality=10","seq":"1i"')],
  ];
})();

/** Payloads that can never be events, with the reason the writer must give. */
const NEVER_EVENTS: readonly [string, string, Buffer][] = [
  [
    "fields only on __proto__",
    "INVALID_EVENT",
    Buffer.from('{"__proto__":{"criticality":5,"timestamp":"2024-03-01T00:00:00Z","eventMessage":"only inherited"}}'),
  ],
  ["a source that would become a tag", "INVALID_EVENT", json(event({ source: "evil,criticality=10 x" }))],
  [
    "a timestamp carrying a second line",
    "INVALID_EVENT",
    json({ ...event(), timestamp: "2024-03-01T00:00:00Z\nsecurity_events eventMessage=1" }),
  ],
  ["a criticality as text", "INVALID_EVENT", json({ ...event(), criticality: "10 OR 1=1" })],
  ["a criticality out of range", "INVALID_EVENT", json({ ...event(), criticality: 11 })],
  ["a message of 1025 characters", "INVALID_EVENT", json(event({ eventMessage: "x".repeat(1025) }))],
  // JSON's \ud800 escape is valid JSON text, but the lone surrogate it makes has no UTF-8 form.
  ["a lone surrogate in the message", "INVALID_EVENT", json(event({ eventMessage: "x\ud800y" }))],
  ["nesting 4000 levels deep", "INVALID_EVENT", Buffer.from(`${"[".repeat(4000)}${"]".repeat(4000)}`)],
  ["bytes that are not UTF-8", "NOT_JSON", Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ["9 KiB of payload", "TOO_LARGE", json(event({ eventMessage: "y".repeat(9 * 1024) }))],
];

/** The NUL character: InfluxDB may store it or refuse the point; either way it is accounted for. */
const WITH_NUL = event({ eventMessage: "before\u0000after" });

const published = new Map<number, Buffer>();

const publish = async (payload: Buffer): Promise<number> => {
  const ack = await jetstream(nc).publish(EVENTS_SUBJECT, payload);
  published.set(ack.seq, payload);
  return ack.seq;
};

const ask = (payload: Uint8Array | string): Promise<Msg> =>
  nc.request(EVENTS_QUERY_SUBJECT, payload, { timeout: 10_000 });

const storedPoints = async (): Promise<number> => {
  const series = await influx.client("admin").query('SELECT count("eventMessage") FROM "security_events"');
  return Number(series[0]?.values[0]?.[1] ?? 0);
};

const deadLetters = async (): Promise<Map<number, { code: string; payload: Buffer }>> => {
  const jsm = await jetstreamManager(nc);
  const count = (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages;
  const records = new Map<number, { code: string; payload: Buffer }>();
  for (let seq = 1; seq <= count; seq++) {
    const record = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq });
    if (record === null) continue;
    records.set(Number(record.header.get(DEAD_LETTER_HEADERS.streamSequence)), {
      code: record.header.get(DEAD_LETTER_HEADERS.code),
      payload: Buffer.from(record.data),
    });
  }
  return records;
};

/** Every stored event, newest first, as the real reader returns them. */
const everyStoredEvent = async (): Promise<SecurityEvent[]> =>
  (await ask('{"minCriticality":-1,"limit":1000}')).json<{ events: SecurityEvent[] }>().events;

beforeAll(async () => {
  [nats, influx] = await Promise.all([startNatsServer(), startInfluxd(DATABASE)]);
  nc = await connect({ servers: nats.url });
  writer = await startService("writer", serviceEnv(nats.url, influx.config("writer"), {}));
  reader = await startService("reader", serviceEnv(nats.url, influx.config("reader"), {}));
});

afterAll(async () => {
  await reader?.process.stop();
  await writer?.process.stop();
  await nc?.close();
  await Promise.all([nats?.dispose(), influx?.dispose()]);
});

describe("a malicious producer", () => {
  let stored: SecurityEvent[];
  let records: Map<number, { code: string; payload: Buffer }>;
  let nulSequence: number;
  const last = event({ eventMessage: "published after every hostile event" });

  beforeAll(async () => {
    for (const [, value] of HOSTILE_VALID) await publish(json(value));
    for (const [, , text] of WITH_EXTRA_KEYS) await publish(Buffer.from(text));
    for (const [, , payload] of NEVER_EVENTS) await publish(payload);
    nulSequence = await publish(json(WITH_NUL));
    await publish(json(last));
    await waitFor(
      "every hostile message to be stored or dead-lettered",
      async () => (await storedPoints()) + (await deadLetters()).size === published.size,
      60_000,
      200,
    );
    stored = await everyStoredEvent();
    records = await deadLetters();
  });

  it.each(HOSTILE_VALID)("gets %s stored exactly as sent", (_name, value) => {
    expect(stored.find((one) => one.id === value.id)).toEqual(value);
  });

  it.each(WITH_EXTRA_KEYS)("gets an event with %s stored without it", (_name, value) => {
    expect(stored.find((one) => one.id === value.id)).toEqual(value);
  });

  it.each(NEVER_EVENTS)("gets %s dead-lettered, unchanged, as %s", (_name, code, payload) => {
    const sequence = [...published].find(([, sent]) => sent === payload)?.[0] ?? -1;
    expect(records.get(sequence)).toEqual({ code, payload });
  });

  it("gets the NUL character stored exactly or dead-lettered as refused by InfluxDB", () => {
    const kept = stored.find((one) => one.id === WITH_NUL.id);
    if (kept === undefined) expect(records.get(nulSequence)?.code).toBe("STORAGE_REJECTED");
    else expect(kept).toEqual(WITH_NUL);
  });

  it("smuggles in no point, measurement, tag or field of its own", async () => {
    const admin = influx.client("admin");
    expect(await storedPoints()).toBe(published.size - records.size);
    expect(stored).toHaveLength(published.size - records.size);
    const measurements = (await admin.query("SHOW MEASUREMENTS"))[0]?.values.map((row) => row[0]);
    expect(measurements).toEqual(["security_events"]);
    const tagKeys = (await admin.query('SHOW TAG KEYS FROM "security_events"'))[0]?.values.map((row) => row[0]);
    expect(tagKeys).toEqual(["criticality"]);
    const fieldKeys = (await admin.query('SHOW FIELD KEYS FROM "security_events"'))[0]?.values.map((row) => row[0]);
    expect(fieldKeys?.sort()).toEqual(["eventMessage", "id", "seq", "source", "timestamp"]);
    for (const one of stored) {
      expect(one.eventMessage).not.toBe("injected");
      expect(one.eventMessage).not.toBe("polluted");
    }
  });

  it("does not stop the writer, which stores what comes next", () => {
    expect(stored[0]).toEqual(last);
    expect(writer.process.child.exitCode).toBeNull();
  });
});

describe("a malicious requester", () => {
  const errorOf = (msg: Msg) => ({
    status: msg.headers?.get("Nats-Service-Error-Code"),
    code: msg.json<{ error?: { code: string } }>().error?.code,
  });

  it.each([
    ["an OR clause as the threshold", '{"minCriticality":"5 OR 1=1"}'],
    ["a statement as the threshold", `{"minCriticality":"5; DROP DATABASE \\"${DATABASE}\\""}`],
    ["a regex as the threshold", '{"minCriticality":"/.*/"}'],
    ["a limit of a million", '{"minCriticality":0,"limit":1000000}'],
    ["a limit that overflows to Infinity", '{"minCriticality":0,"limit":1e400}'],
    ["a negative limit", '{"minCriticality":0,"limit":-1}'],
    ["a fractional limit", '{"minCriticality":0,"limit":10.5}'],
    ["a threshold beyond the safe integers", '{"minCriticality":1e300}'],
    ["the threshold only on __proto__", '{"__proto__":{"minCriticality":-1,"limit":1000}}'],
    ["the threshold only on constructor.prototype", '{"constructor":{"prototype":{"minCriticality":-1}}}'],
    ["an array", "[]"],
    ["null", "null"],
    ["a string", '"SELECT * FROM security_events"'],
    ["nesting 2000 levels deep", `${"[".repeat(2000)}${"]".repeat(2000)}`],
    ["an empty request", ""],
    ["bytes that are not UTF-8", Buffer.from([0x7b, 0xff, 0x7d])],
  ])("gets BAD_REQUEST for %s", async (_name, request) => {
    expect(errorOf(await ask(request))).toEqual({ status: "400", code: "BAD_REQUEST" });
  });

  it("gets PAYLOAD_TOO_LARGE for a 1 MB request", async () => {
    const request = `{"minCriticality":0,"pad":"${"x".repeat(1_000_000 - 32)}"}`;
    expect(errorOf(await ask(request))).toEqual({ status: "413", code: "PAYLOAD_TOO_LARGE" });
  });

  it.each([
    ["a __proto__ key", '{"minCriticality":-1,"__proto__":{"limit":1000}}'],
    ["a constructor.prototype key", '{"minCriticality":-1,"constructor":{"prototype":{"limit":1000}}}'],
  ])("cannot raise the limit through %s: the default of 10 applies", async (_name, request) => {
    expect((await ask(request)).json<{ events: SecurityEvent[] }>().events).toHaveLength(10);
  });

  it("leaves the reader answering and the database in place", async () => {
    const points = await storedPoints();
    const reply = (await ask('{"minCriticality":-1,"limit":5}')).json<{ events: SecurityEvent[] }>();
    expect(reply.events).toHaveLength(5);
    expect(points).toBeGreaterThan(10);
    expect(reader.process.child.exitCode).toBeNull();
  });
});
