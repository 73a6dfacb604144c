import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createInfluxClient, InfluxUnavailableError } from "./index.js";

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
