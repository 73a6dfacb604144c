import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { runService, type ServiceHost } from "./lifecycle.js";

/** A stand-in for `process`: signals are emitted by the test, and the exit code is recorded. */
const createHost = () => {
  const signals = new EventEmitter();
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const codes: number[] = [];
  const host: ServiceHost = {
    on: (signal, listener) => signals.on(signal, listener),
    exit: (code) => {
      codes.push(code);
      resolveExit(code);
    },
  };
  return { host, exited, codes, send: (signal: NodeJS.Signals) => signals.emit(signal, signal) };
};

/** A logger whose JSON lines land in `lines`, as pino's own tests capture them. */
const captureLog = () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: "info", formatters: { level: (label) => ({ level: label }) } }, sink), lines };
};

/** A start-up that the test finishes (or fails) when it chooses. */
const gate = <T>() => {
  let resolve: (value: T) => void = () => {};
  let reject: (err: Error) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("runService", () => {
  it("stops the started service on SIGTERM and exits 0", async () => {
    const { host, exited, send } = createHost();
    const { log, lines } = captureLog();
    let stopped = false;
    await runService(
      log,
      {
        shutdownTimeoutMs: 60_000,
        start: async () => async () => {
          stopped = true;
        },
      },
      host,
    );
    send("SIGTERM");
    expect(await exited).toBe(0);
    expect(stopped).toBe(true);
    expect(lines.map((line) => line.msg)).toEqual(["stopping", "stopped"]);
  });

  it("logs one fatal line and exits 1 when start-up fails", async () => {
    const { host, exited } = createHost();
    const { log, lines } = captureLog();
    await runService(
      log,
      {
        shutdownTimeoutMs: 60_000,
        start: () => Promise.reject(new Error("cannot connect to NATS")),
      },
      host,
    );
    expect(await exited).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "fatal", msg: "start-up failed: cannot connect to NATS" });
  });

  it("does not exit during start-up on a signal: it stops the service once started, then exits 0", async () => {
    const { host, exited, codes, send } = createHost();
    const { log, lines } = captureLog();
    const starting = gate<() => Promise<void>>();
    let stopped = false;
    const running = runService(log, { shutdownTimeoutMs: 60_000, start: () => starting.promise }, host);
    send("SIGINT");
    await flush();
    expect(codes).toEqual([]);
    starting.resolve(async () => {
      stopped = true;
    });
    await running;
    expect(await exited).toBe(0);
    expect(stopped).toBe(true);
    expect(lines.map((line) => line.msg)).toEqual(["stopping", "stopped"]);
  });

  it("reports a start-up that fails after a signal, and exits 1", async () => {
    const { host, exited, codes, send } = createHost();
    const { log, lines } = captureLog();
    const starting = gate<() => Promise<void>>();
    const running = runService(log, { shutdownTimeoutMs: 60_000, start: () => starting.promise }, host);
    send("SIGTERM");
    starting.reject(new Error("port taken"));
    await running;
    expect(await exited).toBe(1);
    expect(codes).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: "fatal", msg: "start-up failed: port taken" });
  });

  it("exits 1 when stopping fails, and at once on a second signal", async () => {
    const failing = createHost();
    const first = captureLog();
    await runService(
      first.log,
      { shutdownTimeoutMs: 60_000, start: async () => () => Promise.reject(new Error("drain failed")) },
      failing.host,
    );
    failing.send("SIGTERM");
    expect(await failing.exited).toBe(1);
    expect(first.lines.at(-1)).toMatchObject({ level: "error", msg: "shutdown failed" });

    const impatient = createHost();
    const second = captureLog();
    await runService(
      second.log,
      { shutdownTimeoutMs: 60_000, start: async () => () => new Promise<void>(() => {}) },
      impatient.host,
    );
    impatient.send("SIGTERM");
    impatient.send("SIGINT");
    expect(await impatient.exited).toBe(1);
    expect(impatient.codes).toEqual([1]);
    expect(second.lines.at(-1)).toMatchObject({ level: "warn", msg: "second signal: exiting now" });
  });

  it("exits 1 when stopping overruns its deadline", async () => {
    const { host, exited, send } = createHost();
    const { log, lines } = captureLog();
    await runService(log, { shutdownTimeoutMs: 1, start: async () => () => new Promise<void>(() => {}) }, host);
    send("SIGTERM");
    expect(await exited).toBe(1);
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: "shutdown overran its deadline; exiting" });
  });
});
