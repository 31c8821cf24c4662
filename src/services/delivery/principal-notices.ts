import type { PubSub } from './pubsub.ts';

/**
 * "A principal changed": a key was revoked, a member removed or given another role, an agent
 * suspended. Published after the change committed, to every process (Redis), so each one re-checks
 * the open sockets and subscription streams of those principals at once: the ones that no longer
 * authenticate are closed (4403) and their subscriptions end; the others pick up the new role.
 *
 * A notice only says whom to re-check, never what to conclude: the registry re-reads the keys from
 * the database (src/app/principals.ts), so a stale or duplicated notice is harmless, and a lost one
 * is caught by the per-operation re-check on sockets and the registry's periodic sweep.
 */
export interface PrincipalNotice {
  apiKeyIds?: string[];
  memberIds?: string[];
  agentIds?: string[];
}

/** Tells every process to re-check these principals. Call after the transaction committed; never throws. */
export async function announcePrincipalChange(pubsub: Pick<PubSub, 'notices'>, notice: PrincipalNotice): Promise<void> {
  await pubsub.notices.publish(notice);
}
