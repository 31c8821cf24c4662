import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/client.ts';
import type { MemberRole } from '../../src/generated/prisma/client.ts';
import { issueKey } from '../../src/services/accounts/api-keys.ts';
import { createWorkspace } from '../../src/services/accounts/workspaces.ts';
import { parseAllowList } from '../../src/services/delivery/ssrf.ts';
import { encodeId } from '../../src/services/kernel/ids.ts';
import type { Viewer } from '../../src/services/kernel/viewer.ts';
import { grantCredits } from '../../src/services/ledger/payments.ts';
import { type RegisterAgentInput, registerAgent } from '../../src/services/marketplace/agents.ts';
import { type PostJobInput, postJob } from '../../src/services/marketplace/jobs.ts';
import { acceptOffer, offerJob } from '../../src/services/marketplace/offers.ts';

const LOOPBACK_FIXTURES = parseAllowList('127.0.0.1');

export const uid = () => randomBytes(4).toString('hex');

export interface WorkspaceFixture {
  workspaceId: string;
  /** Public id (`ws_...`). */
  workspaceGid: string;
  ownerId: string;
  ownerKey: string;
}

/** A workspace with its OWNER, the owner's key and (by default) 10,000 granted credits, through the real services. */
export async function createWorkspaceFixture(
  db: Db,
  overrides: { name?: string; credits?: number } = {},
): Promise<WorkspaceFixture> {
  const id = uid();
  const created = await createWorkspace(
    db,
    { kind: 'platform' },
    { name: overrides.name ?? `Workspace ${id}`, ownerName: `Owner ${id}`, ownerEmail: `owner-${id}@example.com` },
    { allowSignup: true },
  );
  const credits = overrides.credits ?? 10_000;
  if (credits > 0) {
    await grantCredits(
      db,
      { kind: 'platform' },
      { workspaceId: encodeId('Workspace', created.workspace.id), amount: credits },
    );
  }
  return {
    workspaceId: created.workspace.id,
    workspaceGid: encodeId('Workspace', created.workspace.id),
    ownerId: created.owner.id,
    ownerKey: created.apiKey,
  };
}

/** Another member of a workspace with the given role, and their key. */
export async function createMemberFixture(db: Db, workspaceId: string, role: MemberRole = 'MEMBER') {
  const id = uid();
  const member = await db.member.create({
    data: { workspaceId, name: `Member ${id}`, email: `m-${id}@example.com`, role },
  });
  const key = await issueKey(db, { kind: 'MEMBER', memberId: member.id, workspaceId });
  return { memberId: member.id, memberGid: encodeId('Member', member.id), key: key.plain, keyId: key.apiKey.id };
}

export function ownerViewer(ws: WorkspaceFixture): Viewer {
  return { kind: 'member', memberId: ws.ownerId, workspaceId: ws.workspaceId, role: 'OWNER', apiKeyId: null };
}

/** An agent registered by the workspace, ONLINE, with its key. */
export async function createAgentFixture(db: Db, ws: WorkspaceFixture, overrides: Partial<RegisterAgentInput> = {}) {
  const { agent, apiKey } = await registerAgent(
    db,
    ownerViewer(ws),
    {
      name: `Agent ${uid()}`,
      skills: ['web-research', 'summarization'],
      creditRate: 50,
      maxConcurrentJobs: 3,
      ...overrides,
    },
    // Fixtures point webhooks at receivers on 127.0.0.1 (as WEBHOOK_ALLOW_HOSTS=127.0.0.1 would allow).
    { allowLoopbackHttp: true, allowHosts: LOOPBACK_FIXTURES },
  );
  await db.agent.update({ where: { id: agent.id }, data: { status: 'ONLINE' } });
  return { agentId: agent.id, agentGid: encodeId('Agent', agent.id), key: apiKey };
}

export async function postJobFixture(db: Db, ws: WorkspaceFixture, overrides: Partial<PostJobInput> = {}) {
  const job = await postJob(
    db,
    ownerViewer(ws),
    {
      title: `Research competitor pricing ${uid()}`,
      description: 'Find and compare prices.',
      budget: 100,
      requiredSkills: ['web-research'],
      ...overrides,
    },
    { autoApproveHours: 72 },
  );
  return { jobId: job.id, jobGid: encodeId('Job', job.id), job };
}

/**
 * Hires an agent of another workspace the way the API allows since "Dealing between strangers":
 * the poster offers the job (credits held in escrow at once) and the agent accepts. An agent the
 * posting workspace owns can still be assigned directly with assignJob.
 */
export async function hireFixture(
  db: Db,
  ws: WorkspaceFixture,
  agent: { agentId: string },
  jobId: string,
  credits?: number,
): Promise<{ offerId: string; offerGid: string }> {
  const job = await db.job.findUniqueOrThrow({ where: { id: jobId }, select: { budget: true } });
  const offer = await offerJob(db, ownerViewer(ws), {
    jobId: encodeId('Job', jobId),
    agentId: encodeId('Agent', agent.agentId),
    credits: credits ?? job.budget,
  });
  const { workspaceId } = await db.agent.findUniqueOrThrow({ where: { id: agent.agentId } });
  const offerGid = encodeId('Offer', offer.id);
  await acceptOffer(db, { kind: 'agent', agentId: agent.agentId, workspaceId, apiKeyId: null }, offerGid);
  return { offerId: offer.id, offerGid };
}
