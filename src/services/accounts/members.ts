import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Member, MemberRole } from '../../generated/prisma/client.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type MemberViewer, type Viewer } from '../kernel/viewer.ts';

/**
 * Removing members and changing their roles. Rules: only an OWNER or ADMIN acts; only an OWNER
 * removes, demotes or promotes an OWNER; a workspace always keeps at least one OWNER (checked under
 * a lock on its OWNER rows, so two OWNERs demoting each other at once cannot leave none).
 *
 * A removed member keeps its row (its reviews and disputes keep their author) but stops
 * authenticating at once: its keys are revoked in the same transaction. Open sockets and streams
 * are told by the caller (delivery's principal notices), which this room cannot reach.
 */

const roleSchema = z.enum(['OWNER', 'ADMIN', 'MEMBER']);

async function loadTarget(
  tx: Tx,
  viewer: Viewer,
  memberPublicId: string,
): Promise<{ admin: MemberViewer; member: Member }> {
  if (viewer.kind !== 'member' || !isWorkspaceAdmin(viewer)) {
    throw new ForbiddenError('Only an OWNER or ADMIN manages members');
  }
  const id = decodeId('Member', memberPublicId);
  const member = await tx.member.findFirst({ where: { id, workspaceId: viewer.workspaceId, removedAt: null } });
  if (!member) throw new NotFoundError('Member', memberPublicId);
  return { admin: viewer, member };
}

/** Locks the workspace's OWNER rows and throws unless another OWNER than `memberId` remains. */
async function assertAnotherOwner(tx: Tx, workspaceId: string, memberId: string): Promise<void> {
  const owners = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "Member"
    WHERE "workspaceId" = ${workspaceId} AND role = 'OWNER' AND "removedAt" IS NULL
    FOR UPDATE`;
  if (!owners.some((o) => o.id !== memberId)) {
    throw new ConflictError('A workspace keeps at least one OWNER: make another member OWNER first');
  }
}

/** OWNER/ADMIN remove a member of their workspace; its keys are revoked in the same transaction. */
export async function removeMember(db: Db, viewer: Viewer, memberPublicId: string): Promise<Member> {
  return db.$transaction(async (tx) => {
    const { admin, member } = await loadTarget(tx, viewer, memberPublicId);
    if (member.role === 'OWNER') {
      if (admin.role !== 'OWNER') throw new ForbiddenError('Only an OWNER removes an OWNER');
      await assertAnotherOwner(tx, member.workspaceId, member.id);
    }
    const now = new Date();
    await tx.apiKey.updateMany({ where: { memberId: member.id, revokedAt: null }, data: { revokedAt: now } });
    return tx.member.update({ where: { id: member.id }, data: { removedAt: now } });
  });
}

/** OWNER/ADMIN change a member's role; OWNER is given and taken by an OWNER only; the last OWNER stays. */
export async function updateMemberRole(
  db: Db,
  viewer: Viewer,
  memberPublicId: string,
  role: z.input<typeof roleSchema>,
): Promise<Member> {
  const next = parse(roleSchema, role, ['role']) as MemberRole;
  return db.$transaction(async (tx) => {
    const { admin, member } = await loadTarget(tx, viewer, memberPublicId);
    if ((member.role === 'OWNER' || next === 'OWNER') && admin.role !== 'OWNER') {
      throw new ForbiddenError('Only an OWNER gives or takes the OWNER role');
    }
    if (member.role === next) return member;
    if (member.role === 'OWNER') await assertAnotherOwner(tx, member.workspaceId, member.id);
    return tx.member.update({ where: { id: member.id }, data: { role: next } });
  });
}
