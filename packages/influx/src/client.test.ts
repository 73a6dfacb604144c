import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createInfluxClient, InfluxResponseTooLargeError, InfluxUnavailableError } from "./index.js";

// A plain HTTP server that misbehaves the way a loaded InfluxDB or a broken network can: not a
// stand-in for InfluxDB's behaviour, only for a connection that fails after the headers.
let server: Server | undefined;
const serve = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const clientFor = (url: string) =>
  createInfluxClient({ url, database: "vigil", timeoutMs: 200, auth: { kind: "none" } });

describe("the InfluxDB client, when the answer breaks off after its headers", () => {
  it("maps a body that stalls past the timeout to InfluxUnavailableError", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"results":[{"series":[');
    });
    await expect(clientFor(url).query("SELECT 1")).rejects.toBeInstanceOf(InfluxUnavailableError);
  });

  it("maps a connection dropped mid-body to InfluxUnavailableError", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"results":[');
      res.destroy();
    });
    await expect(clientFor(url).query("SELECT 1")).rejects.toBeInstanceOf(InfluxUnavailableError);
  });

  it("maps a body that is not JSON to InfluxUnavailableError", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("<html>proxy error</html>");
    });
    await expect(clientFor(url).query("SELECT 1")).rejects.toBeInstanceOf(InfluxUnavailableError);
  });
});

describe("the InfluxDB client, given a limit on the answer's size", () => {
  const answer = JSON.stringify({
    results: [{ series: [{ name: "m", columns: ["a"], values: [["x".repeat(100)]] }] }],
  });

  it("stops reading a streamed answer as soon as it passes the limit, without waiting for its end", async () => {
    // 4 KiB, then nothing more: a client that read on would time out (InfluxUnavailableError).
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"results":[{"series":[{"name":"m","columns":["a"],"values":[["${"x".repeat(4096)}`);
    });
    const failure = await clientFor(url)
      .query("SELECT 1", {}, { maxBytes: 1024 })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(InfluxResponseTooLargeError);
    expect((failure as InfluxResponseTooLargeError).maxBytes).toBe(1024);
  });

  it("refuses an answer whose declared length passes the limit before reading it", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(answer.length) });
      res.end(answer);
    });
    await expect(clientFor(url).query("SELECT 1", {}, { maxBytes: answer.length - 1 })).rejects.toBeInstanceOf(
      InfluxResponseTooLargeError,
    );
  });

  it("reads an answer of exactly the limit", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    });
    const series = await clientFor(url).query("SELECT 1", {}, { maxBytes: answer.length });
    expect(series[0]?.values[0]).toEqual(["x".repeat(100)]);
  });
});

describe("the InfluxDB client's queries", () => {
  it("ask for an uncompressed answer", async () => {
    let asked: string | undefined;
    const url = await serve((req, res) => {
      asked = req.headers["accept-encoding"];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ results: [{}] }));
    });
    await clientFor(url).query("SELECT 1");
    expect(asked).toBe("identity");
  });
});
