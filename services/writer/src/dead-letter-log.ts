import type { Logger } from "pino";
import type { DeadLetterCode } from "./dead-letter.js";

/** Shortest time between two warnings about dead letters while they keep coming. */
export const DEAD_LETTER_LOG_INTERVAL_MS = 10_000;

const DEAD_LETTERED = "dead-lettered a message that can never be stored";

/** What the log says about one dead letter the stream confirmed. */
export interface RecordedDeadLetter {
  readonly code: DeadLetterCode;
  /** The reason as recorded (one line). */
  readonly reason: string;
  readonly streamSequence: number;
  /** The `id` the payload claims, untrusted and cut short; absent when it claims none. */
  readonly eventId?: string | undefined;
}

/** The writer's log lines about recorded dead letters. */
export interface DeadLetterLog {
  /**
   * Notes one recorded dead letter: a warning with its reason when none was logged in the last
   * interval, else a count in the next summary (and a debug line with its reason).
   */
  recorded(letter: RecordedDeadLetter): void;
  /** Logs the summary of what was counted and not yet logged; called when the writer stops. */
  flush(): void;
}

/** Dead letters counted since the last warning. */
interface Unlogged {
  count: number;
  readonly byCode: Partial<Record<DeadLetterCode, number>>;
  /** Lowest and highest stream sequence among them (they are confirmed in any order). */
  lowestSequence: number;
  highestSequence: number;
}

/**
 * One warning per dead letter would cost more than recording it: under a stream of bad input the
 * writer would spend its time writing log lines (and the log shipper reading them). So the first
 * dead letter after a quiet interval is logged as before, with its reason, and those that follow
 * within `intervalMs` are summed into one warning at the end of it (counts by code, the range of
 * stream sequences). Each record on the dead-letter stream holds its own reason, and the metric
 * `vigil_writer_events_dead_lettered_total` counts every one.
 */
export const createDeadLetterLog = (log: Logger, intervalMs: number = DEAD_LETTER_LOG_INTERVAL_MS): DeadLetterLog => {
  let quietUntil = Number.NEGATIVE_INFINITY;
  let unlogged: Unlogged | undefined;
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (unlogged === undefined) return;
    const { count, byCode, lowestSequence, highestSequence } = unlogged;
    unlogged = undefined;
    quietUntil = Date.now() + intervalMs;
    log.warn(
      { deadLettered: count, byCode, lowestSequence, highestSequence },
      "dead-lettered more messages that can never be stored; each record on the dead-letter stream holds its reason",
    );
  };

  const count = ({ code, streamSequence }: RecordedDeadLetter) => {
    if (unlogged === undefined) {
      unlogged = { count: 0, byCode: {}, lowestSequence: streamSequence, highestSequence: streamSequence };
      timer = setTimeout(flush, Math.max(0, quietUntil - Date.now()));
      timer.unref();
    }
    unlogged.count++;
    unlogged.byCode[code] = (unlogged.byCode[code] ?? 0) + 1;
    unlogged.lowestSequence = Math.min(unlogged.lowestSequence, streamSequence);
    unlogged.highestSequence = Math.max(unlogged.highestSequence, streamSequence);
  };

  return {
    recorded(letter) {
      if (Date.now() >= quietUntil) {
        quietUntil = Date.now() + intervalMs;
        log.warn(letter, DEAD_LETTERED);
        return;
      }
      count(letter);
      if (log.isLevelEnabled("debug")) log.debug(letter, DEAD_LETTERED);
    },
    flush,
  };
};
