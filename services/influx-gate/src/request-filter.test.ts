import { describe, expect, it } from "vitest";
import { checkBody, createCredentialCheck, routeRequest } from "./request-filter.js";

const rules = { database: "vigil" };

describe("routeRequest", () => {
  it("passes the writer's write, rebuilt from the rules rather than the client's text", () => {
    expect(routeRequest("POST", "/write?db=vigil&precision=ns", rules)).toEqual({
      kind: "write",
      upstreamPath: "/write?db=vigil&precision=ns",
    });
    // Parameters in any order, precision left to InfluxDB's default when absent.
    expect(routeRequest("POST", "/write?precision=ms&db=vigil", rules)).toEqual({
      kind: "write",
      upstreamPath: "/write?db=vigil&precision=ms",
    });
    expect(routeRequest("POST", "/write?db=vigil", rules)).toEqual({
      kind: "write",
      upstreamPath: "/write?db=vigil&precision=ns",
    });
  });

  it("passes the retention policy that the rules name, and only that one", () => {
    const withRp = { database: "vigil", retentionPolicy: "autogen" };
    expect(routeRequest("POST", "/write?db=vigil&rp=autogen&precision=ns", withRp)).toEqual({
      kind: "write",
      upstreamPath: "/write?db=vigil&rp=autogen&precision=ns",
    });
    expect(routeRequest("POST", "/write?db=vigil&precision=ns", withRp)).toMatchObject({ status: 403 });
    expect(routeRequest("POST", "/write?db=vigil&rp=other", withRp)).toMatchObject({ status: 403 });
    expect(routeRequest("POST", "/write?db=vigil&rp=autogen", rules)).toMatchObject({
      status: 403,
      code: "FORBIDDEN",
    });
  });

  it.each([
    ["another database", "/write?db=other&precision=ns"],
    ["no database", "/write?precision=ns"],
    ["an empty database", "/write?db=&precision=ns"],
    ["a database named with different case", "/write?db=VIGIL"],
    ["1.x credentials in the query", "/write?db=vigil&u=admin&p=secret"],
    ["a statement", "/write?db=vigil&q=DROP%20DATABASE%20vigil"],
    ["a consistency level", "/write?db=vigil&consistency=all"],
    ["an unknown precision", "/write?db=vigil&precision=fortnight"],
  ])("refuses a write to %s with 403", (_what, url) => {
    expect(routeRequest("POST", url, rules)).toMatchObject({ kind: "refused", status: 403, code: "FORBIDDEN" });
  });

  it("refuses a parameter given twice, which InfluxDB and the gate might read differently", () => {
    expect(routeRequest("POST", "/write?db=vigil&db=other", rules)).toMatchObject({ status: 400 });
    expect(routeRequest("POST", "/write?db=other&db=vigil", rules)).toMatchObject({ status: 400 });
  });

  it.each([
    "/api/v2/delete?org=vigil&bucket=vigil",
    "/api/v2/query?org=vigil",
    "/api/v2/write?org=vigil&bucket=vigil&precision=ns",
    "/api/v2/buckets",
    "/api/v2/authorizations",
    "/api",
    "/query?db=vigil&q=DROP%20SERIES%20FROM%20security_events",
    "/query?db=vigil&q=DELETE%20FROM%20security_events",
    "/debug/pprof/",
    "/health",
    "/metrics",
    "/legacy/authorizations",
    "/write/",
  ])("refuses InfluxDB's %s with 403", (url) => {
    for (const method of ["GET", "POST", "DELETE"]) {
      expect(routeRequest(method, url, rules)).toMatchObject({ kind: "refused", status: 403, code: "FORBIDDEN" });
    }
  });

  it.each(["/", "//write", "/%77rite", "/WRITE", "/writes", "/ping/x", "/index.html"])(
    "answers %s, which is not a path it passes, with 404",
    (url) => {
      expect(routeRequest("POST", url, rules)).toMatchObject({ kind: "refused", status: 404, code: "NOT_FOUND" });
    },
  );

  it("takes the absolute form of a request target by its path, and still rebuilds it", () => {
    expect(routeRequest("POST", "http://influxdb:8086/write?db=vigil", rules)).toEqual({
      kind: "write",
      upstreamPath: "/write?db=vigil&precision=ns",
    });
    expect(routeRequest("POST", "http://influxdb:8086/api/v2/delete", rules)).toMatchObject({ status: 403 });
  });

  it("refuses other methods with 405 and says which are allowed", () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]) {
      expect(routeRequest(method, "/write?db=vigil", rules)).toMatchObject({ status: 405, allow: "POST" });
    }
    for (const method of ["POST", "PUT", "DELETE"]) {
      expect(routeRequest(method, "/ping", rules)).toMatchObject({ status: 405, allow: "GET, HEAD" });
    }
  });

  it("passes /ping by GET or HEAD, without its parameters", () => {
    expect(routeRequest("GET", "/ping", rules)).toEqual({ kind: "ping", upstreamPath: "/ping" });
    expect(routeRequest("HEAD", "/ping?verbose=true", rules)).toEqual({ kind: "ping", upstreamPath: "/ping" });
  });
});

describe("checkBody", () => {
  it("takes an uncompressed body of declared length within the limit", () => {
    expect(checkBody({ "content-length": "1024" }, 1024)).toBeUndefined();
    expect(checkBody({ "content-length": "0" }, 1024)).toBeUndefined();
    expect(checkBody({ "content-length": "10", "content-encoding": "identity" }, 1024)).toBeUndefined();
  });

  it("refuses a body over the limit before reading it", () => {
    expect(checkBody({ "content-length": "1025" }, 1024)).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
  });

  it("refuses a body of undeclared length, or a declared length that is not a number", () => {
    expect(checkBody({}, 1024)).toMatchObject({ status: 411, code: "LENGTH_REQUIRED" });
    expect(checkBody({ "content-length": "1e3" }, 1024)).toMatchObject({ status: 400 });
  });

  it("refuses a compressed body, whose size after decompression the limit cannot bound", () => {
    expect(checkBody({ "content-length": "10", "content-encoding": "gzip" }, 1024)).toMatchObject({ status: 415 });
  });
});

describe("createCredentialCheck", () => {
  const check = createCredentialCheck("the-writers-gate-token-0123456789");

  it("accepts the writer's token sent as InfluxDB's clients send theirs", () => {
    expect(check("Token the-writers-gate-token-0123456789")).toBe(true);
  });

  it.each([
    ["no header", undefined],
    ["an empty header", ""],
    ["another token", "Token the-writers-gate-token-0123456780"],
    ["a prefix of it", "Token the-writers-gate-token"],
    ["it with more after it", "Token the-writers-gate-token-0123456789x"],
    ["another scheme", "Bearer the-writers-gate-token-0123456789"],
    ["the bare token", "the-writers-gate-token-0123456789"],
    ["an empty token", "Token "],
  ])("refuses %s", (_what, header) => {
    expect(check(header)).toBe(false);
  });
});
