import { JetStreamApiError, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * The payloads stored in `stream`, oldest first, read one by one by sequence. Work-queue streams
 * refuse the ordered consumers that would otherwise read them, and this leaves nothing behind.
 */
export const readStreamPayloads = async (nc: NatsConnection, stream: string): Promise<Uint8Array[]> => {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const payloads: Uint8Array[] = [];
  if (state.messages === 0) return payloads;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const stored = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (stored !== null) payloads.push(stored.data);
  }
  return payloads;
};

/** JetStream API error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/**
 * Deletes each of `streams` that exists, so that a test starts from nothing. Any failure other than
 * "stream not found" is thrown: a stream left behind by a delete that timed out on a busy machine
 * would otherwise carry one test's events into the next.
 */
export const removeStreams = async (jsm: JetStreamManager, ...streams: string[]): Promise<void> => {
  for (const stream of streams) {
    await jsm.streams.delete(stream).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND)) throw err;
    });
  }
};
