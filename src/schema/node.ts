import { brandWithType } from '@pothos/core';
import { isDomainError } from '../services/kernel/errors.ts';
import { decodeAnyId } from '../services/kernel/ids.ts';
import { builder } from './builder.ts';
import type { Context } from './context.ts';

/**
 * `node(id)` with the same visibility rules as every other entry point: each domain file registers
 * a loader that returns the object only when the caller may see it (style.md: one visibility
 * function per domain, used everywhere). Unknown types and invisible objects are both null.
 */
type NodeLoader = (ctx: Context, id: string) => Promise<object | null>;
const loaders = new Map<string, NodeLoader>();

export function registerNodeLoader(typename: string, loader: NodeLoader) {
  loaders.set(typename, loader);
}

export function nodeTypenames(): string[] {
  return [...loaders.keys()];
}

builder.queryField('node', (t) =>
  t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description:
      'Fetches any object by its public id (e.g. `job_...`), or null when it does not exist or you may not see it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const decoded = decodeAnyId(String(id));
      const loader = decoded && loaders.get(decoded.typename);
      if (!decoded || !loader) return null;
      try {
        const found = await loader(ctx, decoded.id);
        if (!found) return null;
        brandWithType(found, decoded.typename as never);
        return found;
      } catch (error) {
        if (isDomainError(error) && error.name === 'NotFoundError') return null;
        throw error;
      }
    },
  }),
);
