import type { Db } from '../../db/client.ts';
import type { Logger } from '../../log.ts';

export interface ScheduledTask {
  name: string;
  everyMs: number;
  run(db: Db, now: Date): Promise<number>;
}

/**
 * Runs periodic housekeeping (job expiry; later auto-approval) in every API process. Each task is
 * safe to run concurrently in several processes: it moves rows with conditional updates, so a
 * row is handled once whichever process gets there first.
 */
export function startScheduler(db: Db, log: Logger, tasks: ScheduledTask[]): { stop(): Promise<void> } {
  const running = new Set<Promise<unknown>>();
  const timers = tasks.map((task) => {
    let busy = false;
    const tick = () => {
      if (busy) return;
      busy = true;
      const p = task
        .run(db, new Date())
        .then((count) => {
          if (count > 0) log.info({ task: task.name, count }, 'scheduled task done');
        })
        .catch((error) => log.warn({ err: error, task: task.name }, 'scheduled task failed; will retry'))
        .finally(() => {
          busy = false;
          running.delete(p);
        });
      running.add(p);
    };
    const timer = setInterval(tick, task.everyMs);
    timer.unref();
    return timer;
  });
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running]);
    },
  };
}
