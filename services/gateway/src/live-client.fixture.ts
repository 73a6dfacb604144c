import { waitFor } from "@vigil/testing";
import WebSocket from "ws";
import type { LiveEventFrame, LiveServerFrame } from "./live/frames.js";

/**
 * A live-tail client for the integration tests, on a real WebSocket (the `ws` client): it keeps
 * every frame it was sent and how the connection ended. Not part of the build (tsconfig.json
 * excludes *.fixture.ts).
 */
export interface LiveClient {
  readonly ws: WebSocket;
  /** Every frame received, oldest first. */
  readonly frames: LiveServerFrame[];
  /** The close code and reason, once closed. */
  readonly closed: { code: number; reason: string } | undefined;
  /** The event frames received, oldest first. */
  events(): LiveEventFrame[];
  /** Waits until `predicate` holds for the frames received. */
  waitFor(what: string, predicate: (client: LiveClient) => boolean, timeoutMs?: number): Promise<void>;
  /** Waits for the connection to close; its code and reason. */
  waitForClose(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  /** Closes the connection (1000) and waits until it is closed. */
  close(): Promise<void>;
}

/** How a client connects. */
export interface LiveConnectOptions {
  readonly headers?: Record<string, string>;
  readonly protocols?: string[];
  readonly query?: Record<string, string | number>;
}

/** An answer to an upgrade request that was not 101. */
export interface Refused {
  readonly status: number;
  readonly body: { error?: { code?: string; message?: string } };
}

const urlOf = (base: string, query: LiveConnectOptions["query"] = {}) => {
  const url = new URL(base);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
  return url.toString();
};

/** Opens `GET /v1/live` at `base` (`ws://host:port/v1/live`); resolves once open, or with the refusal. */
export const connectLive = (base: string, options: LiveConnectOptions = {}): Promise<LiveClient | Refused> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(urlOf(base, options.query), options.protocols ?? [], {
      headers: options.headers ?? {},
    });
    const frames: LiveServerFrame[] = [];
    let closed: { code: number; reason: string } | undefined;
    ws.on("message", (data) => frames.push(JSON.parse(data.toString()) as LiveServerFrame));
    ws.on("close", (code, reason) => {
      closed = { code, reason: reason.toString() };
    });
    ws.once("unexpected-response", (request, response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on("end", () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: body === "" ? {} : JSON.parse(body) });
      });
    });
    ws.once("error", reject);
    ws.once("open", () => {
      const client: LiveClient = {
        ws,
        frames,
        get closed() {
          return closed;
        },
        events: () => frames.filter((frame): frame is LiveEventFrame => frame.type === "event"),
        waitFor: (what, predicate, timeoutMs = 30_000) => waitFor(what, () => predicate(client), timeoutMs),
        async waitForClose(timeoutMs = 30_000) {
          await waitFor("the live tail to close", () => closed !== undefined, timeoutMs);
          return closed as { code: number; reason: string };
        },
        async close() {
          if (closed === undefined) ws.close(1000);
          await client.waitForClose();
        },
      };
      resolve(client);
    });
  });

/** Opens the live tail and expects it to open. */
export const openLive = async (base: string, options: LiveConnectOptions = {}): Promise<LiveClient> => {
  const result = await connectLive(base, options);
  if ("status" in result) throw new Error(`the live tail refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result;
};

/** Opens the live tail and expects it to be refused before the upgrade. */
export const refuseLive = async (base: string, options: LiveConnectOptions = {}): Promise<Refused> => {
  const result = await connectLive(base, options);
  if (!("status" in result)) {
    await result.close();
    throw new Error("the live tail opened");
  }
  return result;
};
