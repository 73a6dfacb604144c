import {
  answerBytesBound,
  type BoundStatement,
  countByCriticalityStatement,
  decodeCountRows,
  decodeEventRows,
  type InfluxClient,
  InfluxResponseTooLargeError,
  InfluxUnavailableError,
  latestEventsStatement,
  type QuerySeries,
} from "@vigil/influx";
import { type Coalescer, type Logger, untilAborted } from "@vigil/runtime";
import {
  type AggregatesReply,
  decodeAggregatesQuery,
  decodeQuery,
  type ErrorReply,
  type EventsQueryReply,
  errorReply,
} from "@vigil/shared";
import { sliceWindow } from "./aggregate-slices.js";
import { type ConcurrencyLimit, OverloadedError } from "./concurrency-limit.js";
import { readNewestFirst } from "./query-windows.js";

/** No answer came within the reader's query timeout (waiting for a slot included). */
export class QueryTimeoutError extends Error {
  override readonly name = "QueryTimeoutError";
}

/** What {@link answerQuery} needs. */
export interface QueryDeps {
  /** Client with read access to the events database. */
  readonly influx: InfluxClient;
  /** Bounds the queries sent to InfluxDB at once, and the requests waiting for one. */
  readonly limit: ConcurrencyLimit;
  /** Longest a request may take, queueing included, before it is answered with an error. */
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Told after every InfluxDB query whether InfluxDB answered, for readiness. */
  readonly onStorage?: (reachable: boolean) => void;
  /** When given, identical requests in flight at the same time share one InfluxDB query. */
  readonly coalescer?: Coalescer;
  /**
   * Most bytes of InfluxDB's answer to one query; a larger answer is abandoned as it streams in
   * and the request answered `PAYLOAD_TOO_LARGE`. Unbounded when absent.
   */
  readonly maxAnswerBytes?: number;
  /**
   * Holds `bytes` of the reader's byte budget for this request (see byte-budget.ts), waiting
   * while the budget is spent, and resolves with the bytes granted, which also caps InfluxDB's
   * answer. The caller gives them back once the reply has been sent.
   */
  readonly reserve?: (bytes: number, signal: AbortSignal) => Promise<number>;
  /**
   * How far back, in milliseconds and ascending, `events.query` reads before its last, unbounded
   * step (query-windows.ts); every step runs within the request's deadline. Absent or empty: one
   * unbounded query.
   */
  readonly windowsMs?: readonly number[];
  /** Told how many InfluxDB queries each `events.query` answer took (once per shared answer). */
  readonly onSteps?: (steps: number) => void;
  /** The clock the windows end at; `Date.now` when absent. */
  readonly now?: () => number;
  /**
   * How many queries, over consecutive equal parts of its window, count one `events.aggregates`
   * request at the same time (aggregate-slices.ts); 1 when absent.
   */
  readonly aggregateSlices?: number;
}

/** The reply to send, already classified as success or error. */
export type Answer<T> = { readonly ok: true; readonly reply: T } | { readonly ok: false; readonly reply: ErrorReply };

/** The answer to an `events.query` request. */
export type QueryAnswer = Answer<EventsQueryReply>;

/** The answer to an `events.aggregates` request. */
export type AggregatesAnswer = Answer<AggregatesReply>;

/**
 * Answers one `events.query` request payload. Never throws: every failure becomes an error reply,
 * and only failures that are not the requester's or the storage's fault are logged as errors.
 */
export const answerQuery = async (payload: Uint8Array, deps: QueryDeps): Promise<QueryAnswer> => {
  const decoded = decodeQuery(payload);
  if (!decoded.ok) return { ok: false, reply: decoded.error };
  const { minCriticality, limit } = decoded.query;
  const unbounded = latestEventsStatement(minCriticality, limit);
  // No criticality can be above the threshold: InfluxDB has nothing to say.
  if (unbounded === undefined) return { ok: true, reply: { events: [] } };
  // Identical requests share the whole ladder of windows, keyed by the question they ask.
  const series = await runQueries(keyOf(unbounded), answerBytesBound(limit), deps, async (ask) => {
    const now = (deps.now ?? Date.now)();
    const rows = await readNewestFirst(deps.windowsMs ?? [], limit, now, (since) =>
      ask(since === undefined ? unbounded : (latestEventsStatement(minCriticality, limit, since) as BoundStatement)),
    );
    deps.onSteps?.(rows.steps);
    return rows.series;
  });
  if (!series.ok) return series;
  const events = decodeEventRows(series.reply, (row, reason) =>
    deps.log.warn({ row, reason }, "skipped a stored point that is not a valid event"),
  );
  return { ok: true, reply: { events } };
};

/**
 * Answers one `events.aggregates` request payload: the events whose time falls in the last
 * `minutes` minutes, counted per criticality. The window ends at the current whole second, so that
 * identical requests in the same second share one answer. The window is counted in
 * `aggregateSlices` consecutive parts at once, whose counts add up to the window's: InfluxDB counts
 * one query on one core. Never throws, like {@link answerQuery}.
 */
export const answerAggregates = async (
  payload: Uint8Array,
  deps: QueryDeps,
  now: () => number = Date.now,
): Promise<AggregatesAnswer> => {
  const decoded = decodeAggregatesQuery(payload);
  if (!decoded.ok) return { ok: false, reply: decoded.error };
  const seconds = decoded.request.minutes * 60;
  const to = new Date(Math.floor(now() / 1_000) * 1_000);
  const from = new Date(to.getTime() - seconds * 1_000);
  const slices = sliceWindow(from, to, deps.aggregateSlices ?? 1);
  const key = keyOf(countByCriticalityStatement(from, to));
  const series = await runQueries(
    key,
    AGGREGATES_ANSWER_BYTES,
    deps,
    async (ask) =>
      (await Promise.all(slices.map((slice) => ask(countByCriticalityStatement(slice.from, slice.to))))).flat(),
    slices.length,
  );
  if (!series.ok) return series;
  // The series of every slice together: decodeCountRows adds up the counts of each level.
  const byCriticality = decodeCountRows(series.reply);
  const total = Object.values(byCriticality).reduce((sum, count) => sum + count, 0);
  return {
    ok: true,
    reply: { from: from.toISOString(), to: to.toISOString(), total, byCriticality, perSecond: total / seconds },
  };
};

/** The largest answer to an aggregates request: one row per criticality level, like 11 events at most. */
const AGGREGATES_ANSWER_BYTES = answerBytesBound(11);

/** Identical statements with identical parameters ask the same question. */
const keyOf = (bound: BoundStatement): string => `${bound.statement}\n${JSON.stringify(bound.params)}`;

/** Sends one statement to InfluxDB; what a {@link runQueries} plan is given. */
type Ask = (bound: BoundStatement) => Promise<QuerySeries[]>;

/**
 * Runs the InfluxDB queries of one request, as `plan` sends them through `ask`, within the
 * reader's bounds: one deadline and one byte reservation for them all, the answer cap and the
 * concurrency limit on each, and sharing of the whole plan among identical requests in flight
 * (`key`); reports InfluxDB's reachability after each. A failure becomes the error reply, and a
 * query the plan asks for after the deadline is never sent. `answerBytes` is the most one query's
 * answer can take, and `atOnce` how many queries the plan runs at the same time: the reservation
 * holds that many answers, and each query's answer is capped at its share.
 */
const runQueries = async <T>(
  key: string,
  answerBytes: number,
  deps: QueryDeps,
  plan: (ask: Ask) => Promise<T>,
  atOnce = 1,
): Promise<Answer<T>> => {
  const controller = timeoutController(deps.timeoutMs);
  try {
    const wanted = Math.min(answerBytes, deps.maxAnswerBytes ?? Number.POSITIVE_INFINITY) * atOnce;
    const granted = deps.reserve === undefined ? wanted : await deps.reserve(wanted, controller.signal);
    const maxBytes = Math.floor(granted / atOnce);
    const query = async (bound: BoundStatement) => {
      try {
        const series = await deps.influx.query(bound.statement, bound.params, { maxBytes });
        deps.onStorage?.(true);
        return series;
      } catch (err) {
        if (err instanceof InfluxUnavailableError) deps.onStorage?.(false);
        throw err;
      }
    };
    // Every query of the plan, shared or not, runs within the deadline of the request that started
    // it, which is never later than the deadline of a request that joins it: once it has passed,
    // the plan's next query is refused before it is sent.
    const ask: Ask = (bound) => deps.limit.run(() => query(bound), controller.signal);
    const result = await untilAborted(
      deps.coalescer === undefined ? plan(ask) : deps.coalescer.run(key, () => plan(ask)),
      controller.signal,
    );
    return { ok: true, reply: result };
  } catch (err) {
    return { ok: false, reply: describeFailure(err, deps.log) };
  } finally {
    controller.clear();
  }
};

/** An abort signal that fires with a {@link QueryTimeoutError} after `ms`. */
const timeoutController = (ms: number) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new QueryTimeoutError(`no answer from InfluxDB within ${ms}ms`)), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
};

const describeFailure = (err: unknown, log: Logger): ErrorReply => {
  if (err instanceof OverloadedError) {
    log.debug({ err }, "refused a query: reader overloaded");
    return errorReply("STORAGE_UNAVAILABLE", `reader overloaded (${err.message}); retry later`);
  }
  if (err instanceof InfluxResponseTooLargeError) {
    log.warn({ err }, "InfluxDB's answer is larger than allowed");
    return errorReply(
      "PAYLOAD_TOO_LARGE",
      `the stored events asked for take more than the reader's limit of ${err.maxBytes} bytes; ask for fewer events`,
    );
  }
  if (err instanceof QueryTimeoutError) {
    log.warn({ err }, "query timed out");
    return errorReply("STORAGE_UNAVAILABLE", `${err.message}; retry later`);
  }
  if (err instanceof InfluxUnavailableError) {
    log.warn({ err }, "InfluxDB is unavailable");
    // The detail (InfluxDB's address, its status) is for the operator's log, not for the requester.
    return errorReply("STORAGE_UNAVAILABLE", "InfluxDB is unavailable; retry later");
  }
  log.error({ err }, "query failed");
  return errorReply("INTERNAL", "the reader failed to answer; see its log");
};
