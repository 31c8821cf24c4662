/**
 * A background worker woken by `kick()` (NOTIFY, a poll, an in-process nudge): one round at a time;
 * kicks during a round coalesce into one more round; a round repeats while `work` returns a full
 * batch. Errors are reported and the next kick retries. Shared by the outbox dispatcher and the
 * webhook worker.
 */
export interface KickLoop {
  kick(): void;
  /** No new rounds after this; await `current()` for the one in progress. */
  stop(): void;
  current(): Promise<void> | null;
}

export function createKickLoop(
  work: () => Promise<number>,
  options: { batch: number; onError: (error: unknown) => void },
): KickLoop {
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  const round = async () => {
    do {
      again = false;
      try {
        while (!stopped && (await work()) === options.batch) {}
      } catch (error) {
        options.onError(error);
      }
    } while (again && !stopped);
  };
  return {
    kick() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = round().finally(() => {
        running = null;
      });
    },
    stop() {
      stopped = true;
    },
    current: () => running,
  };
}
