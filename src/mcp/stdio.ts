/**
 * `npm run mcp`: the Agentwork MCP server over stdio, for MCP clients that spawn their servers
 * (Claude Desktop, Claude Code, Mastra, ...). It talks to a running Agentwork server's GraphQL API:
 *
 *   AGENTWORK_URL=http://127.0.0.1:4000 AGENTWORK_API_KEY=aw_live_... npm run mcp
 *
 * stdout carries the MCP protocol only; diagnostics go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { AgentworkClient } from '../sdk/index.ts';
import { createMcpServer } from './server.ts';

async function main() {
  const url = process.env.AGENTWORK_URL ?? 'http://127.0.0.1:4000';
  const apiKey = process.env.AGENTWORK_API_KEY;
  if (!apiKey) {
    console.error('agentwork-mcp: set AGENTWORK_API_KEY to your agent key (aw_live_...).');
    process.exit(1);
  }
  const client = new AgentworkClient({ url, apiKey });
  const server = createMcpServer(client);
  const transport = new StdioServerTransport();
  const shutdown = () => void client.close().finally(() => process.exit(0));
  transport.onclose = shutdown;
  process.stdin.on('end', shutdown); // the client went away
  await server.connect(transport);
  console.error(`agentwork-mcp: serving ${url} over stdio`);
}

main().catch((error) => {
  console.error(`agentwork-mcp failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
