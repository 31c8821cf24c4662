import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../src/services/accounts/api-keys.ts';
import { createTestApp, type TestApp } from './support/app.ts';
import { createMemberFixture, createWorkspaceFixture, uid } from './support/factories.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const CREATE_WORKSPACE = /* GraphQL */ `
  mutation ($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) {
      __typename
      ... on CreateWorkspacePayload { apiKey workspace { id name } owner { id role email } }
      ... on ValidationError { issues { path message } }
      ... on ForbiddenError { message }
    }
  }
`;
const VIEWER = '{ viewer { __typename id name ... on Member { role workspace { id } } } }';

describe('createWorkspace', () => {
  it('creates a workspace whose key works for viewer, and stores only the key hash', async () => {
    const res = await t.gql(CREATE_WORKSPACE, {
      input: { name: 'Acme', ownerName: 'Ann', ownerEmail: `Ann-${uid()}@Example.com` },
    });
    const payload = res.data.createWorkspace;
    expect(payload.__typename).toBe('CreateWorkspacePayload');
    expect(payload.apiKey).toMatch(/^aw_live_[0-9A-Za-z]{32}$/);
    expect(payload.workspace.id).toMatch(/^ws_/);
    expect(payload.owner.role).toBe('OWNER');
    expect(payload.owner.email).toMatch(/^ann-.*@example\.com$/);

    const stored = await t.app.db.prisma.apiKey.findMany({ where: { memberId: payload.owner.id.slice(4) } });
    expect(stored).toHaveLength(1);
    expect(stored[0]!.hash).toBe(hashKey(payload.apiKey));
    expect(JSON.stringify(stored)).not.toContain(payload.apiKey);

    const viewer = await t.gql(VIEWER, {}, payload.apiKey);
    expect(viewer.data.viewer).toMatchObject({
      __typename: 'Member',
      role: 'OWNER',
      workspace: { id: payload.workspace.id },
    });
  });

  it('rejects bad input with every issue and its path, and creates nothing', async () => {
    const before = await t.app.db.prisma.workspace.count();
    const res = await t.gql(CREATE_WORKSPACE, {
      input: { name: '  ', ownerName: 'x'.repeat(201), ownerEmail: 'nope' },
    });
    expect(res.data.createWorkspace.__typename).toBe('ValidationError');
    const paths = res.data.createWorkspace.issues.map((i: { path: string[] }) => i.path.join('.'));
    expect(paths.sort()).toEqual(['input.name', 'input.ownerEmail', 'input.ownerName']);
    expect(await t.app.db.prisma.workspace.count()).toBe(before);
  });

  it('is closed to anonymous callers when ALLOW_SIGNUP=false', async () => {
    const closed = await createTestApp({ database: t.db, config: { ALLOW_SIGNUP: false } });
    const res = await closed.gql(CREATE_WORKSPACE, {
      input: { name: 'X', ownerName: 'Y', ownerEmail: 'y@example.com' },
    });
    expect(res.data.createWorkspace.__typename).toBe('ForbiddenError');
    await closed.app.yoga.dispose();
  });
});

describe('authentication', () => {
  it('without a key, viewer is null and member-only mutations ask for authentication', async () => {
    expect((await t.gql(VIEWER)).data.viewer).toBeNull();
    const res = await t.gql('mutation { createApiKey { __typename } }');
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an unknown or malformed key is a 401 with a clear message', async () => {
    const unknown = await t.gql(VIEWER, {}, 'aw_live_doesnotexist');
    expect(unknown.status).toBe(401);
    expect(unknown.errors?.[0]).toMatchObject({ message: 'Unknown API key', extensions: { code: 'UNAUTHENTICATED' } });
    const res = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toContain('Malformed Authorization header');
  });

  it('createApiKey shows the key once; revokeApiKey stops it at once; lastUsedAt is recorded', async () => {
    const ws = await createWorkspaceFixture(t.app.db.prisma);
    const created = await t.gql(
      `mutation { createApiKey(input: { name: "ci" }) { __typename ... on CreateApiKeyPayload { secret apiKey { id name prefix lastUsedAt revokedAt } } } }`,
      {},
      ws.ownerKey,
    );
    const { secret, apiKey } = created.data.createApiKey;
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey.lastUsedAt).toBeNull();

    expect((await t.gql(VIEWER, {}, secret)).data.viewer.__typename).toBe('Member');
    const used = await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id.slice(4) } });
    expect(used.lastUsedAt).not.toBeNull();

    const revoked = await t.gql(
      `mutation($id: ID!) { revokeApiKey(id: $id) { __typename ... on RevokeApiKeyPayload { apiKey { revokedAt } } } }`,
      { id: apiKey.id },
      ws.ownerKey,
    );
    expect(revoked.data.revokeApiKey.apiKey.revokedAt).not.toBeNull();
    const after = await t.gql(VIEWER, {}, secret);
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.message).toMatch(/revoked/);
    // The owner's own key still works.
    expect((await t.gql(VIEWER, {}, ws.ownerKey)).data.viewer.__typename).toBe('Member');
  });

  it('a MEMBER cannot revoke someone else’s key; another workspace cannot even find it', async () => {
    const ws = await createWorkspaceFixture(t.app.db.prisma);
    const other = await createWorkspaceFixture(t.app.db.prisma);
    const member = await createMemberFixture(t.app.db.prisma, ws.workspaceId, 'MEMBER');
    const ownerKey = await t.app.db.prisma.apiKey.findFirstOrThrow({ where: { memberId: ws.ownerId } });
    const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }`;
    expect((await t.gql(REVOKE, { id: `key_${ownerKey.id}` }, member.key)).data.revokeApiKey.__typename).toBe(
      'ForbiddenError',
    );
    expect((await t.gql(REVOKE, { id: `key_${ownerKey.id}` }, other.ownerKey)).data.revokeApiKey.__typename).toBe(
      'NotFoundError',
    );
    const still = await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: ownerKey.id } });
    expect(still.revokedAt).toBeNull();
  });

  it('addMember: admins add members with a role; MEMBERs cannot; duplicates conflict', async () => {
    const ws = await createWorkspaceFixture(t.app.db.prisma);
    const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { __typename ... on AddMemberPayload { apiKey member { role } } } }`;
    const email = `new-${uid()}@example.com`;
    const added = await t.gql(ADD, { input: { name: 'New', email, role: 'ADMIN' } }, ws.ownerKey);
    expect(added.data.addMember).toMatchObject({ __typename: 'AddMemberPayload', member: { role: 'ADMIN' } });
    expect((await t.gql(ADD, { input: { name: 'Again', email } }, ws.ownerKey)).data.addMember.__typename).toBe(
      'ConflictError',
    );
    const member = await createMemberFixture(t.app.db.prisma, ws.workspaceId, 'MEMBER');
    const denied = await t.gql(ADD, { input: { name: 'X', email: `x-${uid()}@example.com` } }, member.key);
    expect(denied.data.addMember.__typename).toBe('ForbiddenError');
  });

  it('node() hides another workspace’s members and workspaces', async () => {
    const a = await createWorkspaceFixture(t.app.db.prisma);
    const b = await createWorkspaceFixture(t.app.db.prisma);
    const NODE = `query($id: ID!) { node(id: $id) { __typename id } }`;
    expect((await t.gql(NODE, { id: a.workspaceGid }, a.ownerKey)).data.node).toMatchObject({
      __typename: 'Workspace',
    });
    expect((await t.gql(NODE, { id: a.workspaceGid }, b.ownerKey)).data.node).toBeNull();
    expect((await t.gql(NODE, { id: `mem_${a.ownerId}` }, b.ownerKey)).data.node).toBeNull();
    expect((await t.gql(NODE, { id: 'garbage' }, b.ownerKey)).data.node).toBeNull();
  });
});
