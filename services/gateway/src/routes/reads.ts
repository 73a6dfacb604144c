import { AggregatesQuery, AggregatesReply, EventsQuery, EventsQueryReply } from "@vigil/shared";
import { z } from "zod";
import type { GatewayApp } from "../app.js";
import type { ReaderQueries } from "../reader-queries.js";

/** A query-string integer: digits only, so that `""`, `1e3` or `0x10` are refused rather than coerced. */
export const integerParam = z
  .string()
  .regex(/^-?[0-9]{1,9}$/, "expected an integer")
  .transform(Number);

/** `GET /v1/events`'s query string: `events.query`'s request, each value checked by the contract's own rule. */
export const EventsQueryString = z.object({
  minCriticality: integerParam.pipe(EventsQuery.shape.minCriticality),
  limit: integerParam.pipe(EventsQuery.shape.limit.unwrap()).optional(),
});

/** `GET /v1/aggregates`'s query string: `events.aggregates`'s request. */
export const AggregatesQueryString = z.object({ minutes: integerParam.pipe(AggregatesQuery.shape.minutes) });

/** `GET /v1/events` and `GET /v1/aggregates`, answered by the readers over NATS. */
export const readRoutes =
  (readers: ReaderQueries) =>
  async (app: GatewayApp): Promise<void> => {
    app.get(
      "/v1/events",
      {
        config: { access: "viewer", action: "events.read" },
        schema: { querystring: EventsQueryString, response: { 200: EventsQueryReply } },
      },
      async (request) => ({ events: await readers.events(EventsQuery.parse(request.query)) }),
    );
    app.get(
      "/v1/aggregates",
      {
        config: { access: "viewer", action: "aggregates.read" },
        schema: { querystring: AggregatesQueryString, response: { 200: AggregatesReply } },
      },
      async (request) => readers.aggregates(request.query),
    );
  };
