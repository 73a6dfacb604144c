import type { NatsConnection } from "@nats-io/nats-core";
import { type ServiceMsg, Svcm } from "@nats-io/services";
import { type InfluxClient, watchInflux } from "@vigil/influx";
import { createCoalescer, type Logger } from "@vigil/runtime";
import {
  type AggregatesReply,
  type ErrorReply,
  EVENTS_AGGREGATES_SUBJECT,
  EVENTS_QUERY_SUBJECT,
  type EventsQueryReply,
  encodeJson,
  errorReply,
  QUERY_ERROR_CODES,
  type QueryErrorCode,
  READER_QUEUE,
  READER_SERVICE,
} from "@vigil/shared";
import { Registry } from "prom-client";
import { type Answer, answerAggregates, answerQuery } from "./answer-query.js";
import { createByteBudget } from "./byte-budget.js";
import { createConcurrencyLimit } from "./concurrency-limit.js";
import type { ReaderSettings } from "./config.js";
import { createReaderMetrics } from "./metrics.js";

/** What the reader runs on. The caller owns the connection and closes it after {@link Reader.stop}. */
export interface ReaderDeps {
  readonly nc: NatsConnection;
  /** Client with read access to the events database; its timeout should be `settings.queryTimeoutMs`. */
  readonly influx: InfluxClient;
  readonly log: Logger;
  /** Where the reader's metrics are registered; a private registry when absent. */
  readonly registry?: Registry;
}

/** A running reader instance. */
export interface Reader {
  /** The instance id reported by `$SRV.PING`/`INFO`/`STATS`. */
  readonly id: string;
  /** Whether InfluxDB answered the last ping or query. */
  storageReachable(): boolean;
  /** Whether the service still takes requests. */
  answering(): boolean;
  /** Settles when the service stops: `null` after {@link Reader.stop}, the cause when it stopped on its own. */
  readonly stopped: Promise<Error | null>;
  /** Stops taking requests, then resolves once every request already taken has been answered. */
  stop(): Promise<void>;
}

/** The service's endpoints, as listed by `$SRV.INFO`: their names, subjects and how each request is answered. */
const ENDPOINTS = [
  { name: "events-query", subject: EVENTS_QUERY_SUBJECT, answer: answerQuery },
  { name: "events-aggregates", subject: EVENTS_AGGREGATES_SUBJECT, answer: answerAggregates },
] as const;

/** Smallest `max_payload` a NATS server may announce; used when the server announced none. */
const DEFAULT_MAX_PAYLOAD = 1_048_576;

/**
 * Registers the reader as the NATS service {@link READER_SERVICE} and answers `events.query` in
 * the queue group {@link READER_QUEUE}, so that any number of instances share the requests.
 */
export const startReader = async (deps: ReaderDeps, settings: ReaderSettings): Promise<Reader> => {
  const log = deps.log.child({ module: "reader" });
  const limit = createConcurrencyLimit(settings.maxConcurrent, settings.maxQueued);
  const budget = createByteBudget(settings.maxBytesInFlight, settings.maxQueued);
  const metrics = createReaderMetrics(deps.registry ?? new Registry(), limit, budget);
  const service = await new Svcm(deps.nc).add({
    name: READER_SERVICE,
    version: settings.version,
    description:
      "Answers events.query (the newest events above a criticality threshold) and events.aggregates (counts per criticality over a window), from InfluxDB",
    queue: READER_QUEUE,
  });
  const health = watchInflux(deps.influx, settings.healthIntervalMs, deps.log.child({ module: "storage-health" }), {
    down: "InfluxDB does not answer; queries get STORAGE_UNAVAILABLE until it does",
    back: "InfluxDB answers",
  });
  const queryDeps = {
    influx: deps.influx,
    limit,
    timeoutMs: settings.queryTimeoutMs,
    log: deps.log.child({ module: "answer-query" }),
    onStorage: health.record,
    coalescer: createCoalescer(),
    maxAnswerBytes: settings.maxAnswerBytes,
    windowsMs: settings.queryWindowsMs,
    aggregateSlices: settings.aggregateSlices,
    onSteps: metrics.observeSteps,
  };
  const inFlight = new Set<Promise<void>>();

  // A request holds its share of the byte budget from before InfluxDB's answer is read until its
  // reply has left the process: the flush resolves once the server has everything sent before it.
  const handle = async (msg: ServiceMsg, answerWith: (typeof ENDPOINTS)[number]["answer"]): Promise<void> => {
    const started = performance.now();
    const reservation = budget.reserve();
    let answer: Answer<EventsQueryReply | AggregatesReply>;
    try {
      try {
        answer = await answerWith(msg.data, { ...queryDeps, reserve: reservation.acquire });
      } catch (err) {
        log.error({ err }, "query handler failed");
        answer = { ok: false, reply: errorReply("INTERNAL", "the reader failed to answer; see its log") };
      }
      const code = respond(msg, answer, deps.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD, log);
      metrics.observe((performance.now() - started) / 1_000, code);
      await deps.nc.flush().catch(() => undefined);
    } finally {
      reservation.release();
    }
  };

  for (const endpoint of ENDPOINTS) {
    service.addEndpoint(endpoint.name, {
      subject: endpoint.subject,
      handler: (err, msg) => {
        if (err !== null) {
          log.error({ err, subject: endpoint.subject }, "query subscription failed");
          return;
        }
        const handling = handle(msg, endpoint.answer).finally(() => inFlight.delete(handling));
        inFlight.add(handling);
      },
    });
  }
  try {
    // Once this resolves the server knows the subscription, so a request sent next reaches it.
    await deps.nc.flush();
  } catch (err) {
    health.stop();
    await service.stop().catch(() => null);
    throw err;
  }
  log.info(
    {
      subjects: ENDPOINTS.map((endpoint) => endpoint.subject),
      queue: READER_QUEUE,
      id: service.info().id,
      ...settings,
    },
    "answering queries",
  );

  return {
    id: service.info().id,
    storageReachable: () => health.reachable,
    answering: () => !service.isStopped,
    stopped: service.stopped.then((err) => {
      if (err !== null) log.error({ err }, "the service stopped on its own: no more queries are answered");
      return err;
    }),
    async stop() {
      // Draining the subscriptions lets messages already delivered reach the handler, so wait
      // for the service first and only then for the requests it handed over.
      await service.stop();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      health.stop();
      log.info("stopped answering queries");
    },
  };
};

/** Sends `answer`, returning the error code it carried, if any. */
const respond = (
  msg: ServiceMsg,
  answer: Answer<EventsQueryReply | AggregatesReply>,
  maxPayload: number,
  log: Logger,
): QueryErrorCode | undefined => {
  if (answer.ok) {
    const body = encodeJson(answer.reply);
    if (body.byteLength <= maxPayload) {
      send(() => msg.respond(body), log);
      return undefined;
    }
    return respondError(
      msg,
      errorReply(
        "PAYLOAD_TOO_LARGE",
        `the reply would be ${body.byteLength} bytes, more than the NATS limit of ${maxPayload}; ask for fewer events`,
      ),
      log,
    );
  }
  return respondError(msg, answer.reply, log);
};

const respondError = (msg: ServiceMsg, reply: ErrorReply, log: Logger): QueryErrorCode => {
  const { code, message } = reply.error;
  // A header value cannot span lines; the JSON body keeps the message as it is.
  const description = message.replace(/[\r\n]+/g, " ");
  send(() => msg.respondError(QUERY_ERROR_CODES[code], description, encodeJson(reply)), log);
  return code;
};

const send = (publish: () => boolean, log: Logger): void => {
  try {
    publish();
  } catch (err) {
    // The requester may be gone, or the connection closing: nothing else can be done for it.
    log.warn({ err }, "could not send a reply");
  }
};
