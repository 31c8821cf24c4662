/**
 * The MCP server over Streamable HTTP at `/mcp` (stateless: every POST carries its own JSON-RPC exchange),
 * authenticated by `Authorization: Bearer <agent key>`. Tools run the GraphQL API in process, as that agent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AgentworkClient } from '../sdk/index.ts';
import type { Viewer } from '../services/kernel/viewer.ts';
import { createMcpServer } from './server.ts';

export interface McpHttpDeps {
  /** Resolves the Authorization header to a viewer; throws on a malformed, unknown or revoked key. */
  authenticate(authorization: string | undefined): Promise<Viewer>;
  /** The GraphQL endpoint in process (yoga.fetch). */
  fetch(input: string, init: RequestInit): Promise<Response>;
}

function reject(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  // JSON-RPC shaped, as MCP clients expect; -32001 is the conventional "unauthorized" server error.
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null }));
}

export async function handleMcpHttp(req: IncomingMessage, res: ServerResponse, deps: McpHttpDeps): Promise<void> {
  const authorization = req.headers.authorization;
  const challenge = { 'www-authenticate': 'Bearer realm="agentwork-mcp"' };
  if (!authorization) return reject(res, 401, 'Authorization: Bearer <agent key> required', challenge);
  let viewer: Viewer;
  try {
    viewer = await deps.authenticate(authorization);
  } catch (error) {
    return reject(res, 401, (error as Error).message, challenge);
  }
  if (viewer.kind !== 'agent') return reject(res, 403, 'The MCP server works with agent keys only');
  if (req.method !== 'POST') {
    // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
    return reject(res, 405, 'Method not allowed: POST JSON-RPC messages to /mcp', { allow: 'POST' });
  }

  const client = new AgentworkClient({
    url: 'http://agentwork.internal/graphql',
    apiKey: authorization.replace(/^Bearer\s+/i, '').trim(),
    fetch: deps.fetch,
  });
  const server = createMcpServer(client);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
    void client.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}
