/** Narrows an event union by `__typename`: `stream.first(ofType('OfferMade'))` is typed as the OfferMade event. */
export function ofType<E extends { __typename: string }, N extends E['__typename']>(
  ...names: N[]
): (event: E) => event is Extract<E, { __typename: N }> {
  return (event): event is Extract<E, { __typename: N }> => (names as string[]).includes(event.__typename);
}

/**
 * A subscription as an async iterator: `for await (const event of stream) { ... }`, or `stream.forEach(fn)`.
 * Events are buffered until read; `close()` unsubscribes and ends the iteration.
 */
export class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void }[] = [];
  private readonly seen = new Set<string>();
  private done = false;
  private failure: unknown;
  private unsubscribe: (() => void) | undefined;

  /**
   * @param start subscribes with a sink and returns the unsubscribe function.
   * @param dedupeKey events with a key already delivered are dropped (at-least-once delivery, reconnects).
   */
  constructor(
    start: (sink: { next(value: T): void; error(error: unknown): void; complete(): void }) => () => void,
    private readonly dedupeKey?: (value: T) => string | undefined,
  ) {
    this.unsubscribe = start({
      next: (value) => this.push(value),
      error: (error) => this.fail(error),
      complete: () => this.end(),
    });
  }

  private push(value: T) {
    if (this.done) return;
    const key = this.dedupeKey?.(value);
    if (key !== undefined) {
      if (this.seen.has(key)) return;
      this.seen.add(key);
      // Bounded memory for long-running agents: duplicates arrive close together.
      if (this.seen.size > 5_000) this.seen.delete(this.seen.values().next().value as string);
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  private fail(error: unknown) {
    if (this.done) return;
    this.failure = error;
    this.done = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }

  private end() {
    if (this.done) return;
    this.done = true;
    for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** Calls `handler` for each event in order (awaiting it); resolves when the stream ends or is closed. */
  async forEach(handler: (value: T) => unknown): Promise<void> {
    for (;;) {
      const { value, done } = await this.next();
      if (done) return;
      await handler(value);
    }
  }

  /**
   * Resolves with the first event matching `predicate`; the events skipped stay buffered, in order. A type
   * predicate narrows the result: `first((e): e is AgentEventOf<'OfferMade'> => e.__typename === 'OfferMade')`,
   * or use `ofType('OfferMade')`.
   */
  first<S extends T>(predicate: (value: T) => value is S, timeoutMs?: number): Promise<S>;
  first(predicate?: (value: T) => boolean, timeoutMs?: number): Promise<T>;
  async first(predicate: (value: T) => boolean = () => true, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const skipped: T[] = [];
    try {
      for (;;) {
        const result = await this.nextBefore(deadline);
        if (!result) throw new Error(`no matching event within ${timeoutMs} ms`);
        if (result.done) throw new Error('the subscription ended before a matching event');
        if (predicate(result.value)) return result.value;
        skipped.push(result.value);
      }
    } finally {
      this.buffer.unshift(...skipped);
    }
  }

  /** Like next(), but gives up (undefined) at `deadline` without losing an event that arrives later. */
  private nextBefore(deadline: number): Promise<IteratorResult<T> | undefined> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (r: IteratorResult<T>) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(
        () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve(undefined);
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiting.push(waiter);
    });
  }

  /** Unsubscribes and drops what was not read yet; a pending `next()` resolves as done. Idempotent. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.buffer.length = 0;
    this.end();
  }
}
