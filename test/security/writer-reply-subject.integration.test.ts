/**
 * The writer's reply-subject path (SECURITY.md, "JetStream as a deputy inside INGEST"). The writer
 * is still in the stream's account, and JetStream answers two of its publishes to whatever reply
 * subject they name, in that account's name: the acknowledgement of a dead-letter record, and the
 * confirmation of a double acknowledgement (`AckSync`). With the writer's credential, against the
 * real deploy/nats/nats.conf and nats-server 2.11.10, this file tries both with reply subjects of
 * the JetStream API, each on a server of its own, since a successful attempt destroys a stream.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger, ensureDeadLetterStream, ensureEventsStream, StreamEnv } from "@vigil/runtime";
import { DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT, EVENTS_STREAM, EVENTS_SUBJECT, WRITER_CONSUMER } from "@vigil/shared";
import { waitFor } from "@vigil/testing";
import { ensureWriterConsumer, WriterConsumerEnv, writerConsumerSettings } from "@vigil/writer";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type ComposeNats, generateSecrets, startComposeNats } from "../../deploy/checks/compose-nats.js";

const log = createLogger("writer-reply-subject", "silent");
const streams = StreamEnv.parse({});

let dir: string;
let nats: ComposeNats;
let writer: NatsConnection;
let jsm: JetStreamManager;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-writer-reply-"));
  const secrets = join(dir, "vigil");
  const generated = generateSecrets(secrets);
  if (generated.status !== 0) throw new Error(`deploy/init/secrets.sh failed: ${generated.stderr}`);
  nats = await startComposeNats({ secrets, storeDir: join(dir, "jetstream") });
  writer = await nats.login("writer");
  jsm = await jetstreamManager(writer);
  await ensureEventsStream(jsm, streams, log);
  await ensureWriterConsumer(jsm, writerConsumerSettings(WriterConsumerEnv.parse({})), log);
  await ensureDeadLetterStream(jsm, streams, log);
  const daemon = jetstream(await nats.login("daemon"));
  for (let n = 0; n < 3; n++) await daemon.publish(EVENTS_SUBJECT, `{"backlog":${n}}`);
});

afterEach(async () => {
  await nats?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Messages per stream; a stream that no longer exists counts as `"deleted"`. */
const streamState = async () => {
  const state: Record<string, number | "deleted"> = {};
  for (const name of [EVENTS_STREAM, DEAD_LETTER_STREAM]) {
    state[name] = await jsm.streams.info(name).then(
      (info) => info.state.messages,
      () => "deleted" as const,
    );
  }
  return state;
};

it.each([
  `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
  `$JS.API.STREAM.DELETE.${DEAD_LETTER_STREAM}`,
  `$JS.API.CONSUMER.DELETE.${EVENTS_STREAM}.${WRITER_CONSUMER}`,
])(
  "a dead-letter record published with the reply subject %s is stored, and the acknowledgement deletes nothing",
  async (reply) => {
    writer.publish(DEAD_LETTER_SUBJECT, "forged record", { reply });
    await writer.flush();
    await waitFor("the record to be stored", async () => (await streamState())[DEAD_LETTER_STREAM] === 1);
    expect(await streamState()).toEqual({ [EVENTS_STREAM]: 3, [DEAD_LETTER_STREAM]: 1 });
    expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).name).toBe(WRITER_CONSUMER);
  },
);

// Open (SECURITY.md, "Not covered"): the consumer sends the confirmation of an acknowledgement
// that names a reply subject from inside INGEST, where the JetStream API takes it as a request.
// `it.fails` passes while the attack still works, and fails, so that SECURITY.md gets corrected,
// once a change of the deployment closes it.
it.fails.each([`$JS.API.STREAM.DELETE.${DEAD_LETTER_STREAM}`, `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`])(
  "OPEN: an acknowledgement with the reply subject %s leaves both streams in place",
  async (reply) => {
    const consumer = await jetstream(writer).consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
    const msg = await consumer.next({ expires: 5_000 });
    if (msg === null) throw new Error("no event was handed to the writer");
    // The message's ack subject: the JsMsg type does not declare it, its implementation has it.
    const { reply: ackSubject } = msg as unknown as { reply: string };
    writer.publish(ackSubject, "+ACK", { reply });
    await writer.flush();
    await waitFor("the acknowledgement to be processed", async () => {
      const state = await streamState();
      return state[EVENTS_STREAM] !== 3;
    });
    expect(await streamState()).toEqual({ [EVENTS_STREAM]: 2, [DEAD_LETTER_STREAM]: 0 });
  },
);
