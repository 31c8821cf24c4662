import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS for the API surfaces (/graphql with its SSE, the /api REST mirror, /mcp), in one place in
 * front of them all (yoga's own CORS is off: it echoes any Origin with credentials allowed).
 *
 * Authentication is a Bearer header, never a cookie, so no response ever allows credentials: a
 * page on another origin can only do what its own key allows. `CORS_ORIGINS` says which origins'
 * pages may read our answers: `*` (default), a list (the caller's Origin is echoed when listed,
 * with `Vary: Origin`), or `none`. Preflights are answered here, before the rate limit and
 * before authentication (a preflight carries no Authorization header).
 */

const ALLOW_METHODS = 'GET, POST, OPTIONS';
/** What clients send: the key, JSON, SSE resumption, MCP's headers, request ids. */
const ALLOW_HEADERS =
  'authorization, content-type, accept, x-request-id, last-event-id, mcp-protocol-version, mcp-session-id';
/** What browser code may read from our answers (rate limits, request ids, auth challenges). */
const EXPOSE_HEADERS = 'x-request-id, retry-after, www-authenticate, mcp-session-id';
const MAX_AGE_SECONDS = '600';

export interface Cors {
  /**
   * Sets the CORS headers on `res` for a request from another origin. Returns true when it answered
   * the request itself (a preflight), false when the request goes on to its route.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createCors(setting: string): Cors {
  const any = setting === '*';
  const listed = new Set(
    any || setting === 'none'
      ? []
      : setting
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
  );
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (origin) {
        if (any) res.setHeader('access-control-allow-origin', '*');
        else if (listed.has(origin)) res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', any ? 'Access-Control-Request-Headers' : 'Origin, Access-Control-Request-Headers');
        const allowed = any || listed.has(origin);
        if (allowed) res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
        if (allowed && preflight) {
          // The headers asked for are granted (harmless without credentials; GraphQL clients add
          // their own), else the ones our clients use.
          const asked = req.headers['access-control-request-headers'];
          res.setHeader('access-control-allow-methods', ALLOW_METHODS);
          res.setHeader(
            'access-control-allow-headers',
            asked && /^[\w\-, ]{1,1000}$/.test(asked) ? asked : ALLOW_HEADERS,
          );
          res.setHeader('access-control-max-age', MAX_AGE_SECONDS);
        }
      }
      if (!preflight) return false;
      // A disallowed origin gets the same empty 204 without the headers: the browser blocks it.
      res.writeHead(204, { 'content-length': '0' });
      res.end();
      return true;
    },
  };
}
