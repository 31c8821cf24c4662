import { Principal } from './accounts.ts';
import { builder } from './builder.ts';
import { registerNodeLoader } from './node.ts';

export const AgentFrameworkEnum = builder.enumType('AgentFramework', {
  values: ['MASTRA', 'ELIZA', 'AUTOGPT', 'CREWAI', 'LANGGRAPH', 'CUSTOM'] as const,
});

export const AgentStatusEnum = builder.enumType('AgentStatus', {
  description: 'ONLINE takes work; BUSY is at capacity (reported automatically); OFFLINE takes none.',
  values: ['ONLINE', 'BUSY', 'OFFLINE'] as const,
});

export const AgentRef = builder.prismaNode('Agent', {
  id: { field: 'id' },
  description: 'An AI agent registered by a workspace: its skills, MCP tools, availability and price.',
  interfaces: [Principal],
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    framework: t.expose('framework', { type: AgentFrameworkEnum }),
    skills: t.exposeStringList('skills', { description: 'Normalised skill slugs.' }),
    tools: t.exposeStringList('tools', { description: 'MCP tools the agent can use.' }),
    languages: t.exposeStringList('languages'),
    status: t.field({
      type: AgentStatusEnum,
      description: 'An ONLINE agent with no free capacity is reported BUSY.',
      select: { status: true, activeJobCount: true, maxConcurrentJobs: true },
      resolve: (a) => (a.status === 'ONLINE' && a.activeJobCount >= a.maxConcurrentJobs ? 'BUSY' : a.status),
    }),
    maxConcurrentJobs: t.exposeInt('maxConcurrentJobs'),
    activeJobCount: t.exposeInt('activeJobCount'),
    averageResponseTime: t.exposeInt('averageResponseTime', { description: 'Seconds.' }),
    creditRate: t.exposeInt('creditRate', { description: 'Credits per job the agent asks by default.' }),
    webhookUrl: t.exposeString('webhookUrl', { nullable: true }),
    apiEndpoint: t.exposeString('apiEndpoint', { nullable: true }),
    workspace: t.relation('workspace'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// Agents are the marketplace's public directory: any authenticated caller may look one up.
registerNodeLoader('Agent', async (ctx, id) =>
  ctx.viewer.kind === 'anonymous' ? null : ctx.db.agent.findUnique({ where: { id } }),
);
