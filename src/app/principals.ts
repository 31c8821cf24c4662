import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { currentPrincipals } from '../services/accounts/api-keys.ts';
import type { PrincipalNotice } from '../services/delivery/principal-notices.ts';
import type { PubSub } from '../services/delivery/pubsub.ts';
import type { Viewer } from '../services/kernel/viewer.ts';

/**
 * Who is connected as whom, in this process: every open graphql-ws socket and every SSE
 * subscription stream opened with an API key. "Effective at once" for revocations, removed members,
 * role changes and suspensions on long-lived connections rests on three things:
 *
 * 1. A notice (src/services/delivery/principal-notices.ts) published after the change commits,
 *    heard by every process through Redis: the matching sessions are re-checked against the
 *    database in one statement; those that no longer authenticate are ended (socket closed 4403,
 *    subscriptions completed), the others take the new role.
 * 2. The socket re-authenticates at every operation (src/app/websocket.ts): one statement, the
 *    same as an HTTP request, so even a lost notice never lets an operation through.
 * 3. A sweep every SWEEP_MS re-checks every tracked key in one statement, for notices lost while
 *    Redis was away and for streams that run no operations.
 */

export interface Session {
  /** The key the session authenticated with. */
  apiKeyId: string;
  viewer: Viewer;
  /** Whether this is a WebSocket (counts towards WS_MAX_SOCKETS_PER_KEY). */
  socket: boolean;
  /** The principal no longer authenticates: end the session. */
  end(reason: string): void;
  /** The principal still authenticates, maybe with another role now. */
  update(viewer: Viewer): void;
}

export interface PrincipalRegistry {
  /** Tracks a session until the returned function is called. */
  track(session: Session): () => void;
  /** Open WebSockets of this key in this process. */
  socketsOf(apiKeyId: string): number;
  /** Re-checks the sessions a notice names (exposed for the sweep and tests). */
  recheck(notice: PrincipalNotice | 'all'): Promise<void>;
  start(): void;
  stop(): void;
}

const SWEEP_MS = 30_000;
/** Keys per re-check statement. */
const CHUNK = 1_000;

export function createPrincipalRegistry(deps: { db: Db; pubsub: PubSub; log: Logger }): PrincipalRegistry {
  const byKey = new Map<string, Set<Session>>();
  let unlisten: (() => void) | null = null;
  let sweep: NodeJS.Timeout | null = null;
  // Notices arriving together are re-checked together: one statement for a burst.
  let pending: PrincipalNotice[] = [];
  let flushing: Promise<void> | null = null;

  function matches(session: Session, notice: PrincipalNotice): boolean {
    const v = session.viewer;
    return Boolean(
      notice.apiKeyIds?.includes(session.apiKeyId) ||
        (v.kind === 'member' && notice.memberIds?.includes(v.memberId)) ||
        (v.kind === 'agent' && notice.agentIds?.includes(v.agentId)),
    );
  }

  async function recheck(notice: PrincipalNotice | 'all'): Promise<void> {
    const keyIds = [...byKey.entries()]
      .filter(([, sessions]) => notice === 'all' || [...sessions].some((s) => matches(s, notice)))
      .map(([keyId]) => keyId);
    for (let i = 0; i < keyIds.length; i += CHUNK) {
      const chunk = keyIds.slice(i, i + CHUNK);
      const current = await currentPrincipals(deps.db, chunk);
      for (const keyId of chunk) {
        const viewer = current.get(keyId);
        for (const session of [...(byKey.get(keyId) ?? [])]) {
          if (viewer) session.update(viewer);
          else session.end('This API key no longer authenticates (revoked, member removed or agent suspended)');
        }
      }
    }
  }

  function onNotice(notice: PrincipalNotice) {
    pending.push(notice);
    if (flushing) return;
    flushing = (async () => {
      // Let the rest of a burst arrive before reading.
      await new Promise((r) => setImmediate(r));
      while (pending.length) {
        const batch = pending;
        pending = [];
        const merged: Required<PrincipalNotice> = { apiKeyIds: [], memberIds: [], agentIds: [] };
        for (const n of batch) {
          merged.apiKeyIds.push(...(n.apiKeyIds ?? []));
          merged.memberIds.push(...(n.memberIds ?? []));
          merged.agentIds.push(...(n.agentIds ?? []));
        }
        try {
          await recheck(merged);
        } catch (error) {
          // The per-operation re-check and the sweep still hold the line.
          deps.log.warn({ err: error }, 'principal re-check failed');
        }
      }
    })().finally(() => {
      flushing = null;
    });
  }

  return {
    track(session) {
      const sessions = byKey.get(session.apiKeyId) ?? new Set<Session>();
      byKey.set(session.apiKeyId, sessions);
      sessions.add(session);
      return () => {
        sessions.delete(session);
        if (sessions.size === 0 && byKey.get(session.apiKeyId) === sessions) byKey.delete(session.apiKeyId);
      };
    },
    socketsOf(apiKeyId) {
      let n = 0;
      for (const s of byKey.get(apiKeyId) ?? []) if (s.socket) n++;
      return n;
    },
    recheck,
    start() {
      unlisten ??= deps.pubsub.notices.listen(onNotice);
      sweep ??= setInterval(() => {
        if (byKey.size === 0) return;
        recheck('all').catch((error) => deps.log.warn({ err: error }, 'principal sweep failed'));
      }, SWEEP_MS);
      sweep.unref();
    },
    stop() {
      unlisten?.();
      unlisten = null;
      if (sweep) clearInterval(sweep);
      sweep = null;
    },
  };
}

/**
 * The pubsub a request's context sees: every subscription iterator it hands out ends (and
 * releases its pubsub subscription) as soon as `signal` aborts (the socket closed, the SSE client
 * left) or, with `track`, when the registry ends the session. Without this, a subscription
 * generator waiting on a quiet topic would never notice that its socket was closed.
 */
export function scopedPubSub(
  pubsub: PubSub,
  options: { signal?: AbortSignal; track?: (end: () => void) => () => void },
): PubSub {
  const scoped = Object.create(pubsub) as PubSub;
  scoped.subscribe = ((...args: Parameters<PubSub['subscribe']>) => {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const { signal } = options;
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    const untrack = options.track?.(abort);
    const inner = (pubsub.subscribe as unknown as (...a: unknown[]) => AsyncIterableIterator<unknown>)(...args);
    return endWhenAborted(inner, controller.signal, () => {
      untrack?.();
      signal?.removeEventListener('abort', abort);
    });
  }) as PubSub['subscribe'];
  return scoped;
}

function endWhenAborted<T>(
  inner: AsyncIterableIterator<T>,
  signal: AbortSignal,
  cleanup: () => void,
): AsyncIterableIterator<T> {
  let finished = false;
  const DONE: IteratorResult<T> = { done: true, value: undefined };
  let onAbort: () => void = () => {};
  const aborted = new Promise<IteratorResult<T>>((resolve) => {
    onAbort = () => resolve(DONE);
  });
  const finish = async (): Promise<IteratorResult<T>> => {
    if (finished) return DONE;
    finished = true;
    signal.removeEventListener('abort', onAbort);
    cleanup();
    await inner.return?.();
    return DONE;
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  void aborted.then(finish);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return DONE;
      const result = await Promise.race([inner.next(), aborted]);
      if (result.done) return finish();
      return result;
    },
    return: finish,
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
  };
}
