/**
 * The bench's load processes: a module forked with tsx that takes jobs (`{kind, …}`) over the IPC
 * channel and answers each with one reply, so that the load costs CPU in a process of its own, not
 * in the services' nor in the process that starts the servers.
 */
import { type ChildProcess, fork } from "node:child_process";

/** A job for a load process: anything with a `kind`. */
export interface Job {
  readonly kind: string;
}

/** A message from a load process to its parent. */
export type JobReply = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

/** A load process, asked for one job at a time. */
export interface JobRunner<J extends Job> {
  readonly pid: number;
  run<T>(job: J, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

/** Forks `modulePath` (a TypeScript module that calls {@link serveJobs}); `name` is for errors. */
export const forkJobRunner = <J extends Job>(modulePath: string, name: string): JobRunner<J> => {
  const child: ChildProcess = fork(modulePath, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    pid: child.pid as number,
    run: <T>(job: J, timeoutMs: number) =>
      new Promise<T>((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          child.off("message", onMessage);
          child.off("exit", onExit);
        };
        const onMessage = (message: JobReply) => {
          finish();
          if (message.ok) resolve(message.result as T);
          else reject(new Error(`${name}: ${message.error}`));
        };
        const onExit = (code: number | null) => {
          finish();
          reject(new Error(`the ${name} exited (${code}) during a ${job.kind} job`));
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`the ${name} did not finish a ${job.kind} job within ${timeoutMs} ms`));
        }, timeoutMs);
        child.on("message", onMessage);
        child.once("exit", onExit);
        child.send(job);
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // It exits by itself once the channel closes; killed if it has not within the deadline.
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
};

/** In the load process: runs each job as it arrives and replies with its result or its error. */
export const serveJobs = <J extends Job>(run: (job: J) => Promise<unknown>): void => {
  const reply = (message: JobReply) => process.send?.(message);
  process.on("message", (job: J) => {
    run(job).then(
      (result) => reply({ ok: true, result }),
      (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The parent went away: nothing more will be asked.
  process.on("disconnect", () => process.exit(0));
};
