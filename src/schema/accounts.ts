import { createApiKey, revokeApiKey } from '../services/accounts/api-keys.ts';
import { removeMember, updateMemberRole } from '../services/accounts/members.ts';
import { addMember, createWorkspace } from '../services/accounts/workspaces.ts';
import { announcePrincipalChange } from '../services/delivery/principal-notices.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../services/kernel/errors.ts';
import { builder } from './builder.ts';
import { COMMON_ERRORS } from './errors.ts';
import { registerNodeLoader } from './node.ts';

export const MemberRoleEnum = builder.enumType('MemberRole', {
  description: 'OWNER and ADMIN administer the workspace (keys, approvals, disputes); MEMBER posts and follows jobs.',
  values: ['OWNER', 'ADMIN', 'MEMBER'] as const,
});

export const Principal = builder.interfaceRef<{ id: string; name: string }>('Principal').implement({
  description: 'Whoever calls the API: a workspace Member or an Agent.',
  resolveType: (p) => ('email' in p ? 'Member' : 'Agent'),
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({ name: t.exposeString('name') }),
});

export const WorkspaceRef = builder.prismaNode('Workspace', {
  id: { field: 'id' },
  description: 'A team: members, projects, jobs, agents it registered and a credits wallet.',
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    members: t.relation('members', {
      description:
        'Current members of the workspace (visible to its own members only; empty for anyone else). Removed members are not listed.',
      query: (_args, ctx) => ({
        where: ctx.viewer.kind === 'member' ? { workspaceId: ctx.viewer.workspaceId, removedAt: null } : { id: '' },
        orderBy: { createdAt: 'asc' },
      }),
    }),
  }),
});

export const MemberRef = builder.prismaNode('Member', {
  id: { field: 'id' },
  description: 'A person in a workspace.',
  interfaces: [Principal],
  fields: (t) => ({
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: MemberRoleEnum }),
    workspace: t.relation('workspace'),
    apiKeys: t.relation('apiKeys', {
      description: 'The member’s keys (prefix only; a key is shown once, when created).',
      query: { orderBy: { createdAt: 'desc' } },
      authScopes: (member, _args, ctx) => ctx.viewer.kind === 'member' && ctx.viewer.memberId === member.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  description: 'An API key. Only its sha256 hash is stored; the key itself is shown once.',
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'First characters of the key, to recognise it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Updated at most once a minute.',
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Principal,
    nullable: true,
    description: 'The calling principal (Member or Agent), or null without a key.',
    resolve: async (_root, _args, ctx) => {
      const viewer = ctx.viewer;
      if (viewer.kind === 'member') return ctx.db.member.findUnique({ where: { id: viewer.memberId } });
      if (viewer.kind === 'agent') return ctx.db.agent.findUnique({ where: { id: viewer.agentId } });
      return null;
    },
  }),
);

const CreateWorkspaceInput = builder.inputType('CreateWorkspaceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    ownerName: t.string({ required: true }),
    ownerEmail: t.string({ required: true }),
  }),
});

const CreateWorkspacePayload = builder
  .objectRef<{ apiKey: string; workspaceId: string; ownerId: string }>('CreateWorkspacePayload')
  .implement({
    fields: (t) => ({
      apiKey: t.exposeString('apiKey', { description: 'The owner’s API key. Shown once: store it now.' }),
      workspace: t.prismaField({
        type: 'Workspace',
        resolve: (query, p, _args, ctx) =>
          ctx.db.workspace.findUniqueOrThrow({ ...query, where: { id: p.workspaceId } }),
      }),
      owner: t.prismaField({
        type: 'Member',
        resolve: (query, p, _args, ctx) => ctx.db.member.findUniqueOrThrow({ ...query, where: { id: p.ownerId } }),
      }),
    }),
  });

builder.mutationField('createWorkspace', (t) =>
  t.field({
    type: CreateWorkspacePayload,
    description:
      'Creates a workspace with you as OWNER and returns your first API key (shown once). Needs no key unless signup is closed (ALLOW_SIGNUP=false).',
    args: { input: t.arg({ type: CreateWorkspaceInput, required: true }) },
    errors: { types: [ValidationError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const created = await createWorkspace(ctx.db, ctx.viewer, input, { allowSignup: ctx.config.ALLOW_SIGNUP });
      return { apiKey: created.apiKey, workspaceId: created.workspace.id, ownerId: created.owner.id };
    },
  }),
);

const AddMemberInput = builder.inputType('AddMemberInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    email: t.string({ required: true }),
    role: t.field({ type: MemberRoleEnum, defaultValue: 'MEMBER' }),
  }),
});

const AddMemberPayload = builder.objectRef<{ apiKey: string; memberId: string }>('AddMemberPayload').implement({
  fields: (t) => ({
    apiKey: t.exposeString('apiKey', { description: 'The new member’s first API key. Shown once.' }),
    member: t.prismaField({
      type: 'Member',
      resolve: (query, p, _args, ctx) => ctx.db.member.findUniqueOrThrow({ ...query, where: { id: p.memberId } }),
    }),
  }),
});

builder.mutationField('addMember', (t) =>
  t.field({
    type: AddMemberPayload,
    description: 'OWNER/ADMIN: adds a member to your workspace and returns their first API key (shown once).',
    authScopes: { member: true },
    args: { input: t.arg({ type: AddMemberInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const { member, apiKey } = await addMember(ctx.db, ctx.viewer, { ...input, role: input.role ?? 'MEMBER' });
      return { apiKey, memberId: member.id };
    },
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ description: 'A label to recognise the key.' }),
    memberId: t.id({ description: 'OWNER/ADMIN: issue the key for another member.' }),
  }),
});

const CreateApiKeyPayload = builder.objectRef<{ secret: string; keyId: string }>('CreateApiKeyPayload').implement({
  fields: (t) => ({
    secret: t.exposeString('secret', { description: 'The new key. Shown once: store it now.' }),
    apiKey: t.prismaField({
      type: 'ApiKey',
      resolve: (query, p, _args, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: p.keyId } }),
    }),
  }),
});

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    description: 'Creates an API key for you (or, for OWNER/ADMIN, for another member). The key is shown once.',
    authScopes: { member: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: false }) },
    errors: { types: COMMON_ERRORS },
    resolve: async (_root, { input }, ctx) => {
      const key = await createApiKey(ctx.db, ctx.viewer, {
        name: input?.name ?? undefined,
        memberId: input?.memberId ? String(input.memberId) : undefined,
      });
      return { secret: key.plain, keyId: key.apiKey.id };
    },
  }),
);

const RevokeApiKeyPayload = builder.objectRef<{ keyId: string }>('RevokeApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.prismaField({
      type: 'ApiKey',
      resolve: (query, p, _args, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: p.keyId } }),
    }),
  }),
});

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyPayload,
    description:
      'Revokes a key at once, on every transport: sockets opened with it close (4403) and their subscriptions end. Your own keys, or (OWNER/ADMIN) any key of your workspace. Idempotent.',
    authScopes: { member: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundError, ForbiddenError] },
    resolve: async (_root, { id }, ctx) => {
      const key = await revokeApiKey(ctx.db, ctx.viewer, String(id));
      await announcePrincipalChange(ctx.pubsub, { apiKeyIds: [key.id] });
      return { keyId: key.id };
    },
  }),
);

const memberPayload = (name: string) =>
  builder.objectRef<{ memberId: string }>(name).implement({
    fields: (t) => ({
      member: t.prismaField({
        type: 'Member',
        resolve: (query, p, _args, ctx) => ctx.db.member.findUniqueOrThrow({ ...query, where: { id: p.memberId } }),
      }),
    }),
  });
const RemoveMemberPayload = memberPayload('RemoveMemberPayload');
const UpdateMemberRolePayload = memberPayload('UpdateMemberRolePayload');

builder.mutationField('removeMember', (t) =>
  t.field({
    type: RemoveMemberPayload,
    description:
      'OWNER/ADMIN: removes a member from your workspace. Effective at once on every transport: its keys are revoked, its open sockets close (4403) and its subscriptions end; its past work keeps its author. Only an OWNER removes an OWNER; the last OWNER cannot be removed (ConflictError).',
    authScopes: { member: true },
    args: { memberId: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, ConflictError] },
    resolve: async (_root, { memberId }, ctx) => {
      const member = await removeMember(ctx.db, ctx.viewer, String(memberId));
      await announcePrincipalChange(ctx.pubsub, { memberIds: [member.id] });
      return { memberId: member.id };
    },
  }),
);

builder.mutationField('updateMemberRole', (t) =>
  t.field({
    type: UpdateMemberRolePayload,
    description:
      'OWNER/ADMIN: changes a member’s role, effective from the member’s next operation on every transport (open sockets included). Only an OWNER gives or takes OWNER; the last OWNER cannot be demoted (ConflictError).',
    authScopes: { member: true },
    args: { memberId: t.arg.id({ required: true }), role: t.arg({ type: MemberRoleEnum, required: true }) },
    errors: { types: [...COMMON_ERRORS, ConflictError] },
    resolve: async (_root, { memberId, role }, ctx) => {
      const member = await updateMemberRole(ctx.db, ctx.viewer, String(memberId), role);
      await announcePrincipalChange(ctx.pubsub, { memberIds: [member.id] });
      return { memberId: member.id };
    },
  }),
);

registerNodeLoader('Workspace', async (ctx, id) =>
  ctx.viewer.kind === 'platform' || ('workspaceId' in ctx.viewer && ctx.viewer.workspaceId === id)
    ? ctx.db.workspace.findUnique({ where: { id } })
    : null,
);
registerNodeLoader('Member', async (ctx, id) =>
  'workspaceId' in ctx.viewer ? ctx.db.member.findFirst({ where: { id, workspaceId: ctx.viewer.workspaceId } }) : null,
);
registerNodeLoader('ApiKey', async (ctx, id) =>
  ctx.viewer.kind === 'member' ? ctx.db.apiKey.findFirst({ where: { id, workspaceId: ctx.viewer.workspaceId } }) : null,
);
