import { z } from "zod";
import type { GatewayApp } from "../app.js";
import { AuditRecord, type AuditTrail, MAX_AUDIT_LIMIT } from "../audit/audit-trail.js";
import { ApiError } from "../errors.js";

/** How many records `GET /v1/audit` returns when no `limit` is given. */
export const DEFAULT_AUDIT_LIMIT = 100;

export const AuditQueryString = z.object({
  limit: z
    .string()
    .regex(/^[0-9]{1,9}$/, "expected an integer")
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_AUDIT_LIMIT))
    .optional(),
});
export const AuditReply = z.object({ records: z.array(AuditRecord) });

/** `GET /v1/audit`: the newest audit records, for admins. */
export const auditRoutes =
  (audit: Pick<AuditTrail, "newest">) =>
  async (app: GatewayApp): Promise<void> => {
    app.get(
      "/v1/audit",
      {
        config: { access: "admin", action: "audit.read" },
        schema: { querystring: AuditQueryString, response: { 200: AuditReply } },
      },
      async (request) => {
        try {
          return { records: await audit.newest(request.query.limit ?? DEFAULT_AUDIT_LIMIT) };
        } catch (cause) {
          throw new ApiError("UNAVAILABLE", "the audit stream could not be read; retry later", {
            retryAfterSeconds: 2,
            cause,
          });
        }
      },
    );
  };
