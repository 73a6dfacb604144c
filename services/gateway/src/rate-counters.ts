import { DirectMsgHeaders, PubHeaders } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers } from "@nats-io/nats-core";
import type { ConfirmedPublish, InboxRequests } from "@vigil/runtime";

/** A counter's value and the revision a write must follow (0: the key has none). */
export interface RateCount {
  readonly count: number;
  readonly revision: number;
}

/** The rate counters of every gateway, in one key-value bucket, raised by compare-and-set. */
export interface RateCounters {
  /** The key's count; 0 at revision 0 when it has none, 0 at the marker's revision when it was deleted. */
  read(key: string): Promise<RateCount>;
  /**
   * Sets the key to `count` only if its latest revision is still `revision`; otherwise rejects with
   * JetStream's "wrong last sequence" (`JetStreamApiError` 10071), as `KV.update` does.
   */
  write(key: string, count: number, revision: number): Promise<void>;
}

/** A direct get answered with something that is not a counter. */
export class RateCounterError extends Error {
  override readonly name = "RateCounterError";
}

/** What {@link openRateCounters} runs on. */
export interface RateCountersDeps {
  /** Asks the bucket's stream for a key's last message (the gateway's own inbox). */
  readonly requests: Pick<InboxRequests, "request">;
  /** Writes a counter and waits for the stream's acknowledgement. */
  readonly publisher: Pick<ConfirmedPublish, "publish">;
  readonly timeoutMs: number;
}

const EMPTY = new Uint8Array(0);
/** The header with which the key-value client marks a deleted or purged key. */
const KV_OPERATION = "KV-Operation";
/** The key-value client's rule for keys: no wildcard, no space, no empty token (checked below). */
const VALID_KEY = /^[-/_=.a-zA-Z0-9]+$/;

const checkKey = (key: string): void => {
  if (!VALID_KEY.test(key) || key.startsWith(".") || key.endsWith(".") || key.includes("..")) {
    throw new RateCounterError(`not a valid counter key: ${JSON.stringify(key)}`);
  }
};
const encoder = new TextEncoder();

/** Reads a direct get's reply: the key's last message, or a status. */
const readCount = (key: string, reply: Awaited<ReturnType<InboxRequests["request"]>>): RateCount => {
  const code = reply.headers?.code ?? 0;
  if (code === 404) return { count: 0, revision: 0 };
  if (code !== 0 || reply.headers === undefined) {
    throw new RateCounterError(`the counter ${key} could not be read: ${code} ${reply.headers?.description ?? ""}`);
  }
  const revision = Number(reply.headers.get(DirectMsgHeaders.Sequence));
  if (!Number.isSafeInteger(revision) || revision <= 0) {
    throw new RateCounterError(`the counter ${key} came without its sequence`);
  }
  const operation = reply.headers.get(KV_OPERATION);
  if (operation === "DEL" || operation === "PURGE") return { count: 0, revision };
  return { count: Number(reply.string()), revision };
};

/**
 * The counters in `kv`, spoken as the key-value client speaks them, without its per-call cost: a
 * read is the direct get `KV.get` sends (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`) and a
 * write the publish `KV.create`/`KV.update` sends (`$KV.<bucket>.<key>` with
 * `Nats-Expected-Last-Subject-Sequence`), so that JetStream still makes each write a
 * compare-and-set shared by every gateway. Both go over a wildcard inbox: nats.js's own requests
 * built three stack-capturing errors and a timer each, a sizeable part of the gateway's CPU at a
 * thousand requests a second (BENCHMARKS.md, "Gateway"). Rejects when the bucket does not allow
 * direct gets (every bucket `Kvm.create` makes on nats-server 2.9 and later does).
 */
export const openRateCounters = async (kv: KV, deps: RateCountersDeps): Promise<RateCounters> => {
  const { bucket, streamInfo } = await kv.status();
  if (streamInfo.config.allow_direct !== true) {
    throw new RateCounterError(`the key-value bucket ${bucket} does not allow direct gets`);
  }
  const getPrefix = `$JS.API.DIRECT.GET.${streamInfo.config.name}.$KV.${bucket}.`;
  const putPrefix = `$KV.${bucket}.`;
  // Encoded synchronously inside the publish, so one instance serves every write.
  const expected = headers();
  return {
    async read(key) {
      checkKey(key);
      return readCount(key, await deps.requests.request(getPrefix + key, EMPTY, { timeout: deps.timeoutMs }));
    },
    async write(key, count, revision) {
      checkKey(key);
      expected.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(revision));
      await deps.publisher.publish(putPrefix + key, encoder.encode(String(count)), {
        timeout: deps.timeoutMs,
        headers: expected,
      });
    },
  };
};
