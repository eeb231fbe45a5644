export interface Logger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MaintenanceTask {
  /** Logged with the count when a run did something. */
  readonly name: string;
  /** Does one batch of work and says how many items it handled. */
  run(): Promise<number>;
}

export interface Maintenance {
  /** Runs a task now (or right after its current run), instead of waiting for the interval. */
  kick(name: string): void;
  stop(): Promise<void>;
}

/**
 * Background chores of the embedded setup, run in this process on an interval: sweeping expired
 * uploads, removing unreferenced bytes, filling in digests. Each task runs at most once at a time.
 */
export function startMaintenance(tasks: readonly MaintenanceTask[], everyMs: number, log: Logger): Maintenance {
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  let stopped = false;

  const run = (task: MaintenanceTask): void => {
    if (stopped) return;
    if (running.has(task.name)) {
      again.add(task.name);
      return;
    }
    const done = task
      .run()
      .then((count) => { if (count > 0) log.info({ task: task.name, count }, 'maintenance'); })
      .catch((err: unknown) => log.error({ err, task: task.name }, 'maintenance task failed'))
      .finally(() => {
        running.delete(task.name);
        if (again.delete(task.name)) run(task);
      });
    running.set(task.name, done);
  };

  const timer = setInterval(() => { for (const task of tasks) run(task); }, everyMs);
  timer.unref();
  return {
    kick: (name) => {
      const task = tasks.find((candidate) => candidate.name === name);
      if (task) run(task);
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
