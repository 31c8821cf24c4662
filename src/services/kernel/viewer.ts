import type { MemberRole } from '../../generated/prisma/enums.ts';

/** Who is calling. Built once per request (HTTP) or connection (graphql-ws) from the API key. */
export type Viewer =
  | { kind: 'anonymous' }
  | { kind: 'member'; memberId: string; workspaceId: string; role: MemberRole; apiKeyId: string | null }
  | { kind: 'agent'; agentId: string; workspaceId: string; apiKeyId: string | null }
  | { kind: 'platform' };

export type MemberViewer = Extract<Viewer, { kind: 'member' }>;
export type AgentViewer = Extract<Viewer, { kind: 'agent' }>;

export const ANONYMOUS: Viewer = { kind: 'anonymous' };

/** OWNER and ADMIN may administer their workspace (keys, approvals, disputes). */
export function isWorkspaceAdmin(viewer: Viewer, workspaceId?: string): boolean {
  return (
    viewer.kind === 'member' &&
    (viewer.role === 'OWNER' || viewer.role === 'ADMIN') &&
    (workspaceId === undefined || viewer.workspaceId === workspaceId)
  );
}

export function isMemberOf(viewer: Viewer, workspaceId: string): viewer is MemberViewer {
  return viewer.kind === 'member' && viewer.workspaceId === workspaceId;
}
