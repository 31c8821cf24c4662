import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { ApiKey, PrincipalKind } from '../../generated/prisma/client.ts';
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
  const key = await db.apiKey.findUnique({
    where: { hash },
    select: {
      id: true,
      kind: true,
      revokedAt: true,
      lastUsedAt: true,
      workspaceId: true,
      member: { select: { id: true, role: true, workspaceId: true } },
      agentId: true,
    },
  });
  if (!key) throw new UnauthenticatedError('Unknown API key');
  if (key.revokedAt) throw new UnauthenticatedError('This API key was revoked; create a new one');
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
  if (key.kind === 'MEMBER' && key.member) {
    return {
      kind: 'member',
      memberId: key.member.id,
      workspaceId: key.member.workspaceId,
      role: key.member.role,
      apiKeyId: key.id,
    };
  }
  if (key.kind === 'AGENT' && key.agentId && key.workspaceId) {
    return { kind: 'agent', agentId: key.agentId, workspaceId: key.workspaceId, apiKeyId: key.id };
  }
  throw new UnauthenticatedError('This API key has no principal');
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
      const member = await db.member.findFirst({ where: { id: memberId, workspaceId: viewer.workspaceId } });
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
