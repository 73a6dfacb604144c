/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core through
 * its executablePath; no browser is downloaded), against the built gateway, writer and reader on a
 * real nats-server and InfluxDB: sign in, see a published event arrive, filter, lose the gateway
 * and get back everything published meanwhile, ask the last events and the counts, sign out.
 * It saves what the page looked like to .vigil/dashboard.png (docs/dashboard.png is a copy).
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { EVENTS_SUBJECT } from "@vigil/shared";
import {
  freePort,
  type GatewayFiles,
  type Influxd,
  type NatsServer,
  prepareGatewayFiles,
  type RunningGateway,
  type RunningService,
  serviceEnv,
  startGateway,
  startInfluxd,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** Debian's Chromium; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** How long the page may take to show something: generous, the machine has two cores. */
const SEEN_MS = 20_000;

let dir: string;
let nats: NatsServer;
let influx: Influxd;
let files: GatewayFiles;
let port: number;
let gateway: RunningGateway | undefined;
const services: RunningService[] = [];
let producer: NatsConnection;
let browser: Browser;
let page: Page;

// The shortest access token the gateway allows, so that the page must refresh it during the test.
const gatewayEnv = () =>
  serviceEnv(nats.url, undefined, { ...files.env, GATEWAY_PORT: String(port), GATEWAY_ACCESS_TOKEN_TTL: "10s" });

/** Publishes an event as a producer does (the gateway is not needed for that). */
const publish = async (criticality: number, eventMessage: string) => {
  const event = {
    id: randomUUID(),
    criticality,
    timestamp: new Date().toISOString(),
    eventMessage,
    source: "browser-test",
  };
  await jetstream(producer).publish(EVENTS_SUBJECT, JSON.stringify(event), { msgID: event.id });
};

const liveList = () => page.getByRole("list", { name: "Live events, newest first" });
const status = () => page.getByRole("status");
const seen = (text: string) => liveList().getByText(text, { exact: false }).waitFor({ timeout: SEEN_MS });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-dashboard-"));
  [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("vigil")]);
  files = await prepareGatewayFiles(join(dir, "auth"), join(dir, "first-start"));
  services.push(await startService("writer", serviceEnv(nats.url, influx.config("writer"), {})));
  services.push(await startService("reader", serviceEnv(nats.url, influx.config("reader"), {})));
  // A fixed port, so that the page finds the gateway again after the restart.
  port = await freePort();
  gateway = await startGateway(gatewayEnv());
  producer = await connect({ servers: nats.url });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await producer?.close();
  await gateway?.service.process.stop();
  await Promise.allSettled(services.map((service) => service.process.stop()));
  await Promise.allSettled([nats?.stop(), influx?.dispose()]);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("the dashboard in Chromium", () => {
  it("signs in with the keyboard alone and goes live", async () => {
    await page.goto(gateway?.url ?? "");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.id")).toBe("username");
    await page.keyboard.type("admin");
    await page.keyboard.press("Tab");
    await page.keyboard.type(files.secret("admin-password"));
    await page.keyboard.press("Enter");
    await status().getByText("Live", { exact: true }).waitFor({ timeout: SEEN_MS });
    expect(await page.getByRole("button", { name: "Log out" }).isVisible()).toBe(true);
  });

  it("shows a published event as it arrives, newest on top, coloured by criticality", async () => {
    await publish(3, "first arrival");
    await seen("first arrival");
    await publish(9, "second arrival");
    await seen("second arrival");
    const items = liveList().getByRole("listitem");
    expect(await items.first().textContent()).toContain("second arrival");
    expect(await items.first().getByLabel("criticality 9").getAttribute("data-level")).toBe("top");
  });

  it("filters by minimum criticality", async () => {
    await page.getByLabel("Criticality above").first().selectOption("7");
    await publish(5, "below the filter");
    await publish(8, "above the filter");
    await seen("above the filter");
    // Published first: had it passed the filter, it would be on the page before the second.
    expect(await liveList().getByText("below the filter").count()).toBe(0);
  });

  it("pauses and resumes without losing what arrived meanwhile", async () => {
    await page.getByRole("button", { name: "Pause" }).click();
    await publish(9, "while paused");
    await page.getByText("1 new").waitFor({ timeout: SEEN_MS });
    expect(await liveList().getByText("while paused").count()).toBe(0);
    await page.getByRole("button", { name: "Resume" }).click();
    await seen("while paused");
  });

  it("resumes after a gateway restart, down longer than a token lives, with every event published meanwhile", async () => {
    await gateway?.service.process.stop();
    gateway = undefined;
    await status().getByText("Reconnecting", { exact: false }).waitFor({ timeout: SEEN_MS });
    const missed = ["missed one", "missed two", "missed three"];
    for (const text of missed) await publish(9, text);
    // Down for longer than the access token lives: the page's refresh fails meanwhile, and it must
    // neither sign out nor give up.
    await page.waitForEvent("requestfailed", {
      predicate: (request) => request.url().endsWith("/v1/auth/refresh"),
      timeout: SEEN_MS,
    });
    gateway = await startGateway(gatewayEnv());
    await status().getByText("resumed without loss", { exact: false }).waitFor({ timeout: 60_000 });
    for (const text of missed) await seen(text);
    const texts = await liveList().getByRole("listitem").allTextContents();
    // Newest on top, each once.
    const order = missed.map((text) => texts.findIndex((item) => item.includes(text)));
    expect(order).toEqual([...order].sort((a, b) => b - a));
    for (const text of missed) expect(texts.filter((item) => item.includes(text))).toHaveLength(1);
  }, 90_000);

  it("refreshes its access token before it expires, and stays live", async () => {
    const refreshed = await page.waitForResponse((response) => response.url().endsWith("/v1/auth/refresh"), {
      timeout: SEEN_MS,
    });
    expect(refreshed.status()).toBe(200);
    await publish(9, "after the refresh");
    await seen("after the refresh");
    expect(await page.getByRole("button", { name: "Log out" }).isVisible()).toBe(true);
  });

  it("asks the last events and draws the counts per criticality", async () => {
    await page.getByLabel("How many").fill("50");
    await page.locator("#query-min").selectOption("8");
    // The writer stores asynchronously: ask until the newest event is there.
    const table = page.getByRole("table");
    await waitFor(
      "the last events to include the newest",
      async () => {
        await page.getByRole("button", { name: "Ask" }).click();
        return (await table.isVisible()) && (await table.getByText("missed three").count()) > 0;
      },
      SEEN_MS,
      500,
    );
    expect(await table.getByText("missed three").count()).toBe(1);
    expect(await table.getByText("below the filter").count()).toBe(0);
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByText(/^[1-9]\d* events in the last 60 minutes/).waitFor({ timeout: SEEN_MS });
    expect(await page.locator("#counts-chart rect").count()).toBe(11);
    mkdirSync(".vigil", { recursive: true });
    await page.screenshot({ path: ".vigil/dashboard.png", fullPage: true });
  });

  it("fits a phone's width without scrolling sideways", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    const widths = (await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")) as number[];
    expect(widths[0]).toBeLessThanOrEqual(widths[1] ?? 0);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("signs in with an API key too", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Or an API key").fill(files.secret("producer-api-key"));
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    // Signed in (a producer key may not read, so the panels get FORBIDDEN: the point here is the key form).
    await page.getByRole("button", { name: "Log out" }).waitFor({ timeout: SEEN_MS });
    expect(await page.getByText("API key", { exact: true }).isVisible()).toBe(true);
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: SEEN_MS });
    expect(await status().textContent()).toContain("Signed out");
    expect(await page.locator("#panels").isHidden()).toBe(true);
  });
});
