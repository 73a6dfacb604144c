import { randomUUID } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { ConfirmedPublish } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent, MAX_EVENT_BYTES, type SecurityEvent } from "@vigil/shared";
import { ApiError } from "./errors.js";

/** Seconds a client is told to wait when JetStream cannot take events. */
const RETRY_AFTER_SECONDS = 2;

/** Stores events in the EVENTS stream through JetStream, one confirmed publish each. */
export interface EventIngest {
  /**
   * Resolves to the event's id once JetStream confirmed it (a retry with the same id is stored
   * once); rejects with `UNAVAILABLE` when NATS or the stream cannot take it, or
   * `PAYLOAD_TOO_LARGE` when the encoded event is over the suite's limit.
   */
  store(event: SecurityEvent): Promise<string>;
}

/** What {@link createEventIngest} runs on. */
export interface EventIngestDeps {
  readonly publisher: ConfirmedPublish;
  /** Whether the NATS connection is up now: while it is not, the answer is 503 at once, not after a timeout. */
  readonly connected: () => boolean;
  readonly timeoutMs: number;
}

export const createEventIngest = (deps: EventIngestDeps): EventIngest => ({
  async store(event) {
    const id = event.id ?? randomUUID();
    const payload = encodeEvent({ ...event, id });
    if (payload.byteLength > MAX_EVENT_BYTES) {
      throw new ApiError(
        "PAYLOAD_TOO_LARGE",
        `the event is ${payload.byteLength} bytes encoded; the limit is ${MAX_EVENT_BYTES}`,
        {
          limit: "eventBytes",
        },
      );
    }
    if (!deps.connected()) {
      throw new ApiError("UNAVAILABLE", "NATS is not reachable; the event was not stored", {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
    try {
      await deps.publisher.publish(EVENTS_SUBJECT, payload, { msgID: id, timeout: deps.timeoutMs });
    } catch (cause) {
      const why =
        cause instanceof JetStreamApiError
          ? `the stream refused the event (${cause.message})`
          : "JetStream did not confirm the event";
      throw new ApiError("UNAVAILABLE", `${why}; it may or may not be stored: retry with the same id`, {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
        cause,
      });
    }
    return id;
  },
});
