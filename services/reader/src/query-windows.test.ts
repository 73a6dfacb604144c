import type { QuerySeries } from "@vigil/influx";
import { describe, expect, it } from "vitest";
import { checkQueryWindows, countRows, readNewestFirst } from "./query-windows.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-12-02T12:00:00.000Z");

/** Stored point times (ms), newest first; a read returns the first `limit` after `since`. */
const store = (times: readonly number[], limit: number) => {
  const asked: (string | undefined)[] = [];
  const read = async (since: Date | undefined): Promise<QuerySeries[]> => {
    asked.push(since?.toISOString());
    const rows = times.filter((time) => since === undefined || time > since.getTime()).slice(0, limit);
    return rows.length === 0 ? [] : [{ name: "security_events", columns: ["time"], values: rows.map((t) => [t]) }];
  };
  return { read, asked };
};

const timesOf = (series: readonly QuerySeries[]) => series.flatMap((one) => one.values.map((row) => row[0]));

describe("readNewestFirst", () => {
  it("stops at the first window that holds `limit` rows, bounded at now minus the window", async () => {
    const { read, asked } = store([NOW - 1_000, NOW - 2_000, NOW - 3 * DAY], 2);
    const rows = await readNewestFirst([HOUR, DAY, 7 * DAY], 2, NOW, read);
    expect(rows.steps).toBe(1);
    expect(timesOf(rows.series)).toEqual([NOW - 1_000, NOW - 2_000]);
    expect(asked).toEqual([new Date(NOW - HOUR).toISOString()]);
  });

  it("widens window by window while fewer than `limit` rows came back", async () => {
    const { read, asked } = store([NOW - 1_000, NOW - 3 * DAY, NOW - 4 * DAY], 3);
    const rows = await readNewestFirst([HOUR, DAY, 7 * DAY], 3, NOW, read);
    expect(rows.steps).toBe(3);
    expect(timesOf(rows.series)).toEqual([NOW - 1_000, NOW - 3 * DAY, NOW - 4 * DAY]);
    expect(asked).toEqual([HOUR, DAY, 7 * DAY].map((window) => new Date(NOW - window).toISOString()));
  });

  it("ends with the unbounded read, which returns all there is when it is fewer than `limit`", async () => {
    const { read, asked } = store([NOW - 1_000, NOW - 30 * DAY], 10);
    const rows = await readNewestFirst([HOUR, DAY, 7 * DAY], 10, NOW, read);
    expect(rows.steps).toBe(4);
    expect(timesOf(rows.series)).toEqual([NOW - 1_000, NOW - 30 * DAY]);
    expect(asked.at(-1)).toBeUndefined();
  });

  it("reads unbounded at once when there are no windows", async () => {
    const { read, asked } = store([NOW - 1_000], 1);
    expect(await readNewestFirst([], 1, NOW, read)).toMatchObject({ steps: 1 });
    expect(asked).toEqual([undefined]);
  });

  it("leaves a point exactly at the bound to the next window, and takes one just after it", async () => {
    const { read } = store([NOW - HOUR + 1, NOW - HOUR], 1);
    expect(timesOf((await readNewestFirst([HOUR], 1, NOW, read)).series)).toEqual([NOW - HOUR + 1]);
    const both = await readNewestFirst([HOUR], 2, NOW, store([NOW - HOUR + 1, NOW - HOUR], 2).read);
    expect([both.steps, timesOf(both.series)]).toEqual([2, [NOW - HOUR + 1, NOW - HOUR]]);
  });

  it("answers as the unbounded read does whatever the reader's clock says, future points included", async () => {
    const times = [NOW + DAY, NOW + 1_000, NOW - 5_000, NOW - 2 * DAY, NOW - 9 * DAY, NOW - 40 * DAY];
    for (const limit of [1, 2, 3, 4, 6, 10]) {
      const unbounded = timesOf(await store(times, limit).read(undefined));
      for (const skew of [-30 * DAY, -2 * HOUR, 0, 2 * HOUR, 3 * DAY, 100 * DAY]) {
        const rows = await readNewestFirst([HOUR, DAY, 7 * DAY], limit, NOW + skew, store(times, limit).read);
        expect(timesOf(rows.series)).toEqual(unbounded);
      }
    }
  });

  it("counts rows as InfluxDB's LIMIT does, across series, decodable or not", async () => {
    const series = (rows: number): QuerySeries => ({
      name: "security_events",
      columns: ["time"],
      values: Array.from({ length: rows }, (_, i) => [i]),
    });
    expect(countRows([])).toBe(0);
    expect(countRows([series(2), series(3)])).toBe(5);
    const asked: (Date | undefined)[] = [];
    const rows = await readNewestFirst([HOUR, DAY], 5, NOW, async (since) => {
      asked.push(since);
      return [series(2), series(3)];
    });
    expect([rows.steps, asked.length]).toEqual([1, 1]);
  });

  it("passes on a failed step without reading further", async () => {
    const asked: (Date | undefined)[] = [];
    const failure = new Error("InfluxDB went away");
    await expect(
      readNewestFirst([HOUR, DAY], 5, NOW, async (since) => {
        asked.push(since);
        if (asked.length === 2) throw failure;
        return [];
      }),
    ).rejects.toBe(failure);
    expect(asked).toHaveLength(2);
  });
});

describe("checkQueryWindows", () => {
  it("accepts no windows, and positive strictly widening ones", () => {
    expect(checkQueryWindows([])).toBeUndefined();
    expect(checkQueryWindows([HOUR, DAY, 7 * DAY])).toBeUndefined();
  });

  it("refuses a window that is not positive or does not widen", () => {
    expect(checkQueryWindows([0])).toMatch(/window 1 must be at least 1ms/);
    expect(checkQueryWindows([HOUR, HOUR])).toMatch(/window 2 must be wider/);
    expect(checkQueryWindows([DAY, HOUR])).toMatch(/window 2 must be wider/);
  });
});
