import { printable, truncate } from "@vigil/runtime";
import type { EventsQuery, SecurityEvent } from "@vigil/shared";

/** How a table is laid out. */
export interface TableOptions {
  /** Terminal width in columns: messages are cut so that each row fits. Absent: messages are cut at {@link MAX_MESSAGE_WIDTH}. */
  readonly width?: number;
  /** Colour codes for the header and high criticalities; only for a terminal. */
  readonly color?: boolean;
}

/** Longest message shown when the output is not a terminal. */
export const MAX_MESSAGE_WIDTH = 100;

/** Narrowest message column, however narrow the terminal. */
const MIN_MESSAGE_WIDTH = 20;

const GAP = "  ";
const HEADINGS = ["TIME", "CRITICALITY", "SOURCE", "MESSAGE"] as const;

const style = {
  bold: (text: string) => `\u001b[1m${text}\u001b[22m`,
  red: (text: string) => `\u001b[31m${text}\u001b[39m`,
  yellow: (text: string) => `\u001b[33m${text}\u001b[39m`,
};

const length = (text: string): number => Array.from(text).length;
const pad = (text: string, width: number): string => text + " ".repeat(Math.max(0, width - length(text)));

/** The line above a table: what was asked and when. */
export const renderHeading = (query: EventsQuery, at: Date, color = false): string => {
  const text = `last ${query.limit} events with criticality > ${query.minCriticality}, newest first, at ${at.toISOString()}`;
  return color ? style.bold(text) : text;
};

/** The events as a table, one line each, newest first as given; a single line when there are none. */
export const renderTable = (events: readonly SecurityEvent[], options: TableOptions = {}): string => {
  if (events.length === 0) return "no events match";
  const rows = events.map((event) => [
    printable(event.timestamp),
    String(event.criticality),
    event.source ?? "-",
    printable(event.eventMessage),
  ]);
  const widths = HEADINGS.slice(0, 3).map((heading, column) =>
    Math.max(length(heading), ...rows.map((row) => length(row[column] as string))),
  );
  const prefix = widths.reduce((sum, width) => sum + width + GAP.length, 0);
  const messageWidth =
    options.width === undefined ? MAX_MESSAGE_WIDTH : Math.max(MIN_MESSAGE_WIDTH, options.width - prefix);
  const line = (cells: readonly string[], criticality?: number) =>
    cells
      .map((cell, column) => {
        if (column === 3) return truncate(cell, messageWidth);
        const padded = pad(cell, widths[column] as number);
        return column === 1 && criticality !== undefined && options.color === true
          ? colorCriticality(padded, criticality)
          : padded;
      })
      .join(GAP);
  const heading = line(HEADINGS);
  return [
    options.color === true ? style.bold(heading) : heading,
    ...rows.map((row, index) => line(row, events[index]?.criticality)),
  ].join("\n");
};

const colorCriticality = (text: string, criticality: number): string => {
  if (criticality >= 8) return style.red(text);
  if (criticality >= 5) return style.yellow(text);
  return text;
};
