import {
  closeAction,
  createLiveFeed,
  type LiveEvent,
  parseFrame,
  protocolsFor,
  reconnectDelayMs,
} from "./live-feed.js";
import { ApiFailure, type Session, type SignIn, signIn } from "./session.js";
import { byId, drawCounts, eventItem, eventRow, fillThresholds, showStatus } from "./view.js";

/** Live events kept on the page, and held while paused; the oldest go first. */
const MAX_SHOWN = 500;
const MAX_HELD = 1_000;
/** How often the counts per criticality are asked again. */
const COUNTS_EVERY_MS = 10_000;

const page = {
  status: byId("connection"),
  who: byId("who"),
  signOut: byId<HTMLButtonElement>("sign-out"),
  signIn: byId("sign-in"),
  signInError: byId("sign-in-error"),
  panels: byId("panels"),
  liveMin: byId<HTMLSelectElement>("live-min"),
  pause: byId<HTMLButtonElement>("pause"),
  held: byId("held"),
  liveEvents: byId<HTMLOListElement>("live-events"),
  countsForm: byId<HTMLFormElement>("counts-form"),
  countsMinutes: byId<HTMLInputElement>("counts-minutes"),
  countsSummary: byId("counts-summary"),
  countsChart: byId("counts-chart") as unknown as SVGSVGElement,
  countsError: byId("counts-error"),
  queryForm: byId<HTMLFormElement>("query-form"),
  queryMin: byId<HTMLSelectElement>("query-min"),
  queryLimit: byId<HTMLInputElement>("query-limit"),
  queryTable: byId<HTMLTableElement>("query-table"),
  queryError: byId("query-error"),
};

const feed = createLiveFeed();
let session: Session | undefined;
let socket: WebSocket | undefined;
let attempt = 0;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let countsTimer: ReturnType<typeof setInterval> | undefined;
let paused = false;
let held: LiveEvent[] = [];
let dropped = 0;

const messageOf = (err: unknown) =>
  err instanceof ApiFailure ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);

const showHeld = () => {
  page.held.textContent = paused ? `${held.length} new${dropped > 0 ? `, ${dropped} not kept` : ""}` : "";
};

const showEvent = (event: LiveEvent) => {
  if (paused) {
    held.push(event);
    if (held.length > MAX_HELD) {
      held.shift();
      dropped++;
    }
    showHeld();
    return;
  }
  page.liveEvents.prepend(eventItem(event));
  while (page.liveEvents.children.length > MAX_SHOWN) page.liveEvents.lastElementChild?.remove();
};

const reconnectLater = (fresh: boolean, why: string) => {
  showStatus(page.status, { kind: "reconnecting", why });
  reconnectTimer = setTimeout(() => connect(fresh, true), reconnectDelayMs(attempt++));
};

/**
 * Opens the live tail after the last cursor (from now on when `fresh`); a `resumption` follows a
 * lost connection and says whether anything was missed.
 */
const connect = (fresh: boolean, resumption: boolean) => {
  if (session === undefined) return;
  showStatus(page.status, { kind: "connecting" });
  const ws = new WebSocket(
    feed.nextUrl(window.location.href, Number(page.liveMin.value), fresh, resumption),
    protocolsFor(session.accessToken()),
  );
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    showStatus(page.status, feed.opened());
  };
  ws.onmessage = (message) => {
    const frame = parseFrame(String(message.data));
    if (frame === undefined) return;
    const { event, status } = feed.receive(frame);
    if (event !== undefined) showEvent(event);
    if (status !== undefined) showStatus(page.status, status);
  };
  ws.onclose = (closed) => {
    // A socket the page closed itself (a new filter, signing out) is not reconnected.
    if (socket !== ws || session === undefined) return;
    socket = undefined;
    const action = closeAction(closed.code);
    const why = closed.reason.split(":")[0] || (closed.code === 1006 ? "connection lost" : `closed ${closed.code}`);
    if (action.kind === "sign-out") end(why);
    else if (action.kind === "refresh-then-reconnect") {
      // Refused: the session has ended. Not answered (the gateway is down): try again later.
      session.refresh().then(
        () => connect(false, true),
        (err: unknown) => {
          if (session !== undefined) reconnectLater(false, messageOf(err));
        },
      );
    } else reconnectLater(action.fresh, why);
  };
};

const closeSocket = () => {
  clearTimeout(reconnectTimer);
  const open = socket;
  socket = undefined;
  open?.close(1000, "closed by the page");
};

const loadCounts = async () => {
  if (session === undefined) return;
  try {
    const minutes = Number(page.countsMinutes.value);
    const counts = await session.getJson<{ total: number; perSecond: number; byCriticality: Record<string, number> }>(
      `/v1/aggregates?minutes=${minutes}`,
    );
    drawCounts(page.countsChart, counts.byCriticality);
    page.countsSummary.textContent = `${counts.total} events in the last ${minutes} minutes, ${counts.perSecond.toFixed(2)} per second`;
    page.countsError.textContent = "";
  } catch (err) {
    page.countsError.textContent = messageOf(err);
  }
};

const start = (name: string) => {
  page.signIn.hidden = true;
  page.panels.hidden = false;
  page.signOut.hidden = false;
  page.who.textContent = name;
  page.signInError.textContent = "";
  page.liveEvents.replaceChildren();
  connect(true, false);
  void loadCounts();
  countsTimer = setInterval(() => void loadCounts(), COUNTS_EVERY_MS);
  page.liveMin.focus();
};

/** Back to the sign-in form, with the reason in the status badge. */
const end = (why: string) => {
  session = undefined;
  closeSocket();
  clearInterval(countsTimer);
  page.panels.hidden = true;
  page.signOut.hidden = true;
  page.signIn.hidden = false;
  page.who.textContent = "";
  showStatus(page.status, { kind: "signed-out", why });
  byId<HTMLInputElement>("username").focus();
};

const signInWith = (how: SignIn, name: string) =>
  signIn(how, (why) => end(why)).then(
    (started) => {
      session = started;
      start(name);
    },
    (err: unknown) => {
      page.signInError.textContent = messageOf(err);
    },
  );

byId<HTMLFormElement>("password-form").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const username = byId<HTMLInputElement>("username").value;
  const password = byId<HTMLInputElement>("password");
  void signInWith({ username, password: password.value }, username).then(() => {
    password.value = "";
  });
});

byId<HTMLFormElement>("key-form").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const key = byId<HTMLInputElement>("api-key");
  void signInWith({ apiKey: key.value }, "API key").then(() => {
    key.value = "";
  });
});

page.signOut.addEventListener("click", () => {
  const ending = session;
  end("logged out");
  void ending?.signOut();
});

// A new filter starts a new list, from the last cursor on, so that nothing published while the
// connection changes is lost.
page.liveMin.addEventListener("change", () => {
  closeSocket();
  held = [];
  dropped = 0;
  showHeld();
  page.liveEvents.replaceChildren();
  connect(false, false);
});

page.pause.addEventListener("click", () => {
  paused = !paused;
  page.pause.setAttribute("aria-pressed", String(paused));
  page.pause.textContent = paused ? "Resume" : "Pause";
  if (!paused) {
    for (const event of held) showEvent(event);
    held = [];
    dropped = 0;
  }
  showHeld();
});

page.countsForm.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  void loadCounts();
});

page.queryForm.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  if (session === undefined) return;
  const path = `/v1/events?minCriticality=${page.queryMin.value}&limit=${page.queryLimit.value}`;
  session.getJson<{ events: LiveEvent[] }>(path).then(
    ({ events }) => {
      page.queryTable.tBodies[0]?.replaceChildren(...events.map(eventRow));
      page.queryTable.hidden = false;
      page.queryError.textContent = events.length === 0 ? "No events above that criticality." : "";
    },
    (err: unknown) => {
      page.queryError.textContent = messageOf(err);
    },
  );
});

fillThresholds(page.liveMin, -1);
fillThresholds(page.queryMin, 5);
