import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors.js";

/**
 * Answers `BAD_REQUEST` (limit `requestTime`) to a request whose body has not fully arrived
 * `timeoutMs` after its headers, and closes its connection. Node's `requestTimeout` stops watching
 * a request once its headers are parsed, so a client trickling its body would otherwise keep the
 * socket until it goes silent for the connection timeout, and then get no answer at all.
 */
export const answerSlowBodies = (app: FastifyInstance, timeoutMs: number): void => {
  app.addHook("onRequest", async (request, reply) => {
    if (request.raw.complete) return;
    const timer = setTimeout(() => {
      if (request.raw.complete || reply.sent) return;
      reply.raw.once("finish", () => request.raw.socket.destroy());
      reply
        .header("connection", "close")
        .send(new ApiError("BAD_REQUEST", "the request's body did not arrive in time", { limit: "requestTime" }));
    }, timeoutMs);
    const clear = () => clearTimeout(timer);
    request.raw.once("end", clear);
    request.raw.once("close", clear);
  });
};
