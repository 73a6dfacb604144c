import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";

/**
 * How a service reaches the account that holds the streams (EVENTS, DEADLETTERS, AUDIT), and
 * whether it may shape them. Read by the services that use the streams' API (writer, gateway)
 * and by the set-up; the daemon only publishes and has DAEMON_ENSURE_STREAM instead.
 */
export const StreamsAccessEnv = z.object({
  /**
   * Where that account's JetStream API answers: `$JS.API` when the service shares the account
   * (a single-account server, the tests); in the compose deployment each service has an account
   * of its own that imports a few subjects of that API as `$JS.INGEST.API.…` (deploy/nats/nats.conf).
   */
  NATS_STREAMS_API_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "expected subject tokens such as $JS.INGEST.API")
    .default("$JS.API"),
  /**
   * `ensure`: the service creates what is missing of the streams and the consumer it uses, and
   * corrects what an update can correct (its credential must allow that). `check`: it changes
   * nothing and refuses to start on a topology that differs from the contract; the set-up
   * (the writer image's `node dist/setup/main.js`) creates it with a credential no long-running
   * service holds.
   */
  NATS_TOPOLOGY: z.enum(["ensure", "check"]).default("ensure"),
});
export type StreamsAccessEnv = z.infer<typeof StreamsAccessEnv>;

/** What a service that only checks the topology says when a part of it is missing. */
export const CREATE_TOPOLOGY_FIRST =
  "create the topology first: run the set-up (compose: the nats-setup service; or a writer with NATS_TOPOLOGY=ensure)";

/** The parsed {@link StreamsAccessEnv}. */
export interface StreamsAccess {
  readonly apiPrefix: string;
  readonly mode: "ensure" | "check";
}

export const streamsAccess = (env: StreamsAccessEnv): StreamsAccess =>
  Object.freeze({ apiPrefix: env.NATS_STREAMS_API_PREFIX, mode: env.NATS_TOPOLOGY });

/**
 * The JetStream client and manager of the streams' account. No `$JS.API.INFO` check: behind an
 * import a service may read only the infos it needs.
 */
export const streamsJetStream = async (
  nc: NatsConnection,
  access: StreamsAccess,
): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> => ({
  js: jetstream(nc, { apiPrefix: access.apiPrefix }),
  jsm: await jetstreamManager(nc, { apiPrefix: access.apiPrefix, checkAPI: false }),
});
