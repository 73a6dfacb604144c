/**
 * The live-tail benchmark's clients: a process of its own (forked by bench/live.ts, several when
 * one cannot keep up) holding many `GET /v1/live` WebSockets (the `ws` client). Each client checks
 * every event frame as it arrives (cursor order, filter, digest of the cursors, see live-check.ts)
 * and the process keeps one histogram of delivery latency: from the probe's stamp (taken by the
 * publisher just before its confirmed publish) to the frame's arrival here.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { serveJobs } from "./child-jobs.js";
import {
  type ClientTally,
  createLatencyHistogram,
  createMonotonicClock,
  createSequenceCheck,
  type HistogramCounts,
  readEventFrame,
  type SequenceCheck,
} from "./live-check.js";

/** One client to open: its number in the whole benchmark and its filter. */
export interface ClientSpec {
  readonly id: number;
  readonly minCriticality: number;
}

/** Where clients connect: `ws://host:port/v1/live`, with a viewer API key. */
export interface LiveTarget {
  readonly url: string;
  readonly apiKey: string;
}

export type ClientsJob =
  | {
      /** Opens `clients`, `concurrency` handshakes at a time; resolves once every one opened or was refused. */
      readonly kind: "open";
      readonly target: LiveTarget;
      readonly clients: readonly ClientSpec[];
      readonly concurrency: number;
    }
  | {
      /**
       * Resolves once every open client has received the event with cursor `lastCursor[m]` (the
       * last one above its filter `m`), or after `timeoutMs`.
       */
      readonly kind: "await";
      readonly lastCursor: Readonly<Record<string, number>>;
      readonly timeoutMs: number;
    }
  | {
      /** Closes the clients `ids` (1000), remembering the cursor of the last event frame of each. */
      readonly kind: "leave";
      readonly ids: readonly number[];
    }
  | {
      /**
       * Reopens the clients `ids` with `after=<last cursor>`; each counts as caught up at the first
       * event frame that arrives within `liveWithinMs` of its stamp.
       */
      readonly kind: "resume";
      readonly target: LiveTarget;
      readonly ids: readonly number[];
      readonly liveWithinMs: number;
    }
  | { readonly kind: "report" }
  | { readonly kind: "close" };

/** The outcome of an `await` job: open clients that received their last event in time, and those short of it. */
export interface AwaitResult {
  readonly reached: number;
  readonly short: number;
}

/** The outcome of an `open` job. */
export interface OpenResult {
  readonly opened: number;
  /** Handshakes answered other than 101 (by status), or that failed (status 0). */
  readonly refused: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
}

/** One resumed client: what the reconnection cost. */
export interface ResumeFigures {
  readonly id: number;
  readonly minCriticality: number;
  /** The cursor it resumed after. */
  readonly after: number;
  /** When it reconnected, on the machine's monotonic clock (as the probes' stamps). */
  readonly startedAt: number;
  /** From the reconnection's start to the upgrade's answer. */
  readonly openMs: number;
  /** From the reconnection's start to the last event published before it (everything missed has arrived). */
  readonly backlogMs: number;
  /** From the reconnection's start to the first event frame within `liveWithinMs` of its stamp. */
  readonly caughtUpMs: number;
  /** Event frames received after reconnecting for events published before it (what it had missed). */
  readonly replayed: number;
}

/** What a clients process reports. */
export interface ClientsReport {
  readonly tallies: readonly (ClientTally & { readonly id: number })[];
  /** Connections the gateway or the network ended, by close code (1006: dropped without a close frame). */
  readonly closed: Readonly<Record<string, number>>;
  readonly latency: HistogramCounts;
  /** When the last event frame arrived, on the machine's monotonic clock (NaN before any). */
  readonly lastEventAt: number;
  readonly resumes: readonly ResumeFigures[];
  /** This process's event-loop delay since it started (whether it kept up with its sockets). */
  readonly loopDelay: { readonly p99Ms: number; readonly maxMs: number };
}

interface Resume {
  readonly after: number;
  readonly startedAt: number;
  openMs: number;
  backlogAt: number;
  caughtUpAt: number;
  replayed: number;
}

interface Client {
  readonly spec: ClientSpec;
  readonly check: SequenceCheck;
  ws: WebSocket | undefined;
  /** Closed by this process (leave, close): not counted as ended by the gateway. */
  leaving: boolean;
  /** Cursor the `await` job waits for; Infinity when none. */
  target: number;
  resume: Resume | undefined;
}

const now = createMonotonicClock();
const latency = createLatencyHistogram();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const clients = new Map<number, Client>();
const closed = new Map<number, number>();
let liveWithinMs = 100;
let lastEventAt = Number.NaN;
/** The `await` job in progress: clients still short of their target, and what to call when none is. */
let awaiting: { pending: number; done: () => void } | undefined;

const reached = (client: Client) => {
  client.target = Number.POSITIVE_INFINITY;
  if (awaiting === undefined) return;
  awaiting.pending--;
  if (awaiting.pending === 0) awaiting.done();
};

const onEventFrame = (client: Client, cursor: number, criticality: number, publishedAt: number) => {
  const receivedAt = now();
  lastEventAt = receivedAt;
  client.check.event(cursor, criticality);
  latency.record(receivedAt - publishedAt);
  const { resume } = client;
  if (resume !== undefined) {
    if (publishedAt < resume.startedAt) {
      resume.backlogAt = receivedAt;
      resume.replayed++;
    }
    if (Number.isNaN(resume.caughtUpAt) && receivedAt - publishedAt <= liveWithinMs) resume.caughtUpAt = receivedAt;
  }
  if (cursor >= client.target) reached(client);
};

const onFrame = (client: Client, data: Buffer) => {
  const event = readEventFrame(data);
  if (event !== undefined) return onEventFrame(client, event.cursor, event.criticality, event.publishedAt);
  const frame = JSON.parse(data.toString("utf8")) as { type: string; missed?: number };
  if (frame.type === "gap") client.check.gap(frame.missed ?? 0);
};

const urlOf = (target: LiveTarget, spec: ClientSpec, after: number | undefined) => {
  const url = new URL(target.url);
  url.searchParams.set("minCriticality", String(spec.minCriticality));
  if (after !== undefined) url.searchParams.set("after", String(after));
  return url.toString();
};

/** Opens `client`'s connection; resolves with 101, the refusal's status, or 0 when it failed. */
const connectClient = (client: Client, target: LiveTarget, after: number | undefined): Promise<number> =>
  new Promise((resolve) => {
    const ws = new WebSocket(urlOf(target, client.spec, after), {
      headers: { "x-api-key": target.apiKey },
      perMessageDeflate: false,
      // The frames are checked by what they carry; UTF-8 validation would only cost CPU here.
      skipUTF8Validation: true,
    });
    client.leaving = false;
    ws.on("message", (data) => onFrame(client, data as Buffer));
    ws.once("unexpected-response", (request, response) => {
      request.destroy();
      resolve(response.statusCode ?? 0);
    });
    ws.once("open", () => {
      client.ws = ws;
      resolve(101);
    });
    ws.on("error", () => resolve(0));
    ws.once("close", (code) => {
      if (client.ws !== ws) return;
      client.ws = undefined;
      if (!client.leaving) closed.set(code, (closed.get(code) ?? 0) + 1);
      if (client.target !== Number.POSITIVE_INFINITY) reached(client);
    });
  });

/** Runs `work` over `items`, `lanes` at a time. */
const inLanes = async <T>(items: readonly T[], lanes: number, work: (item: T) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
};

const countRefusal = (refused: Record<string, number>, status: number) => {
  if (status !== 101) refused[status] = (refused[status] ?? 0) + 1;
};

const openClients = async (job: Extract<ClientsJob, { kind: "open" }>): Promise<OpenResult> => {
  const began = now();
  const refused: Record<string, number> = {};
  let opened = 0;
  await inLanes(job.clients, job.concurrency, async (spec) => {
    const client: Client = {
      spec,
      check: createSequenceCheck(spec.minCriticality),
      ws: undefined,
      leaving: false,
      target: Number.POSITIVE_INFINITY,
      resume: undefined,
    };
    clients.set(spec.id, client);
    const status = await connectClient(client, job.target, undefined);
    if (status === 101) opened++;
    countRefusal(refused, status);
  });
  return { opened, refused, elapsedMs: now() - began };
};

const awaitCursors = (job: Extract<ClientsJob, { kind: "await" }>): Promise<AwaitResult> =>
  new Promise((resolve) => {
    const open = [...clients.values()].filter((client) => client.ws !== undefined);
    const pending = open.filter((client) => {
      client.target = job.lastCursor[String(client.spec.minCriticality)] ?? 0;
      if (client.check.lastCursor < client.target) return true;
      client.target = Number.POSITIVE_INFINITY;
      return false;
    });
    const finish = () => {
      clearTimeout(timer);
      awaiting = undefined;
      const short = open.filter((client) => client.target !== Number.POSITIVE_INFINITY);
      for (const client of short) client.target = Number.POSITIVE_INFINITY;
      resolve({ reached: open.length - short.length, short: short.length });
    };
    const timer = setTimeout(finish, job.timeoutMs);
    awaiting = { pending: pending.length, done: finish };
    if (pending.length === 0) finish();
  });

const closeClient = (client: Client): Promise<void> =>
  new Promise((resolve) => {
    const { ws } = client;
    if (ws === undefined) return resolve();
    client.leaving = true;
    ws.once("close", () => resolve());
    ws.close(1000);
  });

const resumeClients = async (job: Extract<ClientsJob, { kind: "resume" }>): Promise<OpenResult> => {
  liveWithinMs = job.liveWithinMs;
  const began = now();
  const refused: Record<string, number> = {};
  let opened = 0;
  await Promise.all(
    job.ids.map(async (id) => {
      const client = clients.get(id);
      if (client === undefined) throw new Error(`no client ${id}`);
      const resume: Resume = {
        after: client.check.lastCursor,
        startedAt: now(),
        openMs: Number.NaN,
        backlogAt: Number.NaN,
        caughtUpAt: Number.NaN,
        replayed: 0,
      };
      client.resume = resume;
      const status = await connectClient(client, job.target, resume.after);
      resume.openMs = now() - resume.startedAt;
      if (status === 101) opened++;
      countRefusal(refused, status);
    }),
  );
  return { opened, refused, elapsedMs: now() - began };
};

const report = (): ClientsReport => ({
  tallies: [...clients.values()].map((client) => ({ id: client.spec.id, ...client.check.tally() })),
  closed: Object.fromEntries(closed),
  latency: latency.counts(),
  lastEventAt,
  resumes: [...clients.values()].flatMap(({ spec, resume }) =>
    resume === undefined
      ? []
      : [
          {
            id: spec.id,
            minCriticality: spec.minCriticality,
            after: resume.after,
            startedAt: resume.startedAt,
            openMs: resume.openMs,
            backlogMs: resume.backlogAt - resume.startedAt,
            caughtUpMs: resume.caughtUpAt - resume.startedAt,
            replayed: resume.replayed,
          },
        ],
  ),
  loopDelay: { p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 },
});

const run = async (job: ClientsJob): Promise<unknown> => {
  switch (job.kind) {
    case "open":
      return openClients(job);
    case "await":
      return awaitCursors(job);
    case "leave":
      await Promise.all(job.ids.map((id) => closeClient(clients.get(id) as Client)));
      return job.ids.length;
    case "resume":
      return resumeClients(job);
    case "report":
      return report();
    case "close":
      await Promise.all([...clients.values()].map(closeClient));
      return clients.size;
  }
};

serveJobs<ClientsJob>(run);
