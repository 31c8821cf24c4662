import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import type { Member, MemberRole, Workspace } from '../../generated/prisma/client.ts';
import { ConflictError, ForbiddenError } from '../kernel/errors.ts';
import { fields, parse } from '../kernel/validation.ts';
import { isWorkspaceAdmin, type Viewer } from '../kernel/viewer.ts';
import { issueKey } from './api-keys.ts';

export const createWorkspaceInput = z.object({
  name: fields.name,
  ownerName: fields.name,
  ownerEmail: fields.email,
});

export interface CreatedWorkspace {
  workspace: Workspace;
  owner: Member;
  /** The owner's first API key, shown once. */
  apiKey: string;
}

/**
 * Creates a workspace, its OWNER and the owner's first key, and the workspace wallet, in one
 * transaction. Open to anyone unless signup is switched off (ALLOW_SIGNUP=false); then only the
 * platform admin may call it.
 */
export async function createWorkspace(
  db: Db,
  viewer: Viewer,
  input: z.input<typeof createWorkspaceInput>,
  options: { allowSignup: boolean },
): Promise<CreatedWorkspace> {
  if (!options.allowSignup && viewer.kind !== 'platform') {
    throw new ForbiddenError('Signup is closed on this deployment: ask the operator for a workspace');
  }
  const data = parse(createWorkspaceInput, input);
  return db.$transaction(async (tx) => {
    const workspace = await tx.workspace.create({ data: { name: data.name } });
    const owner = await tx.member.create({
      data: { workspaceId: workspace.id, name: data.ownerName, email: data.ownerEmail, role: 'OWNER' },
    });
    await tx.ledgerAccount.create({
      data: { kind: 'WORKSPACE', key: `workspace:${workspace.id}`, workspaceId: workspace.id },
    });
    const key = await issueKey(tx, { kind: 'MEMBER', memberId: owner.id, workspaceId: workspace.id }, 'owner');
    return { workspace, owner, apiKey: key.plain };
  });
}

export const addMemberInput = z.object({
  name: fields.name,
  email: fields.email,
  role: z.enum(['OWNER', 'ADMIN', 'MEMBER']).default('MEMBER'),
});

/** OWNER/ADMIN add a member (only an OWNER adds another OWNER); returns the member and their first key. */
export async function addMember(
  db: Db,
  viewer: Viewer,
  input: z.input<typeof addMemberInput>,
): Promise<{ member: Member; apiKey: string }> {
  if (viewer.kind !== 'member' || !isWorkspaceAdmin(viewer)) {
    throw new ForbiddenError('Only an OWNER or ADMIN adds members');
  }
  const data = parse(addMemberInput, input);
  if (data.role === 'OWNER' && viewer.role !== 'OWNER') throw new ForbiddenError('Only an OWNER adds another OWNER');
  const workspaceId = viewer.workspaceId;
  return db.$transaction(async (tx) => {
    const exists = await tx.member.findUnique({ where: { workspaceId_email: { workspaceId, email: data.email } } });
    if (exists && !exists.removedAt) {
      throw new ConflictError(`A member with email ${data.email} already exists in this workspace`);
    }
    // A removed member added again comes back (same id, so its history stays its own) with new keys only.
    const member = exists
      ? await tx.member.update({
          where: { id: exists.id },
          data: { name: data.name, role: data.role as MemberRole, removedAt: null },
        })
      : await tx.member.create({
          data: { workspaceId, name: data.name, email: data.email, role: data.role as MemberRole },
        });
    const key = await issueKey(tx, { kind: 'MEMBER', memberId: member.id, workspaceId }, 'default');
    return { member, apiKey: key.plain };
  });
}
