import { InfluxRejectedError, InfluxResponseTooLargeError, InfluxUnavailableError } from "./errors.js";

/** How to authenticate: a 2.x/3.x token, 1.x user and password, or nothing (auth disabled). */
export type InfluxAuth =
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  | { readonly kind: "none" };

/** Where and how to reach one database through the InfluxDB v1 HTTP API. */
export interface InfluxConfig {
  /** Base URL, e.g. `http://127.0.0.1:8086`. */
  readonly url: string;
  /** 1.x database, or 2.x bucket mapped through DBRP. */
  readonly database: string;
  /** Retention policy; the database default when absent. */
  readonly retentionPolicy?: string;
  readonly auth: InfluxAuth;
  /** Per-request timeout in milliseconds. */
  readonly timeoutMs: number;
}

/** A bound value for an InfluxQL `$name` placeholder. */
export type QueryParam = string | number | boolean;

/** One series of an InfluxQL result. */
export interface QuerySeries {
  readonly name: string;
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
  readonly tags?: Readonly<Record<string, string>>;
}

/** Per-query options. */
export interface QueryOptions {
  /**
   * Most bytes of InfluxDB's answer to read. Past it reading stops, the connection is dropped and
   * the query rejects with {@link InfluxResponseTooLargeError}; the answer is never held whole.
   */
  readonly maxBytes?: number;
}

/** The subset of the InfluxDB v1 HTTP API the suite uses. */
export interface InfluxClient {
  /** Writes newline-separated line protocol with nanosecond timestamps; resolves once InfluxDB confirmed it. */
  write(lines: string): Promise<void>;
  /** Runs one InfluxQL statement with bound parameters and returns the series of its result. */
  query(
    statement: string,
    params?: Readonly<Record<string, QueryParam>>,
    options?: QueryOptions,
  ): Promise<QuerySeries[]>;
  /** Resolves with the server version when InfluxDB answers `/ping`. */
  ping(): Promise<string>;
}

interface QueryResponse {
  readonly results?: readonly { readonly series?: QuerySeries[]; readonly error?: string }[];
  readonly error?: string;
}

/** The `authorization` header that `auth` sends (none for `none`). */
export const authorizationHeader = (auth: InfluxAuth): Record<string, string> => {
  switch (auth.kind) {
    case "token":
      return { authorization: `Token ${auth.token}` };
    case "basic":
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` };
    case "none":
      return {};
  }
};

/** Creates a client for one database. No connection is made until the first call. */
export const createInfluxClient = (config: InfluxConfig): InfluxClient => {
  const base = config.url.replace(/\/+$/, "");
  const headers = authorizationHeader(config.auth);
  const target = new URLSearchParams({ db: config.database, precision: "ns" });
  if (config.retentionPolicy !== undefined) target.set("rp", config.retentionPolicy);
  const writeUrl = `${base}/write?${target.toString()}`;

  const send = async (url: string, init: RequestInit, what: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: AbortSignal.timeout(config.timeoutMs) });
    } catch (err) {
      throw new InfluxUnavailableError(`${what}: InfluxDB at ${base} is unreachable (${describe(err)})`, undefined, {
        cause: err,
      });
    }
    if (response.ok) return response;
    const body = (await response.text().catch(() => "")).slice(0, 500);
    const message = `${what}: InfluxDB answered ${response.status}: ${extractError(body)}`;
    // 5xx and 429 are the server's trouble; auth and missing-database errors are usually a
    // deployment still coming up, so they are retried too rather than treated as bad data.
    if (response.status >= 500 || [401, 403, 404, 429].includes(response.status)) {
      throw new InfluxUnavailableError(message, response.status);
    }
    throw new InfluxRejectedError(message, response.status);
  };

  /**
   * Reads a successful response's body. The request's timeout covers the body too, so a server
   * that stalls or drops the connection mid-body is unavailable, like one that never answered;
   * a body that is not the JSON InfluxDB sends is the server's trouble as well.
   */
  const readBody = async <T>(response: Response, what: string, read: (r: Response) => Promise<T>): Promise<T> => {
    try {
      return await read(response);
    } catch (err) {
      if (err instanceof InfluxResponseTooLargeError) throw err;
      throw new InfluxUnavailableError(
        `${what}: reading InfluxDB's answer from ${base} failed (${describe(err)})`,
        response.status,
        { cause: err },
      );
    }
  };

  return {
    async write(lines) {
      const response = await send(writeUrl, { method: "POST", headers, body: lines }, "write");
      await readBody(response, "write", (r) => r.arrayBuffer());
    },

    async query(statement, params = {}, options = {}) {
      const form = new URLSearchParams({ db: config.database, q: statement });
      if (config.retentionPolicy !== undefined) form.set("rp", config.retentionPolicy);
      if (Object.keys(params).length > 0) form.set("params", JSON.stringify(params));
      const response = await send(
        `${base}/query`,
        {
          method: "POST",
          // Uncompressed: fetch asks for gzip unless told otherwise, and on the private network
          // InfluxDB sits on, compressing each answer costs more than the bytes it saves (in a probe,
          // about 1 ms of CPU per last-10 answer, influxd and the client together).
          headers: {
            ...headers,
            "content-type": "application/x-www-form-urlencoded",
            "accept-encoding": "identity",
          },
          body: form.toString(),
        },
        "query",
      );
      const { maxBytes = Number.POSITIVE_INFINITY } = options;
      const result = await readBody(
        response,
        "query",
        async (r) => JSON.parse(await readCapped(r, maxBytes)) as QueryResponse,
      );
      const first = result.results?.[0];
      const error = result.error ?? first?.error;
      if (error !== undefined) throw new InfluxRejectedError(`query: ${error}`, response.status);
      return first?.series ?? [];
    },

    async ping() {
      const response = await send(`${base}/ping`, { method: "GET", headers }, "ping");
      await readBody(response, "ping", (r) => r.arrayBuffer());
      return response.headers.get("x-influxdb-version") ?? "unknown";
    },
  };
};

/**
 * The body as text, read chunk by chunk so that one larger than `maxBytes` is abandoned (and its
 * connection dropped) as soon as it passes the limit, or before the first byte when its
 * `content-length` already does.
 */
const readCapped = async (response: Response, maxBytes: number): Promise<string> => {
  const tooLarge = () =>
    new InfluxResponseTooLargeError(`query: InfluxDB's answer is larger than the ${maxBytes} bytes allowed`, maxBytes);
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Leaving the loop early (the throw) cancels the stream, which closes the connection.
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString("utf8");
};

const extractError = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const text = parsed.error ?? parsed.message;
    if (typeof text === "string") return text;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body.trim() || "(empty body)";
};

const describe = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
};
