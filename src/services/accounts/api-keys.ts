import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { ApiKey, MemberRole, PrincipalKind } from '../../generated/prisma/client.ts';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import { ANONYMOUS, isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';

const KEY_PREFIX = 'aw_live_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** lastUsedAt is written at most this often per key, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function hashKey(plain: string): string {
  return createHash('sha256').update(plain).digest('hex');
}

/** `aw_live_` + 32 base62 characters (~190 bits). */
export function generateKey(): { plain: string; hash: string; prefix: string } {
  const bytes = randomBytes(32);
  let body = '';
  for (const byte of bytes) body += BASE62[byte % 62];
  const plain = KEY_PREFIX + body;
  return { plain, hash: hashKey(plain), prefix: plain.slice(0, KEY_PREFIX.length + 4) };
}

export interface NewKey {
  apiKey: ApiKey;
  /** The plain key: returned once, never stored. */
  plain: string;
}

type KeyOwner =
  | { kind: 'MEMBER'; memberId: string; workspaceId: string }
  | { kind: 'AGENT'; agentId: string; workspaceId: string };

/** Stores a new key's hash for a member or an agent. Inside the caller's transaction when given one. */
export async function issueKey(db: Pick<Db, 'apiKey'>, owner: KeyOwner, name = 'default'): Promise<NewKey> {
  const { plain, hash, prefix } = generateKey();
  const apiKey = await db.apiKey.create({
    data: {
      kind: owner.kind as PrincipalKind,
      hash,
      prefix,
      name,
      workspaceId: owner.workspaceId,
      memberId: owner.kind === 'MEMBER' ? owner.memberId : null,
      agentId: owner.kind === 'AGENT' ? owner.agentId : null,
    },
  });
  return { apiKey, plain };
}

/**
 * Resolves `Authorization: Bearer <key>` to a Viewer. No header: anonymous. A malformed,
 * unknown or revoked key is an UnauthenticatedError (the client must fix its key, not retry).
 */
export async function authenticate(
  db: Db,
  authorization: string | null | undefined,
  options: { platformAdminKey?: string } = {},
): Promise<Viewer> {
  if (!authorization) return ANONYMOUS;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('Malformed Authorization header: expected `Bearer <apiKey>`');
  const plain = match[1]!;
  const hash = hashKey(plain);
  if (options.platformAdminKey && safeEqual(hash, hashKey(options.platformAdminKey))) return { kind: 'platform' };
  if (!plain.startsWith(KEY_PREFIX)) throw new UnauthenticatedError('Unknown API key: keys look like aw_live_...');
  const key = await db.apiKey.findUnique({ where: { hash }, select: KEY_PRINCIPAL });
  if (!key) throw new UnauthenticatedError('Unknown API key');
  const viewer = principalOf(key);
  const now = Date.now();
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Conditional write: concurrent requests of one key do not all write.
    await db.apiKey.updateMany({
      where: {
        id: key.id,
        OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - LAST_USED_RESOLUTION_MS) } }],
      },
      data: { lastUsedAt: new Date(now) },
    });
  }
  return viewer;
}

/** What `authenticate` reads of a key: one statement (Prisma joins the member and agent). */
const KEY_PRINCIPAL = {
  id: true,
  kind: true,
  revokedAt: true,
  lastUsedAt: true,
  workspaceId: true,
  member: { select: { id: true, role: true, workspaceId: true, removedAt: true } },
  agentId: true,
  agent: { select: { suspendedAt: true } },
} as const;

type KeyPrincipal = {
  id: string;
  kind: PrincipalKind;
  revokedAt: Date | null;
  workspaceId: string | null;
  member: { id: string; role: MemberRole; workspaceId: string; removedAt: Date | null } | null;
  agentId: string | null;
  agent: { suspendedAt: Date | null } | null;
};

/** The principal behind a stored key, or an UnauthenticatedError saying why there is none (any more). */
function principalOf(key: KeyPrincipal): Viewer {
  if (key.revokedAt) throw new UnauthenticatedError('This API key was revoked; create a new one');
  if (key.kind === 'MEMBER' && key.member) {
    if (key.member.removedAt) throw new UnauthenticatedError('This member was removed from the workspace');
    return {
      kind: 'member',
      memberId: key.member.id,
      workspaceId: key.member.workspaceId,
      role: key.member.role,
      apiKeyId: key.id,
    };
  }
  if (key.kind === 'AGENT' && key.agentId && key.workspaceId) {
    if (key.agent?.suspendedAt) throw new UnauthenticatedError('This agent is suspended');
    return { kind: 'agent', agentId: key.agentId, workspaceId: key.workspaceId, apiKeyId: key.id };
  }
  throw new UnauthenticatedError('This API key has no principal');
}

/**
 * Re-checks many keys at once (open sockets and streams re-verify their principals with it): one
 * statement for any number of keys. The map holds the current principal of every key that still
 * authenticates (with its current role); revoked keys, removed members and suspended agents are absent.
 */
export async function currentPrincipals(db: Db, apiKeyIds: string[]): Promise<Map<string, Viewer>> {
  const out = new Map<string, Viewer>();
  if (apiKeyIds.length === 0) return out;
  const keys = await db.apiKey.findMany({ where: { id: { in: apiKeyIds } }, select: KEY_PRINCIPAL });
  for (const key of keys) {
    try {
      out.set(key.id, principalOf(key));
    } catch {
      // No longer authenticates: left out.
    }
  }
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const createKeyInput = z.object({
  name: fields.name.default('default'),
  /** Issue the key for another member of the workspace (admins only). */
  memberId: z.string().optional(),
});

/** A member creates a key for themselves; an OWNER/ADMIN may create one for another member. */
export async function createApiKey(db: Db, viewer: Viewer, input: z.input<typeof createKeyInput>): Promise<NewKey> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members create API keys');
  const data = parse(createKeyInput, input);
  let memberId = viewer.memberId;
  if (data.memberId) {
    memberId = decodeId('Member', data.memberId);
    if (memberId !== viewer.memberId) {
      const member = await db.member.findFirst({
        where: { id: memberId, workspaceId: viewer.workspaceId, removedAt: null },
      });
      if (!member) throw new NotFoundError('Member', data.memberId);
      if (!isWorkspaceAdmin(viewer)) throw new ForbiddenError('Only an OWNER or ADMIN creates keys for other members');
    }
  }
  return issueKey(db, { kind: 'MEMBER', memberId, workspaceId: viewer.workspaceId }, data.name);
}

/**
 * Revokes a key. Members revoke their own keys; OWNER/ADMIN revoke any key of their workspace,
 * agents' included. Keys of other workspaces are not found. Revoking twice is a no-op.
 */
export async function revokeApiKey(db: Db, viewer: Viewer, keyId: string): Promise<ApiKey> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members revoke API keys');
  const id = decodeId('ApiKey', keyId);
  const key = await db.apiKey.findFirst({ where: { id, workspaceId: viewer.workspaceId } });
  if (!key) throw new NotFoundError('ApiKey', keyId);
  if (key.memberId !== viewer.memberId && !isWorkspaceAdmin(viewer)) {
    throw new ForbiddenError('Only an OWNER or ADMIN revokes keys of other principals');
  }
  if (key.revokedAt) return key;
  return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
}
