/**
 * What each NATS credential of the compose deployment can and cannot do, against the real
 * nats-server started exactly as in its container: deploy/init/secrets.sh makes the passwords and
 * deploy/nats/entrypoint.sh runs deploy/nats/nats.conf with them (deploy/checks/compose-nats.ts).
 * The services' own code paths with these users are run by deploy/checks/compose-wiring; here each
 * action is tried directly, so that every refusal and every permission is proven one by one.
 * SECURITY.md describes the threat model these tests back.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, createInbox, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  AuditStreamEnv,
  checkEventsStream,
  createConfirmedPublish,
  createInboxRequests,
  createLogger,
  isPermissionError,
  StreamEnv,
} from "@vigil/runtime";
import {
  AUDIT_STREAM,
  AUDIT_SUBJECT,
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECT,
  EVENTS_AGGREGATES_SUBJECT,
  EVENTS_QUERY_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  GATEWAY_RATE_BUCKET,
  LIVE_STREAM,
  LIVE_SUBJECT,
  READER_QUEUE,
  READER_SERVICE,
  WRITER_CONSUMER,
} from "@vigil/shared";
import { waitFor } from "@vigil/testing";
import { setUpTopology, WriterConsumerEnv, writerConsumerSettings } from "@vigil/writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ComposeNats,
  composeNatsLogin,
  generateSecrets,
  NATS_SERVICES,
  type NatsService,
  STREAMS_API_PREFIX,
  startComposeNats,
} from "../../deploy/checks/compose-nats.js";

const log = createLogger("nats-permissions", "silent");
const streams = StreamEnv.parse({});

let dir: string;
let secrets: string;
let nats: ComposeNats;

const password = (service: NatsService) => readFileSync(nats.passwordFile(service), "utf8");

/**
 * Speaks the NATS protocol by hand, bypassing the client library's own checks (such as its
 * max_payload check), so that what is tested is the server's refusal. Logs in as `service`, sends
 * `commands` and a PING, and resolves once the server answers PONG or drops the connection.
 */
const rawSession = (server: ComposeNats, service: NatsService, commands: Buffer): Promise<void> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port: Number(new URL(server.url).port) });
    const { user } = composeNatsLogin(service);
    const connect = JSON.stringify({ user, pass: password(service), verbose: false, protocol: 1 });
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      const first = received === "";
      received += chunk.toString();
      if (first)
        socket.write(Buffer.concat([Buffer.from(`CONNECT ${connect}\r\n`), commands, Buffer.from("PING\r\n")]));
      if (received.includes("PONG\r\n")) socket.end();
    });
    // A server that refuses may reset the connection while the payload is still being sent.
    socket.once("error", () => socket.destroy());
    socket.once("close", () => resolve());
  });

const rawPublish = (subject: string, bytes: number) =>
  Buffer.concat([Buffer.from(`PUB ${subject} ${bytes}\r\n`), Buffer.alloc(bytes, 0x61), Buffer.from("\r\n")]);

let setupConnection: NatsConnection | undefined;
/** One connection with the set-up's credentials (in INGEST) for the tests' own look at the streams. */
const setupJsm = async () => {
  setupConnection ??= await nats.login("setup");
  return jetstreamManager(setupConnection, { checkAPI: false });
};

/** The JetStream API of INGEST as the writer and the gateway reach it: through their imports. */
const streamsApi = { apiPrefix: STREAMS_API_PREFIX, checkAPI: false } as const;

/**
 * The messages in each stream; a stream that no longer exists counts as `"deleted"`. LIVE counts
 * only as there or not: it takes its copies of events a moment after EVENTS stores them.
 */
const streamMessages = async (): Promise<Record<string, number | "deleted" | "present">> => {
  const jsm = await setupJsm();
  const state: Record<string, number | "deleted" | "present"> = {};
  for (const name of [EVENTS_STREAM, DEAD_LETTER_STREAM, AUDIT_STREAM, LIVE_STREAM]) {
    state[name] = await jsm.streams.info(name).then(
      (info) => (name === LIVE_STREAM ? ("present" as const) : info.state.messages),
      () => "deleted" as const,
    );
  }
  return state;
};

/** The streams' and the consumer's configuration, to show that an attempt changed nothing. */
const topology = async () => {
  const jsm = await setupJsm();
  return {
    events: (await jsm.streams.info(EVENTS_STREAM)).config,
    deadLetters: (await jsm.streams.info(DEAD_LETTER_STREAM)).config,
    audit: (await jsm.streams.info(AUDIT_STREAM)).config,
    live: (await jsm.streams.info(LIVE_STREAM)).config,
    consumer: (await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config,
  };
};

/** A valid event whose message says which attempt sent it. */
const intrusion = (n: number | string) =>
  JSON.stringify({ criticality: 9, timestamp: new Date().toISOString(), eventMessage: `intrusion ${n}` });

/** The subjects the reader answers, each exported to CLIENTS. */
const READER_SUBJECTS = [EVENTS_QUERY_SUBJECT, EVENTS_AGGREGATES_SUBJECT] as const;

/** A stand-in for the reader with the reader's credentials: answers every query on `subject` with `answer`. */
const serveQueries = async (answer: Uint8Array | string, subject: string = EVENTS_QUERY_SUBJECT) => {
  const reader = await nats.login("reader");
  const seen: string[] = [];
  reader.subscribe(subject, {
    queue: READER_QUEUE,
    callback: (_err, msg) => {
      seen.push(msg.reply ?? "");
      msg.respond(answer);
    },
  });
  await reader.flush();
  return { reader, seen };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-nats-permissions-"));
  secrets = join(dir, "vigil");
  const generated = generateSecrets(secrets);
  if (generated.status !== 0) throw new Error(`deploy/init/secrets.sh failed: ${generated.stderr}`);
  nats = await startComposeNats({ secrets, storeDir: join(dir, "jetstream") });
  // The topology as the `nats-setup` one-shot creates it, with its code and credentials.
  await setUpTopology(
    await setupJsm(),
    { streams, consumer: writerConsumerSettings(WriterConsumerEnv.parse({})), audit: AuditStreamEnv.parse({}) },
    log,
  );
});

afterAll(async () => {
  await nats?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("who may connect", () => {
  it("refuses a connection without credentials", async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it("refuses a wrong password", async () => {
    await expect(nats.login("daemon", { pass: `${password("daemon")}x` })).rejects.toThrow(/authorization/i);
  });

  it("refuses one service's password for another's user", async () => {
    await expect(nats.login("daemon", { pass: password("client") })).rejects.toThrow(/authorization/i);
  });
});

describe("refused", () => {
  // nats-server logs every refusal with the user and the subject: the most exact witness.
  const refused = (entry: string) =>
    waitFor(`nats-server to log "${entry}"`, () => nats.violations().includes(entry), 10_000);

  const deniedPublish = async (service: NatsService, subject: string) => {
    const nc = await nats.login(service);
    nc.publish(subject, "x");
    await nc.flush();
    await refused(`${service} Publish ${subject}`);
    await nc.close();
  };

  const deniedSubscribe = async (service: NatsService, subject: string, queue?: string) => {
    const nc = await nats.login(service);
    const sub = nc.subscribe(subject, queue === undefined ? {} : { queue });
    expect(await sub.closed).toMatchObject({ name: "PermissionViolationError" });
    await refused(`${service} Subscription ${subject}`);
    await nc.close();
  };

  describe("publishing events by anyone but the producers (daemon, gateway)", () => {
    it.each(["reader", "client", "writer", "setup"] as const)("%s", (service) =>
      deniedPublish(service, EVENTS_SUBJECT),
    );
  });

  describe("subscribing to events: only the writer's durable consumer reads them", () => {
    it.each(NATS_SERVICES)("%s", (service) => deniedSubscribe(service, EVENTS_SUBJECT));
  });

  describe.each(READER_SUBJECTS)("serving %s by anyone but the reader", (subject) => {
    it.each(["client", "daemon", "writer", "gateway", "setup"] as const)("%s in the readers' queue group", (service) =>
      deniedSubscribe(service, subject, READER_QUEUE),
    );
    it("the reader outside its queue group, where it would see every query", () => deniedSubscribe("reader", subject));
  });

  describe.each(READER_SUBJECTS)("requesting %s by the daemon, the writer and the set-up", (subject) => {
    it.each(["daemon", "writer", "setup"] as const)("%s", (service) => deniedPublish(service, subject));
  });

  describe("deleting or purging a JetStream stream, by any user, the set-up's included", () => {
    const cases = NATS_SERVICES.flatMap((service) =>
      ["$JS.API", STREAMS_API_PREFIX].flatMap((api) =>
        [
          `${api}.STREAM.DELETE.${EVENTS_STREAM}`,
          `${api}.STREAM.PURGE.${EVENTS_STREAM}`,
          `${api}.STREAM.DELETE.${DEAD_LETTER_STREAM}`,
          `${api}.STREAM.DELETE.${AUDIT_STREAM}`,
          `${api}.CONSUMER.DELETE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
        ].map((subject) => [service, subject] as const),
      ),
    );
    it.each(cases)("%s publishing to %s", deniedPublish);

    it("leaves the streams and the consumer in place", async () => {
      const jsm = await setupJsm();
      expect((await jsm.streams.info(EVENTS_STREAM)).config.name).toBe(EVENTS_STREAM);
      expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config.name).toBe(DEAD_LETTER_STREAM);
      expect((await jsm.streams.info(AUDIT_STREAM)).config.name).toBe(AUDIT_STREAM);
      expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).name).toBe(WRITER_CONSUMER);
    });
  });

  describe("changing the topology, by anyone but the set-up", () => {
    const cases = (["daemon", "writer", "gateway", "reader", "client"] as const).flatMap((service) =>
      ["$JS.API", STREAMS_API_PREFIX].flatMap((api) =>
        [
          `${api}.STREAM.UPDATE.${EVENTS_STREAM}`,
          `${api}.STREAM.CREATE.${EVENTS_STREAM}`,
          `${api}.STREAM.UPDATE.${AUDIT_STREAM}`,
          `${api}.CONSUMER.CREATE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
          `${api}.CONSUMER.DURABLE.CREATE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
        ].map((subject) => [service, subject] as const),
      ),
    );
    it.each(cases)("%s publishing to %s", deniedPublish);
  });

  describe("other JetStream and service actions outside each role", () => {
    it.each([
      ["client", "$JS.API.INFO"],
      ["reader", "$JS.API.INFO"],
      ["daemon", `$JS.API.STREAM.INFO.${DEAD_LETTER_STREAM}`],
      ["daemon", `$JS.API.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${WRITER_CONSUMER}`],
      ["gateway", `${STREAMS_API_PREFIX}.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${WRITER_CONSUMER}`],
      ["writer", `${STREAMS_API_PREFIX}.STREAM.MSG.GET.${DEAD_LETTER_STREAM}`],
      ["gateway", `${STREAMS_API_PREFIX}.STREAM.MSG.GET.${DEAD_LETTER_STREAM}`],
      ["writer", `${STREAMS_API_PREFIX}.STREAM.MSG.GET.${AUDIT_STREAM}`],
      ["setup", `$JS.API.STREAM.MSG.GET.${AUDIT_STREAM}`],
      ["reader", DEAD_LETTER_SUBJECT],
      ["daemon", DEAD_LETTER_SUBJECT],
      ["gateway", DEAD_LETTER_SUBJECT],
      ["daemon", AUDIT_SUBJECT],
      ["writer", AUDIT_SUBJECT],
      ["gateway", "$JS.API.STREAM.CREATE.KV_other"],
      ["gateway", `${STREAMS_API_PREFIX}.STREAM.UPDATE.${LIVE_STREAM}`],
      ["gateway", `${STREAMS_API_PREFIX}.STREAM.PURGE.${LIVE_STREAM}`],
      ["gateway", `${STREAMS_API_PREFIX}.CONSUMER.CREATE.${EVENTS_STREAM}.probe`],
      ["writer", `${STREAMS_API_PREFIX}.CONSUMER.CREATE.${LIVE_STREAM}.probe`],
      ["daemon", LIVE_SUBJECT],
      ["gateway", LIVE_SUBJECT],
      ["gateway", `$SRV.PING.${READER_SERVICE}`],
      ["client", `$SRV.PING`],
    ] as const)("%s publishing to %s", deniedPublish);

    it("the client listening to service discovery", () => deniedSubscribe("client", "$SRV.>"));
  });

  describe("reading another user's replies", () => {
    const cases = NATS_SERVICES.flatMap((service) => [
      [service, "_INBOX.>"] as const,
      [service, ">"] as const,
      ...NATS_SERVICES.filter((other) => other !== service).map(
        (other) => [service, `${composeNatsLogin(other).inboxPrefix}.>`] as const,
      ),
    ]);
    it.each(cases)("%s subscribing to %s", (service, subject) => deniedSubscribe(service, subject));
  });
});

describe("allowed", () => {
  it("the daemon publishes events, which the EVENTS stream confirms", async () => {
    const ack = await jetstream(await nats.login("daemon")).publish(EVENTS_SUBJECT, '{"probe":1}');
    expect(ack.stream).toBe(EVENTS_STREAM);
  });

  it("the writer pulls from its durable consumer, acknowledges, and dead-letters, through its imports", async () => {
    await jetstream(await nats.login("daemon")).publish(EVENTS_SUBJECT, '{"probe":2}');
    const writer = await nats.login("writer");
    const js = jetstream(writer, { apiPrefix: STREAMS_API_PREFIX });
    await checkEventsStream(await jetstreamManager(writer, streamsApi), streams);
    const consumer = await js.consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
    const msg = await consumer.next({ expires: 5_000 });
    expect(msg?.subject).toBe(EVENTS_SUBJECT);
    expect(await msg?.ackAck()).toBe(true);
    const record = await js.publish(DEAD_LETTER_SUBJECT, "probe", { msgID: "permissions-probe" });
    expect(record.stream).toBe(DEAD_LETTER_STREAM);
  });

  it.each(READER_SUBJECTS)(
    "the client asks %s and the reader's answer reaches the client's own inbox",
    async (subject) => {
      const { reader } = await serveQueries('{"events":[]}', subject);
      const client = await nats.login("client");
      const reply = await client.request(subject, '{"minCriticality":5}', { timeout: 5_000 });
      expect(reply.string()).toBe('{"events":[]}');
      await reader.close();
    },
  );

  it("the gateway publishes events and audit records, reads the figures and the records, and asks the reader", async () => {
    const gateway = await nats.login("gateway");
    const js = jetstream(gateway, { apiPrefix: STREAMS_API_PREFIX });
    expect((await js.publish(EVENTS_SUBJECT, intrusion("gateway"))).stream).toBe(EVENTS_STREAM);
    const record = await js.publish(AUDIT_SUBJECT, '{"probe":"audit"}');
    expect(record.stream).toBe(AUDIT_STREAM);
    const jsm = await jetstreamManager(gateway, streamsApi);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBeGreaterThan(0);
    expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config.name).toBe(DEAD_LETTER_STREAM);
    expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).name).toBe(WRITER_CONSUMER);
    expect((await jsm.streams.getMessage(AUDIT_STREAM, { seq: record.seq }))?.string()).toBe('{"probe":"audit"}');
    const { reader } = await serveQueries('{"events":[]}');
    expect((await gateway.request(EVENTS_QUERY_SUBJECT, "{}", { timeout: 5_000 })).string()).toBe('{"events":[]}');
    await reader.close();
  });

  it("the gateway's confirmed publisher, on its own inbox, writes events and audit records", async () => {
    const gateway = await nats.login("gateway");
    const publisher = createConfirmedPublish(gateway, { inboxPrefix: composeNatsLogin("gateway").inboxPrefix });
    const payload = new TextEncoder().encode('{"probe":"confirmed audit"}');
    const record = await publisher.publish(AUDIT_SUBJECT, payload, { timeout: 5_000 });
    expect(record.stream).toBe(AUDIT_STREAM);
    const event = await publisher.publish(EVENTS_SUBJECT, new TextEncoder().encode(intrusion("confirmed")), {
      msgID: crypto.randomUUID(),
      timeout: 5_000,
    });
    expect(event.stream).toBe(EVENTS_STREAM);
    const jsm = await jetstreamManager(gateway, streamsApi);
    expect((await jsm.streams.getMessage(AUDIT_STREAM, { seq: record.seq }))?.string()).toBe(
      '{"probe":"confirmed audit"}',
    );
    publisher.close();
  });

  it("the gateway follows LIVE with a consumer of its own, through its imports", async () => {
    await jetstream(await nats.login("daemon")).publish(EVENTS_SUBJECT, intrusion("live"));
    const js = jetstream(await nats.login("gateway"), { apiPrefix: STREAMS_API_PREFIX });
    const ordered = await js.consumers.get(LIVE_STREAM);
    const msg = await ordered.next({ expires: 5_000 });
    expect(msg?.subject).toBe(LIVE_SUBJECT);
  });

  it("the gateway keeps its key-value buckets in its own account", async () => {
    const kv = await new Kvm(await nats.login("gateway")).create(GATEWAY_RATE_BUCKET, { ttl: 60_000 });
    await kv.put("probe", "1");
    expect((await kv.get("probe"))?.string()).toBe("1");
  });

  it("the gateway counts rates over its own inbox: a direct get, then a compare-and-set publish", async () => {
    const gateway = await nats.login("gateway");
    const { inboxPrefix } = composeNatsLogin("gateway");
    await new Kvm(gateway).create(GATEWAY_RATE_BUCKET, { ttl: 60_000 });
    const requests = createInboxRequests(gateway, { inboxPrefix });
    const publisher = createConfirmedPublish(gateway, { inboxPrefix });
    const key = `$KV.${GATEWAY_RATE_BUCKET}.key.inbox-probe.1`;
    const read = () =>
      requests.request(`$JS.API.DIRECT.GET.KV_${GATEWAY_RATE_BUCKET}.${key}`, new Uint8Array(), { timeout: 5_000 });
    expect((await read()).headers?.code).toBe(404);
    const expected = headers();
    expected.set("Nats-Expected-Last-Subject-Sequence", "0");
    const written = await publisher.publish(key, new TextEncoder().encode("3"), { timeout: 5_000, headers: expected });
    const found = await read();
    expect([found.string(), found.headers?.get("Nats-Sequence")]).toEqual(["3", String(written.seq)]);
    requests.close();
    publisher.close();
  });

  it("the client discovers readers through $SRV, answered by the reader", async () => {
    const reader = await nats.login("reader");
    reader.subscribe(`$SRV.PING.${READER_SERVICE}`, {
      callback: (_err, msg) => {
        msg.respond(`{"name":"${READER_SERVICE}"}`);
      },
    });
    await reader.flush();
    const replies = await (await nats.login("client")).requestMany(`$SRV.PING.${READER_SERVICE}`, "", {
      strategy: "count",
      maxMessages: 1,
      maxWait: 5_000,
    });
    const names: string[] = [];
    for await (const reply of replies) names.push(reply.json<{ name: string }>().name);
    expect(names).toEqual([READER_SERVICE]);
    await reader.close();
  });
});

describe("an intruder holding only the daemon's credential", () => {
  // Each attack of the producer-credential review (issue 10, findings 1 to 4), tried with the
  // daemon's password against the deployment's nats.conf. The writer is not consuming, so the
  // events it has not stored yet are all in EVENTS, where an attack would show as a loss.
  const event = intrusion;
  let daemon: NatsConnection;
  let sent = 0;

  beforeAll(async () => {
    daemon = await nats.login("daemon");
  });

  const publishEvents = async (count: number) => {
    const js = jetstream(daemon);
    for (let i = 0; i < count; i++) await js.publish(EVENTS_SUBJECT, event(++sent));
  };

  it("still publishes events and gets JetStream's acknowledgement, across the service import", async () => {
    const ack = await jetstream(daemon).publish(EVENTS_SUBJECT, event(++sent), { msgID: `ack-probe-${sent}` });
    expect(ack.stream).toBe(EVENTS_STREAM);
    expect(ack.duplicate).toBe(false);
  });

  it("cannot even read the stream's configuration: the JetStream API is out of its reach", async () => {
    const jsm = await jetstreamManager(daemon, { checkAPI: false });
    const err = await checkEventsStream(jsm, streams).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPermissionError(err)).toBe(true);
  });

  it.each([
    `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`,
    `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
    `$JS.API.STREAM.PURGE.${DEAD_LETTER_STREAM}`,
    `$JS.API.STREAM.DELETE.${DEAD_LETTER_STREAM}`,
    `$JS.API.STREAM.UPDATE.${EVENTS_STREAM}`,
    `$JS.API.CONSUMER.DELETE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
    `$JS.API.STREAM.MSG.DELETE.${EVENTS_STREAM}`,
    DEAD_LETTER_SUBJECT,
  ])("publishing an event with the reply subject %s reaches only the daemon's own account", async (reply) => {
    await publishEvents(5);
    const before = await streamMessages();
    const expected = { ...before, [EVENTS_STREAM]: Number(before[EVENTS_STREAM]) + 1 };
    const shape = await topology();
    daemon.publish(EVENTS_SUBJECT, event(++sent), { reply });
    await daemon.flush();
    await waitFor(
      "the event to be stored",
      async () => (await streamMessages())[EVENTS_STREAM] === expected[EVENTS_STREAM],
    );
    expect(await streamMessages()).toEqual(expected);
    expect(await topology()).toEqual(shape);
  });

  it("cannot enable rollups, seal the stream or recreate the writers' consumer: refused, nothing changed", async () => {
    await publishEvents(3);
    const before = await streamMessages();
    const shape = await topology();
    const attempts: [string, unknown][] = [
      [`$JS.API.STREAM.UPDATE.${EVENTS_STREAM}`, { ...shape.events, allow_rollup_hdrs: true, deny_purge: false }],
      [`$JS.API.STREAM.UPDATE.${EVENTS_STREAM}`, { ...shape.events, sealed: true }],
      [`$JS.API.STREAM.UPDATE.${DEAD_LETTER_STREAM}`, { ...shape.deadLetters, sealed: true }],
      [
        `$JS.API.CONSUMER.CREATE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
        { stream_name: EVENTS_STREAM, config: { ...shape.consumer, headers_only: true, max_deliver: 1 } },
      ],
      [
        `$JS.API.CONSUMER.DURABLE.CREATE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
        { stream_name: EVENTS_STREAM, config: shape.consumer },
      ],
    ];
    for (const [subject, body] of attempts) {
      daemon.publish(subject, JSON.stringify(body));
      await daemon.flush();
      await waitFor(`nats-server to log "daemon Publish ${subject}"`, () =>
        nats.violations().includes(`daemon Publish ${subject}`),
      );
    }
    expect(await streamMessages()).toEqual(before);
    expect(await topology()).toEqual(shape);
  });

  it("cannot purge by rollup: the stream refuses the rollup header and keeps the backlog", async () => {
    await publishEvents(3);
    const before = await streamMessages();
    const rollup = headers();
    rollup.set("Nats-Rollup", "all");
    await expect(jetstream(daemon).publish(EVENTS_SUBJECT, event(++sent), { headers: rollup })).rejects.toThrow(
      /rollup/i,
    );
    expect(await streamMessages()).toEqual(before);
  });
});

describe("an intruder holding only the writer's credential", () => {
  // The writer acknowledges and dead-letters, and JetStream answers both to whatever reply
  // subject they name. In the stream's account such an answer would be an API request; from
  // WRITERS, across the imports, it can only come back to WRITERS, which has no JetStream.
  let writer: NatsConnection;
  let daemon: NatsConnection;
  let sent = 0;

  beforeAll(async () => {
    writer = await nats.login("writer");
    daemon = await nats.login("daemon");
  });

  const replies = [
    `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
    `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`,
    `$JS.API.STREAM.DELETE.${DEAD_LETTER_STREAM}`,
    `$JS.API.STREAM.DELETE.${AUDIT_STREAM}`,
    `$JS.API.CONSUMER.DELETE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
    `${STREAMS_API_PREFIX}.STREAM.INFO.${EVENTS_STREAM}`,
  ];

  it.each(replies)(
    "a dead-letter record with the reply subject %s is stored, and its acknowledgement changes nothing",
    async (reply) => {
      const before = await streamMessages();
      const shape = await topology();
      writer.publish(DEAD_LETTER_SUBJECT, `forged record ${++sent}`, { reply });
      await writer.flush();
      const expected = { ...before, [DEAD_LETTER_STREAM]: Number(before[DEAD_LETTER_STREAM]) + 1 };
      await waitFor(
        "the record to be stored",
        async () => (await streamMessages())[DEAD_LETTER_STREAM] === expected[DEAD_LETTER_STREAM],
      );
      expect(await streamMessages()).toEqual(expected);
      expect(await topology()).toEqual(shape);
    },
  );

  it.each(replies)(
    "a double acknowledgement with the reply subject %s removes the one event it acknowledges, and nothing else",
    async (reply) => {
      await jetstream(daemon).publish(EVENTS_SUBJECT, intrusion(`ack ${++sent}`));
      await jetstream(daemon).publish(EVENTS_SUBJECT, intrusion(`kept ${++sent}`));
      const before = await streamMessages();
      const shape = await topology();
      // One pull by hand, so that the delivered message's own reply (its ack subject) is visible.
      const inbox = createInbox("_INBOX_writer");
      const delivered = writer.subscribe(inbox, { max: 1 });
      writer.publish(
        `${STREAMS_API_PREFIX}.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
        JSON.stringify({ batch: 1, expires: 5_000_000_000 }),
        { reply: inbox },
      );
      let msg: Msg | undefined;
      for await (const m of delivered) msg = m;
      if (msg === undefined) throw new Error("no event delivered");
      expect(msg.reply).toMatch(/^\$JS\.ACK\.EVENTS\.writer\./);
      // What `ackAck` sends, with the reply subject of the intruder's choice.
      writer.publish(String(msg.reply), "+ACK", { reply });
      await writer.flush();
      const expected = { ...before, [EVENTS_STREAM]: Number(before[EVENTS_STREAM]) - 1 };
      await waitFor(
        "the acknowledged event to leave the work queue",
        async () => (await streamMessages())[EVENTS_STREAM] === expected[EVENTS_STREAM],
      );
      expect(await streamMessages()).toEqual(expected);
      expect(await topology()).toEqual(shape);
    },
  );
});

describe("an intruder holding only the gateway's credential", () => {
  // The gateway publishes events and audit records; both are imported from INGEST, so the
  // acknowledgement of either can only come back to GATEWAY. (A reply subject can still reach
  // GATEWAY's own JetStream, which holds only the gateway's key-value buckets: SECURITY.md.)
  let gateway: NatsConnection;
  let sent = 0;

  beforeAll(async () => {
    gateway = await nats.login("gateway");
  });

  it.each([
    [EVENTS_SUBJECT, `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`],
    [EVENTS_SUBJECT, `$JS.API.STREAM.DELETE.${AUDIT_STREAM}`],
    [EVENTS_SUBJECT, `${STREAMS_API_PREFIX}.STREAM.INFO.${AUDIT_STREAM}`],
    [AUDIT_SUBJECT, `$JS.API.STREAM.DELETE.${AUDIT_STREAM}`],
    [AUDIT_SUBJECT, `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`],
  ])(
    "publishing on %s with the reply subject %s stores the message and changes nothing else",
    async (subject, reply) => {
      const before = await streamMessages();
      const shape = await topology();
      const stream = subject === EVENTS_SUBJECT ? EVENTS_STREAM : AUDIT_STREAM;
      gateway.publish(subject, intrusion(`gateway ${++sent}`), { reply });
      await gateway.flush();
      const expected = { ...before, [stream]: Number(before[stream]) + 1 };
      await waitFor("the message to be stored", async () => (await streamMessages())[stream] === expected[stream]);
      expect(await streamMessages()).toEqual(expected);
      expect(await topology()).toEqual(shape);
    },
  );
});

describe("the reader cannot be used to publish for a client", () => {
  // The reader may publish to any reply subject it is given. Were the client in its account, a
  // request naming $JS.API.STREAM.PURGE.EVENTS as its reply subject would purge every unwritten
  // event with the reader's answer. The service import hands the reader a subject of the server's
  // own instead, which leads back into the client's account only.
  const hijacked = [
    `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`,
    `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
    EVENTS_SUBJECT,
    DEAD_LETTER_SUBJECT,
  ];

  it.each(hijacked)("a request whose reply subject is %s changes no stream", async (replySubject) => {
    await jetstream(await nats.login("daemon")).publish(EVENTS_SUBJECT, '{"probe":"kept"}');
    const before = await streamMessages();
    const { reader, seen } = await serveQueries("{}");
    const client = await nats.login("client");
    client.publish(EVENTS_QUERY_SUBJECT, '{"minCriticality":5}', { reply: replySubject });
    await client.flush();
    await waitFor("the reader to answer", () => seen.length === 1);
    await reader.flush();
    expect(seen[0]).not.toBe(replySubject);
    expect(seen[0]).toMatch(/^_R_\./);
    expect(await streamMessages()).toEqual(before);
    expect(before[EVENTS_STREAM]).toBeGreaterThan(0);
    await reader.close();
  });
});

describe("limits", () => {
  const KIB = 1024;

  it.each([
    ["setup", 64 * KIB],
    ["daemon", 64 * KIB],
    ["writer", 64 * KIB],
    ["gateway", 64 * KIB],
    ["reader", 8 * KIB * KIB],
    ["client", 8 * KIB],
  ] as const)("%s may publish at most %i bytes per message", async (service, limit) => {
    const nc = await nats.login(service);
    // The server's first INFO carries its own max_payload; the account's comes in an INFO it sends
    // once the login is processed, which may arrive after the connection is up.
    await waitFor(`the ${service} account's max_payload in INFO`, () => nc.info?.max_payload === limit, 10_000).catch(
      () => undefined,
    );
    expect(nc.info?.max_payload).toBe(limit);
  });

  it.each([
    ["daemon", EVENTS_SUBJECT, 64 * KIB],
    ["client", EVENTS_QUERY_SUBJECT, 8 * KIB],
  ] as const)("the server itself refuses %s a message on %s of more than %i bytes", async (service, subject, limit) => {
    await rawSession(nats, service, rawPublish(subject, limit + 1));
    // The client may never read the -ERR when the server resets the connection; its log is exact.
    const entry = `maximum payload exceeded: ${limit + 1} vs ${limit}`;
    await waitFor(`nats-server to log "${entry}"`, () => nats.process.output().includes(entry));
  });

  it("lets a reply larger than the client's own limit reach it", async () => {
    const { reader } = await serveQueries(new Uint8Array(1024 * KIB));
    const reply = await (await nats.login("client")).request(EVENTS_QUERY_SUBJECT, "{}", { timeout: 5_000 });
    expect(reply.data.byteLength).toBe(1024 * KIB);
    await reader.close();
  });

  it("caps the subscriptions of one connection", async () => {
    const nc = await nats.login("client");
    const errors: string[] = [];
    void (async () => {
      for await (const status of nc.status()) if (status.type === "error") errors.push(status.error.message);
    })();
    for (let i = 0; i < 130; i++) nc.subscribe(`_INBOX_client.capped.${i}`);
    await nc.flush();
    await waitFor("the server to refuse the 129th subscription", () =>
      errors.some((message) => /maximum subscriptions exceeded/i.test(message)),
    );
    expect(nc.isClosed()).toBe(false);
  });

  describe("connections, shared out per account", () => {
    let small: ComposeNats;
    const conns: NatsConnection[] = [];

    beforeAll(async () => {
      small = await startComposeNats({
        secrets,
        storeDir: join(dir, "jetstream-small"),
        env: {
          NATS_MAX_CONNECTIONS: "12",
          NATS_PRODUCERS_MAX_CONNECTIONS: "2",
          NATS_INGEST_MAX_CONNECTIONS: "2",
          NATS_WRITERS_MAX_CONNECTIONS: "2",
          NATS_QUERY_MAX_CONNECTIONS: "2",
          NATS_CLIENTS_MAX_CONNECTIONS: "2",
          NATS_GATEWAY_MAX_CONNECTIONS: "2",
        },
      });
    });

    afterAll(async () => {
      await Promise.allSettled(conns.map((nc) => nc.close()));
      await small?.stop();
    });

    it("refuses clients beyond their share, while the services still connect", async () => {
      for (let i = 0; i < 2; i++) conns.push(await small.login("client"));
      // The server refuses and closes at once, which the client sees as the -ERR or a broken pipe.
      await expect(small.login("client")).rejects.toThrow();
      await waitFor("nats-server to log the refusal", () =>
        small.process.output().includes("maximum account active connections exceeded"),
      );
      conns.push(
        await small.login("reader"),
        await small.login("daemon"),
        await small.login("writer"),
        await small.login("gateway"),
        await small.login("setup"),
      );
      await Promise.all(conns.map((nc) => nc.flush()));
    });
  });
});
