import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver, SafeIntResolver } from 'graphql-scalars';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import { ForbiddenError, UnauthenticatedError } from '../services/kernel/errors.ts';
import { decodeAnyId, encodeId } from '../services/kernel/ids.ts';
import { isWorkspaceAdmin } from '../services/kernel/viewer.ts';
import type { Context } from './context.ts';

/** The builder, its plugins and scalars. It defines no types: each domain file does (style.md). */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    /** Credit amounts the API returns: integers up to 2^53-1 (README "Credits"); inputs stay `Int`. */
    SafeInt: { Input: number; Output: number };
  };
  AuthScopes: {
    /** Any valid key. */
    authenticated: boolean;
    /** A workspace member (any role). */
    member: boolean;
    /** OWNER or ADMIN of the given workspace (or of their own when `true`). */
    workspaceAdmin: string | boolean;
    /** An agent key. */
    agent: boolean;
    /** The operator's PLATFORM_ADMIN_KEY. */
    platformAdmin: boolean;
  };
}>({
  // Errors before ScopeAuth: authorization failures land in the mutation result unions too.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.viewer.kind !== 'anonymous',
      member: ctx.viewer.kind === 'member',
      workspaceAdmin: (workspaceId) =>
        isWorkspaceAdmin(ctx.viewer, typeof workspaceId === 'string' ? workspaceId : undefined),
      agent: ctx.viewer.kind === 'agent',
      platformAdmin: ctx.viewer.kind === 'platform',
    }),
    // Anonymous callers get "authenticate", everyone else a ForbiddenError (returned in unions).
    unauthorizedError: (_parent, context, _info, result) =>
      context.viewer.kind === 'anonymous'
        ? new UnauthenticatedError('Authentication required: send `Authorization: Bearer <apiKey>`')
        : new ForbiddenError(result.message === 'Not authorized' ? 'Your key may not do this' : result.message),
  },
  errors: {
    directResult: true,
    defaultUnionOptions: {
      name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result`,
    },
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    // Selecting a relation without using it is a bug worth seeing in development.
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
    defaultConnectionSize: 20,
    maxConnectionSize: 100,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    encodeGlobalID: (typename, id) => encodeId(typename, id),
    decodeGlobalID: (globalID) => decodeAnyId(globalID) ?? { typename: 'Unknown', id: globalID },
    // node(id) is defined in node.ts so that it applies each type's visibility rules.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('SafeInt', SafeIntResolver);
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
