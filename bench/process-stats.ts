import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** CPU time (user + system) a process has used so far, in microseconds. */
export const cpuMicros = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / TICKS_PER_SECOND) * 1_000_000;
};

/** Peak resident set size of a process so far (VmHWM), in bytes. */
export const peakRssBytes = (pid: number): number => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? Number.NaN : Number(match[1]) * 1024;
};

/**
 * Clock ticks the whole machine (every process, every core) has spent so far: busy running
 * something, and in all. Time stolen by the hypervisor counts in all but not as busy.
 */
export const machineTicks = (): { readonly busy: number; readonly total: number } => {
  // cpu  user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (
    readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
  )
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, total: busy + idle + iowait + steal };
};

/** Share of the machine's CPU time (all cores) that was busy between two {@link machineTicks} readings. */
export const busyShare = (before: ReturnType<typeof machineTicks>, after: ReturnType<typeof machineTicks>): number =>
  (after.busy - before.busy) / Math.max(1, after.total - before.total);

/** The ids of this process's children started from `executable` (a path or a file name). */
export const childPids = (executable: string): number[] => {
  // The kernel keeps the first 15 characters of the file name as the command.
  const command = basename(executable).slice(0, 15);
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        return []; // it ended while the list was read
      }
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return parent === process.pid && stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) === command
        ? [Number(pid)]
        : [];
    });
};
