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
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import {
  checkEventsStream,
  createLogger,
  ensureDeadLetterStream,
  ensureEventsStream,
  isPermissionError,
  StreamEnv,
} from "@vigil/runtime";
import {
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECT,
  EVENTS_AGGREGATES_SUBJECT,
  EVENTS_QUERY_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  READER_QUEUE,
  READER_SERVICE,
  WRITER_CONSUMER,
} from "@vigil/shared";
import { waitFor } from "@vigil/testing";
import { ensureWriterConsumer, WriterConsumerEnv, writerConsumerSettings } from "@vigil/writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ComposeNats,
  composeNatsLogin,
  generateSecrets,
  NATS_SERVICES,
  type NatsService,
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

let writerConnection: NatsConnection | undefined;
/** One connection with the writer's credentials for the tests' own look at the streams. */
const writerJsm = async () => {
  writerConnection ??= await nats.login("writer");
  return jetstreamManager(writerConnection);
};

/** The messages in each stream, asked through the JetStream API with the writer's credentials. */
const streamMessages = async (): Promise<Record<string, number>> => {
  const jsm = await writerJsm();
  return {
    [EVENTS_STREAM]: (await jsm.streams.info(EVENTS_STREAM)).state.messages,
    [DEAD_LETTER_STREAM]: (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages,
  };
};

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
  // The topology the writer creates, with its own code and credentials.
  const writerJsm = await jetstreamManager(await nats.login("writer"));
  await ensureEventsStream(writerJsm, streams, log);
  await ensureWriterConsumer(writerJsm, writerConsumerSettings(WriterConsumerEnv.parse({})), log);
  await ensureDeadLetterStream(writerJsm, streams, log);
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
  };

  const deniedSubscribe = async (service: NatsService, subject: string, queue?: string) => {
    const nc = await nats.login(service);
    const sub = nc.subscribe(subject, queue === undefined ? {} : { queue });
    expect(await sub.closed).toMatchObject({ name: "PermissionViolationError" });
    await refused(`${service} Subscription ${subject}`);
  };

  describe("publishing events by anyone but the daemon", () => {
    it.each(["reader", "client", "writer"] as const)("%s", (service) => deniedPublish(service, EVENTS_SUBJECT));
  });

  describe("subscribing to events: only the writer's durable consumer reads them", () => {
    it.each(["daemon", "client", "writer", "reader"] as const)("%s", (service) =>
      deniedSubscribe(service, EVENTS_SUBJECT),
    );
  });

  describe.each(READER_SUBJECTS)("serving %s by anyone but the reader", (subject) => {
    it.each(["client", "daemon", "writer"] as const)("%s in the readers' queue group", (service) =>
      deniedSubscribe(service, subject, READER_QUEUE),
    );
    it("the reader outside its queue group, where it would see every query", () => deniedSubscribe("reader", subject));
  });

  describe.each(READER_SUBJECTS)("requesting %s by the daemon and the writer", (subject) => {
    it.each(["daemon", "writer"] as const)("%s", (service) => deniedPublish(service, subject));
  });

  describe("deleting or purging a JetStream stream, by any service", () => {
    const cases = NATS_SERVICES.flatMap((service) =>
      [
        `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
        `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`,
        `$JS.API.STREAM.DELETE.${DEAD_LETTER_STREAM}`,
        `$JS.API.CONSUMER.DELETE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
      ].map((subject) => [service, subject] as const),
    );
    it.each(cases)("%s publishing to %s", deniedPublish);

    it("leaves both streams and the consumer in place", async () => {
      const jsm = await jetstreamManager(await nats.login("writer"));
      expect((await jsm.streams.info(EVENTS_STREAM)).config.name).toBe(EVENTS_STREAM);
      expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config.name).toBe(DEAD_LETTER_STREAM);
      expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).name).toBe(WRITER_CONSUMER);
    });
  });

  describe("other JetStream and service actions outside each role", () => {
    it.each([
      ["client", "$JS.API.INFO"],
      ["reader", "$JS.API.INFO"],
      ["daemon", `$JS.API.STREAM.INFO.${DEAD_LETTER_STREAM}`],
      ["daemon", `$JS.API.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${WRITER_CONSUMER}`],
      ["writer", `$JS.API.STREAM.MSG.GET.${DEAD_LETTER_STREAM}`],
      ["reader", DEAD_LETTER_SUBJECT],
      ["daemon", DEAD_LETTER_SUBJECT],
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

  it("the writer pulls from its durable consumer, acknowledges, and dead-letters", async () => {
    await jetstream(await nats.login("daemon")).publish(EVENTS_SUBJECT, '{"probe":2}');
    const js = jetstream(await nats.login("writer"));
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
  const event = (n: number) =>
    JSON.stringify({ criticality: 9, timestamp: new Date().toISOString(), eventMessage: `intrusion ${n}` });
  let daemon: NatsConnection;
  let sent = 0;

  beforeAll(async () => {
    daemon = await nats.login("daemon");
  });

  const publishEvents = async (count: number) => {
    const js = jetstream(daemon);
    for (let i = 0; i < count; i++) await js.publish(EVENTS_SUBJECT, event(++sent));
  };

  const topology = async () => {
    const jsm = await writerJsm();
    return {
      events: (await jsm.streams.info(EVENTS_STREAM)).config,
      deadLetters: (await jsm.streams.info(DEAD_LETTER_STREAM)).config,
      consumer: (await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config,
    };
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
    const expected = { ...before, [EVENTS_STREAM]: (before[EVENTS_STREAM] ?? 0) + 1 };
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
    ["daemon", 64 * KIB],
    ["writer", 64 * KIB],
    ["reader", 8 * KIB * KIB],
    ["client", 8 * KIB],
  ] as const)("%s may publish at most %i bytes per message", async (service, limit) => {
    const nc = await nats.login(service);
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
          NATS_MAX_CONNECTIONS: "8",
          NATS_PRODUCERS_MAX_CONNECTIONS: "2",
          NATS_INGEST_MAX_CONNECTIONS: "2",
          NATS_QUERY_MAX_CONNECTIONS: "2",
          NATS_CLIENTS_MAX_CONNECTIONS: "2",
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
      conns.push(await small.login("reader"), await small.login("daemon"), await small.login("writer"));
      await Promise.all(conns.map((nc) => nc.flush()));
    });
  });
});
