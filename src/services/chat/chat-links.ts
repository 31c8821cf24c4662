import { createHash, randomInt } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import type { ChatPlatform } from '../../generated/prisma/enums.ts';
import { ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { isWorkspaceAdmin, type MemberViewer, type Viewer } from '../kernel/viewer.ts';

/**
 * Chat users act as linked workspace members. A member (or an admin, for another member) creates
 * a one-time code through the API; the chat user sends `/agentwork link <code>` within 15 minutes.
 * Codes are stored hashed, like API keys.
 */
const CODE_TTL_MS = 15 * 60 * 1000;
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

const hashCode = (code: string) => createHash('sha256').update(code.trim().toUpperCase()).digest('hex');

export async function createChatLinkCode(
  db: Db,
  viewer: Viewer,
  memberPublicId?: string | null,
): Promise<{ code: string; expiresAt: Date }> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members link chat accounts');
  let memberId = viewer.memberId;
  if (memberPublicId) {
    memberId = decodeId('Member', memberPublicId);
    const member = await db.member.findFirst({
      where: { id: memberId, workspaceId: viewer.workspaceId, removedAt: null },
    });
    if (!member) throw new NotFoundError('Member', memberPublicId);
    if (memberId !== viewer.memberId && !isWorkspaceAdmin(viewer)) {
      throw new ForbiddenError('Only an OWNER or ADMIN creates link codes for other members');
    }
  }
  const raw = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  const code = `AW-${raw.slice(0, 4)}-${raw.slice(4)}`;
  const expiresAt = new Date(Date.now() + CODE_TTL_MS);
  await db.chatLinkCode.create({ data: { codeHash: hashCode(code), memberId, expiresAt } });
  return { code, expiresAt };
}

export interface ChatIdentity {
  platform: ChatPlatform;
  teamId: string;
  userId: string;
}

/** Redeems a code: the chat user now acts as that member (re-linking replaces an earlier link). */
export async function redeemChatLinkCode(db: Db, who: ChatIdentity, code: string) {
  if (!/^AW-[A-Z0-9]{4}-[A-Z0-9]{4}$/i.test(code.trim())) {
    throw ValidationError.single(['code'], 'looks like AW-XXXX-XXXX: create one with the createChatLinkCode mutation');
  }
  return db.$transaction(async (tx) => {
    const used = await tx.chatLinkCode.updateMany({
      where: { codeHash: hashCode(code), usedAt: null, expiresAt: { gt: new Date() } },
      data: { usedAt: new Date() },
    });
    if (used.count === 0)
      throw new InvalidStateError('EXPIRED', 'This link code is unknown, used or expired: create a new one');
    const row = await tx.chatLinkCode.findUniqueOrThrow({
      where: { codeHash: hashCode(code) },
      include: { member: true },
    });
    await tx.chatUserLink.upsert({
      where: { platform_teamId_userId: { platform: who.platform, teamId: who.teamId, userId: who.userId } },
      create: { platform: who.platform, teamId: who.teamId, userId: who.userId, memberId: row.memberId },
      update: { memberId: row.memberId },
    });
    return row.member;
  });
}

/** The member a chat user acts as, with the member's current role; null when not linked. */
export async function viewerForChatUser(db: Db, who: ChatIdentity): Promise<MemberViewer | null> {
  const link = await db.chatUserLink.findUnique({
    where: { platform_teamId_userId: { platform: who.platform, teamId: who.teamId, userId: who.userId } },
    include: { member: true },
  });
  // A removed member's chat links act as nobody, like its revoked keys.
  if (!link || link.member.removedAt) return null;
  return {
    kind: 'member',
    memberId: link.member.id,
    workspaceId: link.member.workspaceId,
    role: link.member.role,
    apiKeyId: null,
  };
}
