/**
 * How to get a first API key from a running server: the `createWorkspace` mutation, as a curl
 * command to copy. The CLI cannot do it while `npm start` holds the embedded database (one process
 * per PGlite directory), so the server's start-up hint and the CLI's refusal both print this.
 */
export interface FirstKeyInput {
  name: string;
  ownerName: string;
  ownerEmail: string;
}

const MUTATION =
  'mutation ($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { __typename ' +
  '... on CreateWorkspacePayload { apiKey workspace { id } } ... on ValidationError { issues { path message } } } }';

/** Quotes a string for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The base URL a local client reaches a server bound to `host` on. */
export function localUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/**
 * A one-line curl command that creates a workspace on the server at `baseUrl` and prints its
 * owner's key. With closed signup the platform admin key is needed (`$PLATFORM_ADMIN_KEY`).
 */
export function createWorkspaceCurl(
  baseUrl: string,
  input: FirstKeyInput = { name: 'Acme', ownerName: 'You', ownerEmail: 'you@example.com' },
  options: { allowSignup?: boolean } = {},
): string {
  const body = JSON.stringify({ query: MUTATION, variables: { input } });
  const auth = options.allowSignup === false ? ` -H "authorization: Bearer $PLATFORM_ADMIN_KEY"` : '';
  return `curl -s ${baseUrl}/graphql -H 'content-type: application/json'${auth} -d ${shellQuote(body)}`;
}
