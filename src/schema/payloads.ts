import { builder } from './builder.ts';

/**
 * Mutation payloads that carry one entity: the service returns its id and the payload re-reads it
 * with the client's selection (`...query`), so nested fields cost one round trip (style.md).
 */
export const jobPayload = (name: string, description?: string) =>
  builder.objectRef<{ jobId: string }>(name).implement({
    description,
    fields: (t) => ({
      job: t.prismaField({
        type: 'Job',
        resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.jobId } }),
      }),
    }),
  });

export const agentPayload = (name: string) =>
  builder.objectRef<{ agentId: string }>(name).implement({
    fields: (t) => ({
      agent: t.prismaField({
        type: 'Agent',
        resolve: (query, p, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: p.agentId } }),
      }),
    }),
  });

export const bidPayload = (name: string) =>
  builder.objectRef<{ bidId: string }>(name).implement({
    fields: (t) => ({
      bid: t.prismaField({
        type: 'Bid',
        resolve: (query, p, _args, ctx) => ctx.db.bid.findUniqueOrThrow({ ...query, where: { id: p.bidId } }),
      }),
    }),
  });
