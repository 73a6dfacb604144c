import type { LiveEvent, LiveStatus } from "./live-feed.js";

/** The element with `id`, which index.html must have. */
export const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
};

/** The colour band of a criticality: 0–3 low, 4–6 mid, 7–8 high, 9–10 top. */
export const level = (criticality: number): string =>
  criticality >= 9 ? "top" : criticality >= 7 ? "high" : criticality >= 4 ? "mid" : "low";

const element = (tag: string, text: string, attributes: Record<string, string> = {}): HTMLElement => {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
};

const criticalityBadge = (criticality: number) =>
  element("span", String(criticality), {
    class: "crit",
    "data-level": level(criticality),
    "aria-label": `criticality ${criticality}`,
  });

/** One live event as a list item: time, criticality, source and message. */
export const eventItem = (event: LiveEvent): HTMLLIElement => {
  const item = document.createElement("li");
  item.dataset.id = event.id;
  const time = element("time", new Date(event.timestamp).toLocaleTimeString(), { datetime: event.timestamp });
  const message = element("span", `${event.source ?? "?"}: ${event.eventMessage}`, { class: "message" });
  item.append(time, criticalityBadge(event.criticality), message);
  return item;
};

/** One event as a table row. */
export const eventRow = (event: LiveEvent): HTMLTableRowElement => {
  const row = document.createElement("tr");
  const cells = [
    element("td", new Date(event.timestamp).toLocaleString()),
    document.createElement("td"),
    element("td", event.source ?? ""),
    element("td", event.eventMessage),
  ];
  cells[1]?.append(criticalityBadge(event.criticality));
  row.append(...cells);
  return row;
};

/** The `<option>`s −1 to 9 of a "criticality above" select, `selected` chosen. */
export const fillThresholds = (select: HTMLSelectElement, selected: number): void => {
  for (let value = -1; value <= 9; value++) {
    const option = element("option", value === -1 ? "any" : String(value), {
      value: String(value),
    }) as HTMLOptionElement;
    option.selected = value === selected;
    select.append(option);
  }
};

/** The connection badge's text and state. */
export const showStatus = (badge: HTMLElement, status: LiveStatus): void => {
  const [state, text] =
    status.kind === "live"
      ? ["live", "Live"]
      : status.kind === "resumed"
        ? status.missed === 0
          ? ["resumed", "Live: resumed without loss"]
          : ["gap", `Live: resumed, ${status.missed} events missed`]
        : status.kind === "reconnecting"
          ? ["reconnecting", `Reconnecting (${status.why})`]
          : status.kind === "connecting"
            ? ["reconnecting", "Connecting"]
            : ["signed-out", `Signed out: ${status.why}`];
  badge.dataset.state = state;
  badge.textContent = text;
};

const SVG = "http://www.w3.org/2000/svg";

/** Bars of `counts` (criticality 0 to 10) in the chart's 440 × 180 view box, each labelled with its count. */
export const drawCounts = (svg: SVGSVGElement, counts: Readonly<Record<string, number>>): void => {
  const values = Array.from({ length: 11 }, (_, criticality) => counts[String(criticality)] ?? 0);
  const top = Math.max(1, ...values);
  const title = document.createElementNS(SVG, "title");
  title.textContent = `Events per criticality: ${values.map((value, criticality) => `${criticality}: ${value}`).join(", ")}`;
  const shapes: SVGElement[] = [title];
  values.forEach((value, criticality) => {
    const height = Math.round((value / top) * 130);
    const x = 8 + criticality * 39;
    const bar = document.createElementNS(SVG, "rect");
    for (const [name, attribute] of Object.entries({ x, y: 150 - height, width: 30, height, rx: 3 })) {
      bar.setAttribute(name, String(attribute));
    }
    bar.setAttribute("fill", `var(--${level(criticality)}-ink)`);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `criticality ${criticality}: ${value}`;
    bar.append(title);
    const count = document.createElementNS(SVG, "text");
    count.setAttribute("x", String(x + 15));
    count.setAttribute("y", String(145 - height));
    count.setAttribute("text-anchor", "middle");
    count.textContent = String(value);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(x + 15));
    label.setAttribute("y", "168");
    label.setAttribute("text-anchor", "middle");
    label.textContent = String(criticality);
    shapes.push(bar, count, label);
  });
  svg.replaceChildren(...shapes);
};
