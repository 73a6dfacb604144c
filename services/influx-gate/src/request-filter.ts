import { createHash, timingSafeEqual } from "node:crypto";

/**
 * What the gate passes to InfluxDB, decided from the request line and headers alone (no network,
 * no body): the writer's two requests and nothing else.
 *
 * - `POST /write?db=<database>[&rp=<retention policy>][&precision=<unit>]`: line protocol into
 *   the one configured database (2.x: bucket), exactly what `@vigil/influx`'s client sends. It is
 *   passed on as a request the gate builds itself (path and parameters from the rules, never the
 *   client's text), so no encoding or path trick reaches InfluxDB.
 * - `GET`/`HEAD /ping`: the writer's readiness check, passed on without any credential.
 *
 * Everything else is refused: InfluxDB's other endpoints (`/query`, `/api/v2/delete`,
 * `/api/v2/query`, `/api/v2/write`, ...) with 403, other paths with 404, other methods with 405.
 */

/** Where writes may go. */
export interface GateRules {
  /** The 1.x database, or the 2.x bucket (through the v1 API's DBRP mapping). */
  readonly database: string;
  /** The retention policy the writer names; absent: the writer names none. */
  readonly retentionPolicy?: string;
}

/** A request the gate passes on, with the path it sends InfluxDB. */
export type GateRoute =
  | { readonly kind: "write"; readonly upstreamPath: string }
  | { readonly kind: "ping"; readonly upstreamPath: "/ping" };

/** Stable codes of the gate's own answers. */
export type RefusalCode =
  | "BAD_REQUEST"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "LENGTH_REQUIRED"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "UNAVAILABLE";

/** The gate's own answer to a request it does not pass on. */
export interface Refusal {
  readonly kind: "refused";
  readonly status: number;
  readonly code: RefusalCode;
  readonly message: string;
  /** The methods the path takes, for 405. */
  readonly allow?: string;
}

const refuse = (status: number, code: RefusalCode, message: string, allow?: string): Refusal => ({
  kind: "refused",
  status,
  code,
  message,
  ...(allow === undefined ? {} : { allow }),
});

/**
 * Paths InfluxDB 1.x or 2.x serves, which the gate refuses with 403 (a forbidden target rather
 * than an unknown one). `/write` and `/ping` are handled before these.
 */
const INFLUX_PATHS = /^\/(query|write|api|debug|health|ready|metrics|legacy|private|signin|signout|docs)(\/|$)/;

/** Precisions of the v1 write API; none can reach a point that `ns` cannot. */
const PRECISIONS = new Set(["n", "ns", "u", "us", "ms", "s", "m", "h"]);

/**
 * Returns the check of the writer's credential: `Authorization: Token <token>`, compared in
 * constant time (both sides hashed first, so neither the content nor the length of the expected
 * token shows in how long a wrong one takes).
 */
export const createCredentialCheck = (token: string): ((authorization: string | undefined) => boolean) => {
  const expected = createHash("sha256").update(token).digest();
  return (authorization) => {
    const presented = /^Token (\S+)$/.exec(authorization ?? "")?.[1] ?? "";
    return timingSafeEqual(createHash("sha256").update(presented).digest(), expected);
  };
};

/** The parameters of a write, checked against the rules; the upstream path or why not. */
const writeTarget = (search: URLSearchParams, rules: GateRules): GateRoute | Refusal => {
  const names = [...search.keys()];
  const unknown = names.filter((name) => name !== "db" && name !== "rp" && name !== "precision");
  if (unknown.length > 0) return refuse(403, "FORBIDDEN", "a write takes only the parameters db, rp and precision");
  if (new Set(names).size !== names.length) return refuse(400, "BAD_REQUEST", "a parameter is given twice");
  if (search.get("db") !== rules.database) {
    return refuse(403, "FORBIDDEN", `only the database '${rules.database}' may be written`);
  }
  const rp = search.get("rp") ?? undefined;
  if (rp !== rules.retentionPolicy) {
    return refuse(
      403,
      "FORBIDDEN",
      rules.retentionPolicy === undefined
        ? "no retention policy may be named: writes go to the database's default"
        : `only the retention policy '${rules.retentionPolicy}' may be written`,
    );
  }
  const precision = search.get("precision") ?? "ns";
  if (!PRECISIONS.has(precision)) return refuse(403, "FORBIDDEN", "precision must be one of n, ns, u, us, ms, s, m, h");
  const target = new URLSearchParams({ db: rules.database });
  if (rules.retentionPolicy !== undefined) target.set("rp", rules.retentionPolicy);
  target.set("precision", precision);
  return { kind: "write", upstreamPath: `/write?${target.toString()}` };
};

/**
 * Decides what to do with a request whose credential has been accepted: the route to pass it on,
 * or the refusal. `url` is the request target as received (origin form, or absolute form).
 */
export const routeRequest = (method: string, url: string, rules: GateRules): GateRoute | Refusal => {
  let parsed: URL;
  try {
    parsed = new URL(url, "http://gate.invalid");
  } catch {
    return refuse(400, "BAD_REQUEST", "the request target is not a URL");
  }
  const path = parsed.pathname;
  if (path === "/write") {
    if (method !== "POST") return refuse(405, "METHOD_NOT_ALLOWED", "a write is a POST", "POST");
    return writeTarget(parsed.searchParams, rules);
  }
  if (path === "/ping") {
    if (method !== "GET" && method !== "HEAD") {
      return refuse(405, "METHOD_NOT_ALLOWED", "/ping takes GET or HEAD", "GET, HEAD");
    }
    return { kind: "ping", upstreamPath: "/ping" };
  }
  if (INFLUX_PATHS.test(path)) {
    return refuse(403, "FORBIDDEN", "the gate passes only writes (POST /write) and /ping to InfluxDB");
  }
  return refuse(404, "NOT_FOUND", "no such path: the gate serves POST /write and /ping");
};

/** The headers of a write's body that the gate checks before reading it. */
export interface BodyHeaders {
  readonly "content-length"?: string | undefined;
  readonly "content-encoding"?: string | undefined;
}

/**
 * Checks a write's body from its headers: its length must be declared (so a body over the limit is
 * refused before a byte reaches InfluxDB, and InfluxDB can tell a body cut short from a whole one)
 * and within `maxBytes`; it must not be compressed (the limit counts what InfluxDB will parse).
 */
export const checkBody = (headers: BodyHeaders, maxBytes: number): Refusal | undefined => {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
    return refuse(415, "UNSUPPORTED_MEDIA_TYPE", "the body must not be compressed (Content-Encoding)");
  }
  const length = headers["content-length"];
  if (length === undefined) return refuse(411, "LENGTH_REQUIRED", "a write must declare its Content-Length");
  if (!/^\d+$/.test(length)) return refuse(400, "BAD_REQUEST", "Content-Length is not a number");
  if (Number(length) > maxBytes) {
    return refuse(413, "PAYLOAD_TOO_LARGE", `the body is larger than the ${maxBytes} bytes allowed`);
  }
  return undefined;
};

/** The gate's answer when the credential is missing or wrong, whatever the request. */
export const UNAUTHENTICATED = refuse(401, "UNAUTHENTICATED", "the gate's credential is missing or wrong");

/** The gate's answer while as many requests as allowed are in flight. */
export const OVERLOADED = refuse(429, "RATE_LIMITED", "too many requests in flight; retry shortly");
