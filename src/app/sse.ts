import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { lastDeliveredSeq } from '../schema/events.ts';

// biome-ignore lint/suspicious/noExplicitAny: yoga's result type, of which only these two fields matter here.
type Result = { extensions?: any; stringify?: (result: any) => string };

/**
 * Event positions on the wire, so clients can resume (`after`, `Last-Event-ID`):
 *
 * - every subscription result carries the position of its event in `extensions.seq` (graphql-ws
 *   and SSE), whatever the client selected;
 * - over SSE each event also gets an `id: <seq>` line, so a browser's EventSource sends it back as
 *   `Last-Event-ID` when it reconnects. yoga's SSE writer has no id support; it writes
 *   `data: <stringify(result)>`, and a result's own `stringify` may end the data line and add the
 *   id field of the same event.
 */
export function useEventPositions(): Plugin {
  return {
    onSubscribe({ args }) {
      return {
        onSubscribeResult() {
          return {
            onNext({ result, setResult }) {
              const seq = lastDeliveredSeq(args.contextValue as object);
              if (seq) setResult({ ...result, extensions: { ...result.extensions, seq } });
            },
          };
        },
      };
    },
    onResultProcess({ result, setResult }) {
      // Only HTTP subscriptions stream (SSE); graphql-ws never reaches this hook.
      if (!isAsyncIterable(result)) return;
      const source = result[Symbol.asyncIterator]();
      const withId = (r: IteratorResult<Result>): IteratorResult<Result> => {
        const seq = r.value?.extensions?.seq;
        if (r.done || typeof seq !== 'string' || !/^\d+$/.test(seq)) return r;
        return { done: false, value: { ...r.value, stringify: (v) => `${JSON.stringify(v)}\nid: ${seq}` } };
      };
      // An iterator object, not a generator: `return()` must reach the subscription at once even
      // while a `next()` is pending (a generator would queue it behind the next event).
      const iterator: AsyncIterableIterator<Result> = {
        [Symbol.asyncIterator]: () => iterator,
        next: () => source.next().then(withId),
        return: (value?: unknown) =>
          source.return ? source.return(value).then(withId) : Promise.resolve({ done: true, value: undefined }),
        throw: (error?: unknown) => (source.throw ? source.throw(error).then(withId) : Promise.reject(error)),
      };
      setResult(iterator as never);
    },
  };
}
