import { deferred } from "@nats-io/nats-core";
import { createLogSink } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { createShutdown, type ShutdownDeps } from "./shutdown.js";

/** Stands in for the writer's parts, recording the order in which stopping reaches them. */
const parts = (drain: () => Promise<void>) => {
  const steps: string[] = [];
  const pulling = deferred<void>();
  const { log, lines } = createLogSink();
  const messages = () => lines.map((line) => line.msg);
  const deps: ShutdownDeps = {
    stopProbing: () => steps.push("stop probing"),
    puller: {
      stop: async (graceMs) => {
        steps.push(`stop pulling within ${graceMs} ms`);
      },
      finished: pulling,
    },
    drain: () => {
      steps.push("drain");
      pulling.resolve();
      return drain();
    },
    deadLettering: () => [],
    giveUp: new AbortController(),
    stopKeepingAlive: () => steps.push("stop keeping alive"),
    flush: async () => {
      steps.push("flush");
    },
    log,
  };
  return { deps, steps, messages };
};

describe("createShutdown", () => {
  it("stops pulling, writes what it holds, then stops keeping alive and flushes the acknowledgements", async () => {
    const { deps, steps, messages } = parts(async () => {});
    await createShutdown(deps, { timeoutMs: 60_000, pullGraceMs: 4_000 })();
    expect(steps).toEqual(["stop probing", "stop pulling within 4000 ms", "drain", "stop keeping alive", "flush"]);
    expect(deps.giveUp.signal.aborted).toBe(false);
    expect(messages()).toEqual(["writer stopped"]);
  });

  it("waits for dead-letter records still being published", async () => {
    const recorded = deferred<void>();
    const { deps, steps } = parts(async () => {});
    const stop = createShutdown({ ...deps, deadLettering: () => [recorded] }, { timeoutMs: 60_000, pullGraceMs: 1 });
    const stopped = stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(steps).not.toContain("flush");
    recorded.resolve();
    await stopped;
    expect(steps.at(-1)).toBe("flush");
    expect(deps.giveUp.signal.aborted).toBe(false);
  });

  it("at the deadline gives up on what is not written, so that it is handed back, and says so", async () => {
    const { deps, steps, messages } = parts(() => new Promise(() => {}));
    await createShutdown(deps, { timeoutMs: 10, pullGraceMs: 1 })();
    expect(deps.giveUp.signal.aborted).toBe(true);
    expect(steps.slice(-2)).toEqual(["stop keeping alive", "flush"]);
    expect(messages()).toEqual(["shutdown deadline passed; unwritten events were handed back", "writer stopped"]);
  });

  it("runs once however often it is called, and survives a failed flush", async () => {
    const { deps, steps, messages } = parts(async () => {});
    const stop = createShutdown(
      { ...deps, flush: () => Promise.reject(new Error("connection closed")) },
      { timeoutMs: 60_000, pullGraceMs: 1 },
    );
    await Promise.all([stop(), stop()]);
    await stop();
    expect(steps.filter((step) => step === "drain")).toHaveLength(1);
    expect(messages()).toEqual(["cannot flush acknowledgements", "writer stopped"]);
  });
});
