import { describe, expect, it } from "vitest";
import { createInfluxHealth } from "./health.js";

const messages = { down: "InfluxDB is down", back: "InfluxDB is back" };

/** A logger that keeps what it is told, as pino's JSON lines would carry it. */
const capture = () => {
  const lines: { level: "info" | "warn"; msg: string; [key: string]: unknown }[] = [];
  return {
    lines,
    log: {
      info: (obj: object, msg: string) => lines.push({ level: "info", ...obj, msg }),
      warn: (obj: object, msg: string) => lines.push({ level: "warn", ...obj, msg }),
    },
  };
};

describe("createInfluxHealth", () => {
  it("is unreachable until InfluxDB has answered, and says when it first does", () => {
    const { log, lines } = capture();
    const health = createInfluxHealth(log, messages);
    expect(health.reachable()).toBe(false);
    expect(health.lastAttemptAt()).toBe(0);
    health.succeeded("2.7.12");
    expect(health.reachable()).toBe(true);
    expect(health.lastAttemptAt()).toBeGreaterThan(0);
    health.succeeded();
    expect(lines).toEqual([{ level: "info", version: "2.7.12", msg: "InfluxDB answers" }]);
  });

  it("logs one line when an outage starts and one when it ends, however many attempts it takes", () => {
    const { log, lines } = capture();
    const health = createInfluxHealth(log, messages);
    health.succeeded();
    const err = new Error("connect ECONNREFUSED");
    for (let i = 0; i < 5; i++) health.failed(err);
    expect(health.reachable()).toBe(false);
    health.succeeded();
    health.succeeded();
    expect(health.reachable()).toBe(true);
    expect(lines).toEqual([
      { level: "info", msg: "InfluxDB answers" },
      { level: "warn", err, msg: "InfluxDB is down" },
      { level: "info", msg: "InfluxDB is back" },
    ]);
  });

  it("warns once when the first attempt fails, then says it is back", () => {
    const { log, lines } = capture();
    const health = createInfluxHealth(log, messages);
    health.failed();
    health.failed();
    expect(health.reachable()).toBe(false);
    health.succeeded();
    expect(lines).toEqual([
      { level: "warn", msg: "InfluxDB is down" },
      { level: "info", msg: "InfluxDB is back" },
    ]);
  });
});
