import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import type { Project } from '../../generated/prisma/client.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../kernel/errors.ts';
import { decodeId } from '../kernel/ids.ts';
import { fields, parse } from '../kernel/validation.ts';
import type { Viewer } from '../kernel/viewer.ts';

export const createProjectInput = z.object({ name: fields.name, description: fields.text(5_000).default('') });

/** Any member of a workspace creates projects in it; names are unique per workspace. */
export async function createProject(
  db: Db,
  viewer: Viewer,
  input: z.input<typeof createProjectInput>,
): Promise<Project> {
  if (viewer.kind !== 'member') throw new ForbiddenError('Only workspace members create projects');
  const data = parse(createProjectInput, input);
  const exists = await db.project.findUnique({
    where: { workspaceId_name: { workspaceId: viewer.workspaceId, name: data.name } },
  });
  if (exists) throw new ConflictError(`A project named "${data.name}" already exists`);
  return db.project.create({ data: { ...data, workspaceId: viewer.workspaceId } });
}

/** The project a job goes into: the one named (which must be the viewer's), else the workspace's "General" project. */
export async function resolveProject(tx: Tx, workspaceId: string, projectPublicId?: string | null): Promise<Project> {
  if (projectPublicId) {
    const project = await tx.project.findFirst({ where: { id: decodeId('Project', projectPublicId), workspaceId } });
    if (!project) throw new NotFoundError('Project', projectPublicId);
    return project;
  }
  return tx.project.upsert({
    where: { workspaceId_name: { workspaceId, name: 'General' } },
    create: { workspaceId, name: 'General', description: 'Jobs posted without a project' },
    update: {},
  });
}
