import { randomUUID } from "node:crypto";
import { SecurityEvent } from "@vigil/shared";
import { z } from "zod";
import type { GatewayApp } from "../app.js";
import { ApiError, type Issue } from "../errors.js";
import { replyAsBuilt } from "../http/reply-as-built.js";
import type { EventIngest } from "../ingest.js";

/** Most events in one batch. */
export const MAX_BATCH_LENGTH = 100;

export const AcceptedEvent = z.object({ id: z.uuid() });
export const BatchRequest = z.object({ events: z.array(z.unknown()).min(1).max(MAX_BATCH_LENGTH) });
export const BatchItemError = z.object({
  code: z.string(),
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export const BatchResult = z.object({
  index: z.int(),
  id: z.uuid().optional(),
  status: z.enum(["accepted", "rejected"]),
  error: BatchItemError.optional(),
});
export const BatchReply = z.object({ accepted: z.int(), rejected: z.int(), results: z.array(BatchResult) });
type BatchResult = z.infer<typeof BatchResult>;

const issuesOf = (error: z.ZodError): Issue[] =>
  error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));

/** `POST /v1/events` and `POST /v1/events/batch`. */
export const eventRoutes =
  (ingest: EventIngest) =>
  async (app: GatewayApp): Promise<void> => {
    app.post(
      "/v1/events",
      {
        config: { access: "producer", invalidCode: "INVALID_EVENT", action: "events.ingest" },
        schema: { body: SecurityEvent, response: { 202: AcceptedEvent } },
        serializerCompiler: replyAsBuilt,
      },
      async (request, reply) => reply.code(202).send({ id: await ingest.store(request.body) }),
    );

    app.post(
      "/v1/events/batch",
      {
        config: { access: "producer", action: "events.ingest.batch" },
        schema: { body: BatchRequest, response: { 200: BatchReply } },
        // Written as built: each result's keys in BatchResult's order (routes/events.test.ts holds them to it).
        serializerCompiler: replyAsBuilt,
      },
      async (request) => {
        const results: BatchResult[] = await Promise.all(
          request.body.events.map(async (item, index): Promise<BatchResult> => {
            const parsed = SecurityEvent.safeParse(item);
            if (!parsed.success) {
              const issues = issuesOf(parsed.error);
              return {
                index,
                status: "rejected",
                error: { code: "INVALID_EVENT", message: "the event does not match the contract", issues },
              };
            }
            // The id is fixed here, so that a rejected item names the id to retry it with.
            const event = { ...parsed.data, id: parsed.data.id ?? randomUUID() };
            try {
              return { index, id: await ingest.store(event), status: "accepted" };
            } catch (err) {
              if (!(err instanceof ApiError)) throw err;
              return { index, id: event.id, status: "rejected", error: { code: err.code, message: err.message } };
            }
          }),
        );
        const accepted = results.filter((result) => result.status === "accepted").length;
        const unavailable = results.filter((result) => result.error?.code === "UNAVAILABLE").length;
        // Nothing could be stored because JetStream could not take it: the whole request is retried.
        if (accepted === 0 && unavailable > 0) {
          throw new ApiError("UNAVAILABLE", "JetStream could not take the events; retry the batch with the same ids", {
            retryAfterSeconds: 2,
          });
        }
        return { accepted, rejected: results.length - accepted, results };
      },
    );
  };
